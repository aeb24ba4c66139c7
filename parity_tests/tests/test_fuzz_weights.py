"""A deterministic fuzz of the weight surfaces: ``.safetensors`` files (random corruption,
truncation, wrong dtypes/shapes/keys, NaN/Inf, no tensors, the other layout), the converters
behind every ``from_scratch`` (mixed, integer, complex dtypes; missing, extra, mis-shaped and
non-array entries), and ``OnnxModel`` (corrupt files, hostile inputs).

Every trial must end in one of two ways:

- a **correct result**: the loaded weights meet the loader's contract (the template's names,
  shapes and dtype, finite values; a module whose ``scratch_params()`` give back exactly what
  went in; ONNX outputs equal to the intact model's), or
- a **handled refusal**: a ``ValueError``/``TypeError``/``KeyError`` raised *by dlparity's own
  code* (the raising frame is in ``torch_ref/``, ``scratch/`` or ``parity_tests/``) whose message
  names the file, the argument or the key.

A raw error from inside NumPy, torch, onnxruntime or safetensors, or a silent wrong result, is a
failure. The handled fraction is printed; the test asserts that every trial was handled.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from scratch.cnn import ConvNetConfig
from torch_ref.anomaly import GaussianDetector
from torch_ref.cnn import ConvNet
from torch_ref.deep import DeepNetwork
from torch_ref.kmeans import KMeans
from torch_ref.rnn import SequenceModel

pytest.importorskip("safetensors")
from scratch._safetensors import load_params, save_params  # noqa: E402
from torch_ref._safetensors import (  # noqa: E402
    load_scratch_file,
    load_state_dict_file,
    save_state_dict_file,
)

SEED = 20
TRIALS = 320
ROOT = Path(__file__).resolve().parents[2]
OWN = tuple(ROOT / d for d in ("torch_ref", "scratch", "parity_tests"))
F64 = torch.float64
CONV = ConvNetConfig(input_shape=(6, 5, 2), channels=(3, 4), n_y=3)


class Unhandled(AssertionError):
    """A trial that ended in a raw error or a wrong result."""


def _own_error(err: BaseException, names: tuple[str, ...]) -> bool:
    """Raised by dlparity's own code, of the documented families, naming one of ``names``."""
    if not isinstance(err, (ValueError, TypeError, KeyError)) or isinstance(err, Unhandled):
        return False
    where = Path(traceback.extract_tb(err.__traceback__)[-1].filename).resolve()
    if not any(where.is_relative_to(own) for own in OWN) or where == Path(__file__).resolve():
        return False
    return any(name in str(err) for name in names)


# --- models and their parameters -------------------------------------------------------------
def _models() -> list[tuple[str, Callable[[], torch.nn.Module], Callable[..., torch.nn.Module]]]:
    g = torch.Generator().manual_seed(0)
    km = KMeans(3, 4, dtype=F64)
    km.centroids.copy_(torch.randn(3, 4, generator=g, dtype=F64))
    det = GaussianDetector(4, dtype=F64).fit(torch.randn(30, 4, generator=g, dtype=F64))
    return [
        (
            "deep",
            lambda: DeepNetwork([3, 4, 2], "tanh", "softmax", "xavier", g, dtype=F64),
            lambda p, **kw: DeepNetwork.from_scratch(p, "tanh", "softmax", **kw),
        ),
        (
            "rnn",
            lambda: SequenceModel(3, 4, 2, "rnn", generator=g, dtype=F64),
            lambda p, **kw: SequenceModel.from_scratch(p, "rnn", **kw),
        ),
        (
            "lstm",
            lambda: SequenceModel(3, 4, 2, "lstm", generator=g, dtype=F64),
            lambda p, **kw: SequenceModel.from_scratch(p, "lstm", **kw),
        ),
        (
            "convnet",
            lambda: ConvNet.from_config(CONV, g, dtype=F64),
            lambda p, **kw: ConvNet.from_scratch(p, CONV, **kw),
        ),
        ("kmeans", lambda: km, KMeans.from_scratch),
        ("gaussian", lambda: det, GaussianDetector.from_scratch),
    ]


