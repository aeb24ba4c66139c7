"""Every ``torch_ref`` model round-trips its weights through every documented path, and every
loader is strict: NaN/Inf, the other layout, empty files, mixed or non-floating dtypes, BF16/F8
tensors, broken ONNX files and non-finite ONNX inputs are refused with the project's own errors,
naming the file, the tensor or the argument.

Round trips (each model, both recurrent cells): scratch params -> ``from_scratch`` ->
``scratch_params`` (bitwise); ``save_scratch_file`` -> ``load_scratch_file``;
``save_state_dict_file`` -> ``load_state_dict_file``; ``module_function`` runs the module with
its parameters passed in and gives the module's own output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from parity_tests.torch_functional import module_function
from scratch.cnn import ConvNetConfig
from scratch.rl.dqn import DQNConfig
from torch_ref.anomaly import Autoencoder, GaussianDetector
from torch_ref.cnn import ConvNet
from torch_ref.deep import DeepNetwork
from torch_ref.dense import Dense
from torch_ref.kmeans import KMeans
from torch_ref.layout import load_scratch_params, params_to_state_dict, state_dict_to_params
from torch_ref.logreg import LogisticRegression
from torch_ref.regression import LinearRegression, MLPRegressor
from torch_ref.rl import DQNAgent, ReinforceAgent
from torch_ref.rnn import SequenceModel
from torch_ref.shallow import ShallowNetwork

pytest.importorskip("safetensors")
from scratch._safetensors import load_params, save_params  # noqa: E402
from torch_ref._safetensors import (  # noqa: E402
    load_pt_state_dict,
    load_scratch_file,
    load_state_dict_file,
    save_scratch_file,
    save_state_dict_file,
)

F64 = torch.float64
CONV = ConvNetConfig(input_shape=(6, 5, 2), channels=(3, 4), n_y=3)
DQN = DQNConfig(layer_dims=(4, 5, 2))
REINFORCE = {
    "layer_dims": (4, 5, 2),
    "activation": "tanh",
    "initializer": "xavier",
    "gamma": 0.99,
    "learning_rate": 0.01,
    "optimizer": "adam",
    "entropy_beta": 0.01,
    "baseline_rate": 0.05,
    "normalize": True,
}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def _dense(seed: int) -> Dense:
    layer = Dense(3, 4, dtype=F64)
    layer.weight.copy_(torch.randn(4, 3, generator=_gen(seed), dtype=F64))
    layer.bias.copy_(torch.randn(4, generator=_gen(seed + 100), dtype=F64))
    return layer


def _kmeans(seed: int) -> KMeans:
    km = KMeans(3, 4, dtype=F64)
    km.centroids.copy_(torch.randn(3, 4, generator=_gen(seed), dtype=F64))
    return km


def _gaussian(covariance_type: str) -> Callable[[int], GaussianDetector]:
    def make(seed: int) -> GaussianDetector:
        x = torch.randn(30, 4, generator=_gen(seed), dtype=F64)
        return GaussianDetector(4, covariance_type, dtype=F64).fit(x)

    return make


@dataclass(frozen=True)
class Model:
    """A model: ``make(seed)`` a fresh one, ``rebuild(params)`` its ``from_scratch``, an input."""

    name: str
    make: Callable[[int], nn.Module]
    rebuild: Callable[[dict[str, np.ndarray]], nn.Module]
    x: Callable[[], torch.Tensor]


def _rows(m: int, n: int) -> Callable[[], torch.Tensor]:
    return lambda: torch.randn(m, n, generator=_gen(9), dtype=F64)


MODELS = [
    Model("dense", _dense, Dense.from_scratch, _rows(5, 3)),
    Model("logreg", lambda s: LogisticRegression(3, dtype=F64), LogisticRegression.from_scratch, _rows(5, 3)),
    Model(
        "shallow",
        lambda s: ShallowNetwork(3, 4, 2, generator=_gen(s), dtype=F64),
        ShallowNetwork.from_scratch,
        _rows(5, 3),
    ),
    Model(
        "deep",
        lambda s: DeepNetwork([3, 4, 2], "tanh", "softmax", "xavier", _gen(s), dtype=F64),
        lambda p: DeepNetwork.from_scratch(p, "tanh", "softmax"),
        _rows(5, 3),
    ),
    Model(
        "linear-regression",
        lambda s: LinearRegression(3, 2, dtype=F64),
        LinearRegression.from_scratch,
        _rows(5, 3),
    ),
    Model(
        "mlp-regressor",
        lambda s: MLPRegressor([3, 4, 2], "tanh", dtype=F64, generator=_gen(s)),
        lambda p: MLPRegressor.from_scratch(p, "tanh"),
        _rows(5, 3),
    ),
    Model(
        "autoencoder",
        lambda s: Autoencoder([4, 2, 4], generator=_gen(s), dtype=F64),
        Autoencoder.from_scratch,
        _rows(5, 4),
    ),
    Model(
        "convnet",
        lambda s: ConvNet.from_config(CONV, _gen(s), dtype=F64),
        lambda p: ConvNet.from_scratch(p, CONV),
        lambda: torch.randn(2, 2, 6, 5, generator=_gen(9), dtype=F64),
    ),
    *(
        Model(
            f"sequence-{cell}",
            lambda s, c=cell: SequenceModel(3, 4, 2, c, generator=_gen(s), dtype=F64),
            lambda p, c=cell: SequenceModel.from_scratch(p, c),
            lambda: torch.randn(6, 5, 3, generator=_gen(9), dtype=F64),
        )
        for cell in ("rnn", "lstm")
    ),
    Model("kmeans", _kmeans, KMeans.from_scratch, _rows(7, 4)),
    *(
        Model(f"gaussian-{kind}", _gaussian(kind), GaussianDetector.from_scratch, _rows(5, 4))
        for kind in ("diagonal", "full")
    ),
    Model(
        "dqn",
        lambda s: DQNAgent(DQN, _gen(s), dtype=F64),
        lambda p: DQNAgent.from_scratch(p, DQN),
        _rows(5, 4),
    ),
    Model(
        "reinforce",
        lambda s: ReinforceAgent(REINFORCE, _gen(s), dtype=F64),
        lambda p: ReinforceAgent.from_scratch(p, REINFORCE),
        _rows(5, 4),
    ),
]
IDS = [m.name for m in MODELS]


def _same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        assert torch.equal(sa[k], sb[k]) or (torch.isnan(sa[k]).all() and torch.isnan(sb[k]).all()), k


def _same_params(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_scratch_params_from_scratch_scratch_params_is_bitwise(model: Model) -> None:
    module = model.make(1)
    params = module.scratch_params()
    assert params and all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in params.values())
    rebuilt = model.rebuild(params)
    assert type(rebuilt) is type(module)
    _same_params(rebuilt.scratch_params(), params)
    with torch.no_grad():
        x = model.x()
        torch.testing.assert_close(rebuilt(x), module(x), rtol=0, atol=0)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_scratch_file_round_trip(model: Model, tmp_path: Path) -> None:
    module = model.make(1)
    path = save_scratch_file(module, tmp_path / "course.safetensors")
    loaded = load_scratch_file(model.make(2), path)
    _same_params(loaded.scratch_params(), module.scratch_params())
    _same_params(load_params(path), module.scratch_params())  # NumPy reads it without torch


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_state_dict_file_round_trip(model: Model, tmp_path: Path) -> None:
    module = model.make(1)
    path = save_state_dict_file(module, tmp_path / "torch.safetensors")
    _same_state(load_state_dict_file(model.make(2), path), module)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_module_function_runs_the_module_with_its_scratch_parameters(model: Model) -> None:
    module = model.make(1)
    spec = module.param_spec
    fn, layouts = module_function(lambda: model.make(3).to("meta"), spec)
    params = module.scratch_params()
    tensors = {k: torch.from_numpy(layouts[k].to_torch(v)) for k, v in params.items()}
    x = model.x()
    with torch.no_grad():
        expected = module(x)
    got = fn(x, **tensors)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_module_function_of_an_lstm_gives_per_gate_gradients() -> None:
    model = SequenceModel(3, 4, 2, "lstm", generator=_gen(0), dtype=F64)
    fn, _ = module_function(lambda: SequenceModel(3, 4, 2, "lstm", device="meta"), model.param_spec)
    params = {k: torch.from_numpy(v).requires_grad_(True) for k, v in model.scratch_params().items()}
    fn(torch.randn(5, 2, 3, generator=_gen(1), dtype=F64), **params).sum().backward()
    assert params["Wf"].grad.shape == (4, 7) and params["bo"].grad.shape == (4, 1)


# --- refusals --------------------------------------------------------------------------------
def _deep() -> DeepNetwork:
    return DeepNetwork([3, 4, 2], "tanh", "softmax", dtype=F64)


def _deep_params(dtype=np.float64) -> dict[str, np.ndarray]:
    return {
        k: v.astype(dtype)
        for k, v in DeepNetwork([3, 4, 2], "tanh", "softmax", "xavier", _gen(0), dtype=F64)
        .scratch_params()
        .items()
    }


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_everywhere(bad: float, tmp_path: Path) -> None:
    params = _deep_params()
    params["W2"][1, 3] = bad
    match = r"\['W2'\]: 1 non-finite value\(s\).*index \(1, 3\)"
    with pytest.raises(ValueError, match=match):
        DeepNetwork.from_scratch(params, "tanh", "softmax")
    path = save_params(params, tmp_path / "nan.safetensors")
    with pytest.raises(ValueError, match=match):
        load_params(path)
    with pytest.raises(ValueError, match=match):
        load_scratch_file(DeepNetwork([3, 4, 2], "tanh", "softmax", dtype=F64), path)
    assert np.isnan(load_params(path, allow_nonfinite=True)["W2"][1, 3]) == np.isnan(bad)
    net = DeepNetwork.from_scratch(params, "tanh", "softmax", allow_nonfinite=True)
    sd_path = save_state_dict_file(net, tmp_path / "sd.safetensors")
    with pytest.raises(ValueError, match=r"\['layers.1.weight'\]: 1 non-finite"):
        load_state_dict_file(DeepNetwork([3, 4, 2], "tanh", "softmax", dtype=F64), sd_path)
    torch.save(net.state_dict(), tmp_path / "nan.pt")
    with pytest.raises(ValueError, match=r"nan\.pt\['layers\.1\.weight'\]: 1 non-finite"):
        load_pt_state_dict(tmp_path / "nan.pt")
    for model in (SequenceModel, KMeans, GaussianDetector, ConvNet):
        with pytest.raises(ValueError, match="non-finite"):
            if model is SequenceModel:
                p = SequenceModel(3, 4, 2, "lstm", dtype=F64).scratch_params()
                p["bc"][0, 0] = bad
                model.from_scratch(p, "lstm")
            elif model is KMeans:
                model.from_scratch(np.array([[0.0, bad]]))
            elif model is GaussianDetector:
                model.from_scratch({"mu": np.array([0.0, bad]), "var": np.ones(2)})
            else:
                p = ConvNet.from_config(CONV, dtype=F64).scratch_params()
                p["W1"][0, 0, 0, 0] = bad
                model.from_scratch(p, CONV)


def test_an_unfitted_detector_threshold_may_be_nan_in_a_state_dict_file(tmp_path: Path) -> None:
    det = _gaussian("diagonal")(0)
    assert torch.isnan(det.epsilon)
    path = save_state_dict_file(det, tmp_path / "det.safetensors")
    _same_state(load_state_dict_file(GaussianDetector(4, dtype=F64), path), det)
    det.mu[0] = torch.inf
    save_state_dict_file(det, path)
    with pytest.raises(ValueError, match=r"\['mu'\]: 1 non-finite"):
        load_state_dict_file(GaussianDetector(4, dtype=F64), path)


def test_a_torch_state_dict_is_not_course_parameters(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    net = DeepNetwork([3, 4, 2], "tanh", "softmax", dtype=F64)
    save_file(net.state_dict(), str(tmp_path / "plain.safetensors"))  # no dlparity metadata
    with pytest.raises(ValueError, match=r"'torch' layout, not the course's \(keys \['layers.0.bias'"):
        load_params(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match=r"holds a torch state_dict .*load_state_dict_file"):
        load_scratch_file(_deep(), tmp_path / "plain.safetensors")
    save_file(Dense(3, 4).state_dict(), str(tmp_path / "dense.safetensors"))  # keys weight, bias
    with pytest.raises(ValueError, match="'torch' layout"):
        load_params(tmp_path / "dense.safetensors")
    # and the other way: course parameters where a state_dict is expected
    from safetensors.numpy import save_file as save_numpy

    save_numpy(_deep_params(), str(tmp_path / "course.safetensors"))
    with pytest.raises(ValueError, match=r"'course' layout; load it with load_scratch_file.*\['W1'"):
        load_state_dict_file(_deep(), tmp_path / "course.safetensors")


def test_a_file_without_tensors_is_refused(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({}, str(tmp_path / "empty.safetensors"))
    for load in (
        load_params,
        lambda p: load_scratch_file(Dense(3, 4), p),
        lambda p: load_state_dict_file(Dense(3, 4), p),
    ):
        with pytest.raises(ValueError, match=r"empty.safetensors' holds no tensors"):
            load(tmp_path / "empty.safetensors")
    torch.save({}, tmp_path / "empty.pt")
    with pytest.raises(ValueError, match="holds an empty state_dict"):
        load_pt_state_dict(tmp_path / "empty.pt")


@pytest.mark.parametrize(
    "dtype, name",
    [(torch.bfloat16, "BF16"), (torch.float8_e4m3fn, "F8_E4M3"), (torch.float8_e5m2, "F8_E5M2")],
)
def test_bf16_and_f8_tensors_are_named_not_a_numpy_crash(
    dtype: torch.dtype, name: str, tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    save_file(
        {"W": torch.ones(4, 3).to(dtype), "b": torch.zeros(4, 1).to(dtype)}, str(tmp_path / "h.safetensors")
    )
    with pytest.raises(TypeError, match=rf"h.safetensors\['[Wb]'\]: dtype {name}, expected float32 or "):
        load_params(tmp_path / "h.safetensors")
    with pytest.raises(TypeError, match=rf"\['[Wb]'\]: dtype {name} in a course-layout file"):
        load_scratch_file(Dense(3, 4), tmp_path / "h.safetensors")


FLOATING = r"params\['W1'\]: expected a floating array, got dtype "


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda p: p.update(b2=p["b2"].astype(np.float32)), TypeError, r"mixed dtypes \{.*'b2': 'float32'"),
        (lambda p: p.update(W1=p["W1"].astype(np.int64)), TypeError, FLOATING + r"int64 \(integer\)"),
        (lambda p: p.update(W1=p["W1"] > 0), TypeError, FLOATING + "bool"),
        (
            lambda p: p.update(W1=p["W1"] + 1j),
            TypeError,
            FLOATING + r"complex128 \(complex\); its imaginary part",
        ),
        (lambda p: p.clear(), ValueError, r"params: an empty dict holds no parameters"),
    ],
)
def test_from_scratch_refuses_dtypes_it_would_cast(change, error, match) -> None:
    params = _deep_params()
    change(params)
    with pytest.raises(error, match=match):
        DeepNetwork.from_scratch(params, "tanh", "softmax")
    with pytest.raises(error, match=match):
        params_to_state_dict(params, DeepNetwork([3, 4, 2], "tanh", "softmax", device="meta").param_spec)


def test_sequence_models_refuse_what_they_would_cast_or_drop() -> None:
    params = SequenceModel(3, 4, 2, "rnn", dtype=F64).scratch_params()
    for bad, match in [
        (params["Wax"].astype(np.int32), r"got dtype int32 \(integer\)"),
        (params["Wax"] > 0, "got dtype bool"),
        (params["Wax"] * (1 + 1j), "got dtype complex128.*imaginary part would be lost"),
    ]:
        with pytest.raises(TypeError, match=rf"params\['Wax'\]: expected a floating array, {match}"):
            SequenceModel.from_scratch({**params, "Wax": bad}, "rnn")
    with pytest.raises(ValueError, match=r"missing keys \['Wax'\].*cell='rnn'"):
        SequenceModel.from_scratch({k: v for k, v in params.items() if k != "Wax"}, "rnn")


def test_integer_module_dtypes_are_refused() -> None:
    with pytest.raises(TypeError, match=r"dtype: expected a floating dtype, got torch.int64"):
        KMeans.from_scratch(np.full((2, 3), 1.5), dtype=torch.int64)
    with pytest.raises(TypeError, match=r"KMeans: \['centroids'\] are torch.int64"):
        load_scratch_params(KMeans(2, 3, dtype=torch.int64), {"centroids": np.full((2, 3), 1.5)})


def test_empty_params_and_missing_specs_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"params: an empty dict"):
        ConvNet.from_scratch({}, CONV)
    with pytest.raises(TypeError, match=r"spec \(param_spec\): expected a ParamSpec .* got None"):
        state_dict_to_params(Dense(3, 4).state_dict(), None)
    with pytest.raises(TypeError, match=r"spec \(param_spec\): expected a ParamSpec .* got None"):
        params_to_state_dict({"W": np.ones((4, 3))}, None)
    with pytest.raises(TypeError, match=r"spec: expected a ParamSpec dict or a converter"):
        module_function(lambda: Dense(3, 4, device="meta"), None)


def test_pt_refusal_never_advises_unsafe_loading(tmp_path: Path) -> None:
    torch.save({"weight": torch.ones(2), "evil": Path("x")}, tmp_path / "evil.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02garbage")
    for name in ("evil.pt", "junk.pt"):
        with pytest.raises(ValueError, match="is not a weights-only .pt state_dict") as info:
            load_pt_state_dict(tmp_path / name)
        message = str(info.value)
        assert "weights_only=False" not in message and "`False`" not in message
        assert "\x1b" not in message and "safe_globals" not in message and "\n" not in message
    with pytest.raises(ValueError, match=r"Unsupported global: GLOBAL pathlib\.\w*Path"):
        load_pt_state_dict(tmp_path / "evil.pt")


# --- ONNX files and inputs -------------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from torch_ref._onnx import export_onnx

    net = DeepNetwork([4, 5, 3], "tanh", "softmax", generator=_gen(0))
    return export_onnx(
        net, torch.zeros(2, 4), tmp_path_factory.mktemp("onnx") / "net.onnx", method="predict_proba"
    )


def test_broken_onnx_files_are_named(onnx_file: Path, tmp_path: Path) -> None:
    import onnx

    from torch_ref._onnx import OnnxFileError, OnnxModel

    raw = onnx_file.read_bytes()
    (tmp_path / "junk.onnx").write_bytes(b"this is not an onnx file\x00\xff")
    (tmp_path / "cut.onnx").write_bytes(raw[: len(raw) // 2])
    model = onnx.load(str(onnx_file))
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = 99
    onnx.save(model, str(tmp_path / "future.onnx"))
    for name, reason in [
        ("junk.onnx", "not an ONNX model"),
        ("cut.onnx", "not an ONNX model, or truncated"),
        ("future.onnx", "opset 99 is not supported"),
    ]:
        with pytest.raises(OnnxFileError, match=rf"{name}' cannot be served: {reason}"):
            OnnxModel(tmp_path / name)
    assert issubclass(OnnxFileError, ValueError)


def test_onnx_refuses_non_finite_input_unless_asked(onnx_file: Path) -> None:
    from torch_ref._onnx import OnnxModel

    X = np.ones((3, 4), np.float32)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: NaN or Inf in input 'x' of net.onnx \(first at index \(2, 1\)"):
        OnnxModel(onnx_file)(X)
    assert np.isnan(OnnxModel(onnx_file, allow_nonfinite=True)(X)[2]).all()