MODELS = _models()


def _check_params(got: dict[str, np.ndarray], like: dict[str, np.ndarray], what: str) -> None:
    """The contract of a successful load: the template's names, shapes, one float dtype, finite."""
    if sorted(got) != sorted(like):
        raise Unhandled(f"{what}: loaded names {sorted(got)} != {sorted(like)}")
    for k, a in got.items():
        if a.shape != like[k].shape or a.dtype != like[k].dtype or not np.isfinite(a).all():
            raise Unhandled(
                f"{what}: {k} loaded as {a.shape} {a.dtype} (finite: "
                f"{bool(np.isfinite(a).all())}), expected {like[k].shape} {like[k].dtype}"
            )


# --- mutations -------------------------------------------------------------------------------
def _mutate_params(rng: np.random.Generator, params: dict[str, np.ndarray]) -> dict:
    params = {k: v.copy() for k, v in params.items()}
    key = sorted(params)[rng.integers(len(params))]
    a = params[key]
    kind = rng.integers(14)
    if kind == 0:
        params[key] = a.astype(rng.choice(["int32", "int64", "uint8", "bool", "complex128"]))
    elif kind == 1:
        params[key] = a.astype(rng.choice(["float16", "float32"]))  # mixed with the others
    elif kind == 2:
        a.flat[rng.integers(a.size)] = rng.choice([np.nan, np.inf, -np.inf])
    elif kind == 3:
        del params[key]
    elif kind == 4:
        params[rng.choice(["W9", "extra", "layers.0.weight", "weight"])] = a
    elif kind == 5:
        params[key] = a.T
    elif kind == 6:
        params[key] = a.reshape(-1)
    elif kind == 7:
        params[key] = a[..., None]
    elif kind == 8:
        params[key] = [None, "W", 3, 2.5, [[1, 2], [3]], object()][rng.integers(6)]
    elif kind == 9:
        params = {}
    elif kind == 10:
        params[key] = np.zeros((0,) + a.shape[1:])
    elif kind == 11:
        params = {k: v.astype(np.float32) for k, v in params.items()}  # consistent: must work
    elif kind == 12:
        params[key] = torch.from_numpy(a.copy())  # a tensor is an array too
    return params


def _corrupt(rng: np.random.Generator, raw: bytes) -> bytes:
    kind = rng.integers(7)
    if kind == 0:
        return raw[: rng.integers(0, len(raw))]
    if kind == 1:
        b = bytearray(raw)
        for _ in range(rng.integers(1, 6)):
            b[rng.integers(min(len(b), 120))] = rng.integers(256)  # header bytes
        return bytes(b)
    if kind == 2:
        b = bytearray(raw)
        for _ in range(rng.integers(1, 6)):
            b[rng.integers(len(b))] = rng.integers(256)  # anywhere (data bytes too)
        return bytes(b)
    if kind == 3:
        return raw + rng.bytes(rng.integers(1, 40))
    if kind == 4:
        return rng.bytes(rng.integers(0, 200))
    if kind == 5:
        return (len(raw)).to_bytes(8, "little") + raw[8:]  # a header length past the end
    return raw  # intact: must load correctly


# --- trials ----------------------------------------------------------------------------------
def _trial_file(rng: np.random.Generator, tmp: Path, i: int) -> None:
    name, make, _ = MODELS[rng.integers(len(MODELS))]
    module = make()
    params = module.scratch_params()
    path = tmp / f"t{i}.safetensors"
    names = (path.name, "params", *params)
    surface = rng.integers(6)
    try:
        if surface == 0:  # a scratch file, corrupted, read by NumPy
            save_params(params, path)
            path.write_bytes(_corrupt(rng, path.read_bytes()))
            _check_params(load_params(path, like=params), params, f"{name} load_params")
        elif surface == 1:  # the same into a torch module
            save_params(params, path)
            path.write_bytes(_corrupt(rng, path.read_bytes()))
            loaded = load_scratch_file(make(), path).scratch_params()
            _check_params(loaded, params, f"{name} load_scratch_file")
        elif surface == 2:  # a state_dict file, corrupted
            save_state_dict_file(module, path)
            path.write_bytes(_corrupt(rng, path.read_bytes()))
            loaded = load_state_dict_file(make(), path).state_dict()
            for k, t in module.state_dict().items():
                if loaded[k].shape != t.shape or loaded[k].dtype != t.dtype:
                    raise Unhandled(f"{name}: {k} loaded as {loaded[k].shape} {loaded[k].dtype}")
                if not bool(torch.isfinite(loaded[k]).all()) and k not in ("epsilon",):
                    raise Unhandled(f"{name}: {k} loaded non-finite")
        elif surface == 3:  # mutated parameters written raw (no dlparity metadata), then loaded
            from safetensors.numpy import save_file

            mutated = _mutate_params(rng, params)
            try:
                arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in mutated.items()}
                save_file(arrays, str(path))
            except Exception:
                return  # safetensors itself cannot write it: nothing to load
            loaded = load_params(path)
            for k, a in loaded.items():
                if a.dtype not in (np.float32, np.float64) or not np.isfinite(a).all() or "." in k:
                    raise Unhandled(f"{name}: load_params returned {k} {a.dtype} {a.shape}")
            back = load_scratch_file(make(), path).scratch_params()
            if sorted(back) != sorted(loaded) or any(back[k].tobytes() != loaded[k].tobytes() for k in back):
                raise Unhandled(f"{name}: load_scratch_file accepted {sorted(loaded)} but holds other values")
        elif surface == 4:  # the other layout, without metadata
            from safetensors.numpy import save_file as save_numpy
            from safetensors.torch import save_file as save_torch

            if rng.integers(2):
                save_torch({k: t.contiguous() for k, t in module.state_dict().items()}, str(path))
                if any("." in k or k in ("weight", "bias") for k in module.state_dict()):
                    load_params(path)  # must refuse: torch keys
                    raise Unhandled(f"{name}: a torch state_dict file was read as course parameters")
            else:
                save_numpy(params, str(path))
                if set(params) != set(module.state_dict()):
                    load_state_dict_file(make(), path)
                    raise Unhandled(f"{name}: course parameters were read as a state_dict")
        else:  # an empty file, or one holding no tensors
            from safetensors.numpy import save_file

            if rng.integers(2):
                save_file({}, str(path))
            else:
                path.write_bytes(b"")
            loader = [
                load_params,
                lambda p: load_scratch_file(make(), p),
                lambda p: load_state_dict_file(make(), p),
            ][rng.integers(3)]
            loader(path)
            raise Unhandled(f"{name}: a file without tensors loaded")
    except Unhandled:
        raise
    except Exception as err:
        if not _own_error(err, names):
            raise Unhandled(
                f"{name} file surface {surface}: {type(err).__name__} from "
                f"{traceback.extract_tb(err.__traceback__)[-1].filename}: {err}"
            ) from err


def _trial_convert(rng: np.random.Generator) -> None:
    name, make, rebuild = MODELS[rng.integers(len(MODELS))]
    params = make().scratch_params()
    mutated = _mutate_params(rng, params)
    names = ("params", "centroids", "dtype", "covariance", *params, *map(str, mutated))
    try:
        module = rebuild(mutated)
        back = module.scratch_params()
        given = {k: np.asarray(v) for k, v in mutated.items()}
        # exactly what went in (float16 comes back widened to float32, as documented)
        widened = {np.dtype(np.float16): np.dtype(np.float32)}
        if sorted(back) != sorted(given) or any(
            back[k].dtype != widened.get(given[k].dtype, given[k].dtype)
            or back[k].astype(given[k].dtype).tobytes() != np.ascontiguousarray(given[k]).tobytes()
            for k in back
        ):
            raise Unhandled(f"{name}: from_scratch accepted {sorted(given)} but scratch_params() differ")
    except Unhandled:
        raise
    except Exception as err:
        if not _own_error(err, names):
            raise Unhandled(
                f"{name} from_scratch: {type(err).__name__} from "
                f"{traceback.extract_tb(err.__traceback__)[-1].filename}: {err}"
            ) from err


def _trial_onnx(
    rng: np.random.Generator, tmp: Path, i: int, onnx_file: Path, reference: np.ndarray, X: np.ndarray
) -> None:
    from torch_ref._onnx import OnnxModel

    path = tmp / f"t{i}.onnx"
    corrupt = rng.integers(2) == 0
    names = (path.name, "X", "'x'")
    try:
        if corrupt:
            raw = onnx_file.read_bytes()
            kind = rng.integers(4)
            data = (
                raw[: rng.integers(len(raw))]
                if kind == 0
                else rng.bytes(rng.integers(1, 300))
                if kind == 1
                else raw + rng.bytes(rng.integers(1, 30))
                if kind == 2
                else raw
            )
            if kind == 3:
                import onnx

                model = onnx.load_from_string(raw)
                for o in model.opset_import:
                    if o.domain in ("", "ai.onnx"):
                        o.version = int(rng.choice([0, 99, 1000, 23]))
                data = model.SerializeToString()
            path.write_bytes(data)
            out = OnnxModel(path)(X)
            if out.shape != reference.shape or not np.allclose(out, reference, rtol=1e-5, atol=1e-6):
                raise Unhandled(f"{path.name}: a corrupt file served a different answer")
        else:
            model = OnnxModel(onnx_file)
            kind = rng.integers(9)
            bad = X.copy()
            if kind == 0:
                bad.flat[rng.integers(bad.size)] = rng.choice([np.nan, np.inf, -np.inf])
            elif kind == 1:
                bad = bad.astype(rng.choice(["float64", "int64", "float16", "bool"]))
            elif kind == 2:
                bad = bad.T
            elif kind == 3:
                bad = bad[:, : rng.integers(0, 4)]
            elif kind == 4:
                bad = bad[None]
            elif kind == 5:
                bad = bad[:0]
            elif kind == 6:
                bad = bad.astype(object)
            elif kind == 7:
                bad = bad.reshape(-1)
            out = model(bad)
            if kind != 8 or not np.allclose(out, reference, rtol=1e-5, atol=1e-6):
                raise Unhandled(f"input kind {kind}: served {out.shape} without a word")
    except Unhandled:
        raise
    except Exception as err:
        if not _own_error(err, names):
            raise Unhandled(
                f"onnx ({'file' if corrupt else 'input'}): {type(err).__name__} from "
                f"{traceback.extract_tb(err.__traceback__)[-1].filename}: {err}"
            ) from err


def test_every_malformed_weight_input_is_handled(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(SEED)
    onnx_file = reference = X = None
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401

        from torch_ref._onnx import OnnxModel, export_onnx

        net = DeepNetwork([4, 5, 3], "tanh", "softmax", generator=torch.Generator().manual_seed(0))
        onnx_file = export_onnx(net, torch.zeros(2, 4), tmp_path / "net.onnx", method="predict_proba")
        X = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
        reference = OnnxModel(onnx_file)(X)
    except ImportError:
        pass
    failures: list[str] = []
    counts = {"file": 0, "convert": 0, "onnx": 0}
    for i in range(TRIALS):
        surface = ["file", "convert", "onnx"][rng.integers(3)]
        if surface == "onnx" and onnx_file is None:
            surface = "convert"
        counts[surface] += 1
        try:
            if surface == "file":
                _trial_file(rng, tmp_path, i)
            elif surface == "convert":
                _trial_convert(rng)
            else:
                _trial_onnx(rng, tmp_path, i, onnx_file, reference, X)
        except Unhandled as err:
            failures.append(f"trial {i} ({surface}): {err}")
    handled = TRIALS - len(failures)
    with capsys.disabled():
        print(f"\nweights fuzz: {handled}/{TRIALS} handled ({handled / TRIALS:.1%}); trials {counts}")
    assert not failures, f"{len(failures)} of {TRIALS} trials unhandled:\n" + "\n".join(failures[:20])
