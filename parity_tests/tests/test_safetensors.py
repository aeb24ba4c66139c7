"""safetensors both ways: NumPy-trained parameters saved to a file and loaded into torch give
bit-identical outputs to loading them in memory; every round trip is bitwise; a file with
missing or extra tensors, a wrong dtype or shape, or the other layout is refused clearly; ``.pt``
files are read with ``torch.load(weights_only=True)`` only."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from parity_tests import registry
from parity_tests.compare import assert_close, assert_parity
from parity_tests.production.checks import run_safetensors
from parity_tests.registry import CheckUnavailable
from scratch import deep as S
from torch_ref.deep import DeepNetwork
from torch_ref.dense import Dense
from torch_ref.layout import columns_to_rows, to_numpy

pytest.importorskip("safetensors")
from scratch._safetensors import load_params, read_metadata, save_params  # noqa: E402
from torch_ref._safetensors import (  # noqa: E402
    load_pt_state_dict,
    load_scratch_file,
    load_state_dict_file,
    save_scratch_file,
    save_state_dict_file,
)

ROOT = Path(__file__).resolve().parents[2]


registry.load_concepts()
SERVED = registry.served_models()
"""Every served model the concept modules declare (``registry.register_served``)."""


def _id(served: registry.ServedModel) -> str:
    return f"{served.concept}-{served.name}"


@pytest.mark.parametrize("served", SERVED, ids=_id)
def test_registered_safetensors_check(served, device: str, dtype: str) -> None:
    assert_parity(run_safetensors(served, device, dtype))


@pytest.fixture
def trained() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A 4-6-3 softmax network trained 30 steps in NumPy, and a batch ``X (n_x, m)``."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 40))
    labels = (X[0] > 0).astype(np.int64) + (X[1] > 0)
    config = S.Config(
        layer_dims=(4, 6, 3),
        activation="tanh",
        output="softmax",
        initializer="xavier",
        learning_rate=0.3,
        num_iterations=30,
        batch_size=None,
        seed=5,
    )
    params, _ = S.train(config, X, labels)
    return params, X


def test_numpy_trained_network_served_from_a_file_is_bit_identical(
    trained, tmp_path: Path, device: str
) -> None:
    params, X = trained
    path = save_params(params, tmp_path / "net.safetensors")
    from_file = load_scratch_file(
        DeepNetwork([4, 6, 3], "tanh", "softmax", device=device, dtype=torch.float64), path
    )
    in_memory = DeepNetwork.from_scratch(params, "tanh", "softmax", device=device)
    x = torch.tensor(columns_to_rows(X), device=device)
    with torch.no_grad():
        a, b = to_numpy(from_file.predict_proba(x)), to_numpy(in_memory.predict_proba(x))
    assert a.tobytes() == b.tobytes()


def test_round_trips_are_bitwise_including_signed_zeros_and_float32(tmp_path: Path) -> None:
    params = {"W1": np.array([[0.0, -0.0, np.pi]], dtype=np.float32), "b1": np.full((1, 1), -0.0, np.float32)}
    back = load_params(save_params(params, tmp_path / "p.safetensors"))
    assert all(back[k].dtype == np.float32 and back[k].tobytes() == params[k].tobytes() for k in params)
    assert read_metadata(tmp_path / "p.safetensors") == {"dlparity.layout": "course"}


def test_a_safetensors_file_holds_no_pickle(tmp_path: Path) -> None:
    """8-byte little-endian header length, a JSON header, then raw bytes."""
    path = save_params({"W": np.ones((2, 3))}, tmp_path / "p.safetensors")
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert header["W"] == {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 48]}


def test_torch_trained_weights_continue_in_numpy(tmp_path: Path) -> None:
    net = DeepNetwork(
        [3, 5, 2], "relu", "softmax", generator=torch.Generator().manual_seed(1), dtype=torch.float32
    )
    params = load_params(save_scratch_file(net, tmp_path / "c.safetensors"), dtype=np.float32)
    assert params["b1"].shape == (5, 1) and params["W2"].shape == (2, 5)
    x = np.random.default_rng(0).standard_normal((3, 7)).astype(np.float32)
    with torch.no_grad():
        eager = to_numpy(net.predict_proba(torch.from_numpy(columns_to_rows(x))))
    scratch = columns_to_rows(S.L_model_forward(x, params, "relu", "softmax")[0])
    assert_close(scratch, eager, level="forward", name="NumPy forward of torch-trained weights")


# --- bad files ---------------------------------------------------------------------------------
@pytest.fixture
def net_file(tmp_path: Path) -> tuple[dict[str, np.ndarray], Path]:
    params = {"W1": np.ones((5, 3)), "b1": np.zeros((5, 1)), "W2": np.ones((2, 5)), "b2": np.zeros((2, 1))}
    return params, tmp_path


def _save(tmp: Path, params: dict[str, np.ndarray]) -> Path:
    return save_params(params, tmp / "bad.safetensors")


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda p: p.pop("b2"), ValueError, r"missing keys \['b2'\]"),
        (lambda p: p.update(W3=np.ones((2, 2))), ValueError, r"unexpected keys \['W3'\]"),
        (
            lambda p: p.update(W2=np.ones((2, 4))),
            ValueError,
            r"params\['W2'\]: shape \(2, 4\) converts to \(2, 4\), "
            r"but DeepNetwork.layers.1.weight has shape \(2, 5\)",
        ),
        (
            lambda p: p.update({k: v.astype(np.float32) for k, v in p.items()}),
            TypeError,
            r"\['W1'\]: dtype float32, but DeepNetwork.layers.0.weight is torch.float64",
        ),
    ],
)
def test_bad_scratch_file_into_torch_is_refused(net_file, change, error, match) -> None:
    params, tmp = net_file
    change(params)
    with pytest.raises(error, match=match):
        load_scratch_file(DeepNetwork([3, 5, 2], "relu", "softmax", dtype=torch.float64), _save(tmp, params))


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda p: p.pop("W1"), ValueError, r"missing tensors \['W1'\], unexpected tensors \[\]"),
        (lambda p: p.update(extra=np.ones(1)), ValueError, r"unexpected tensors \['extra'\]"),
        (lambda p: p.update(b1=np.zeros((5,))), ValueError, r"\['b1'\]: shape \(5,\), expected \(5, 1\)"),
        (
            lambda p: p.update({k: v.astype(np.float32) for k, v in p.items()}),
            TypeError,
            r"\['W1'\]: dtype float32, expected float64",
        ),
    ],
)
def test_bad_scratch_file_into_numpy_is_refused(net_file, change, error, match) -> None:
    params, tmp = net_file
    like = dict(params)
    change(params)
    with pytest.raises(error, match=match):
        load_params(_save(tmp, params), like=like)


def test_bad_state_dict_file_is_refused(tmp_path: Path) -> None:
    layer = Dense(3, 4, dtype=torch.float64)
    path = save_state_dict_file(layer, tmp_path / "sd.safetensors")
    with pytest.raises(ValueError, match=r"shape \(4, 3\), but the module's weight has shape \(5, 3\)"):
        load_state_dict_file(Dense(3, 5, dtype=torch.float64), path)
    with pytest.raises(TypeError, match=r"dtype torch.float64, but the module's weight is torch.float32"):
        load_state_dict_file(Dense(3, 4, dtype=torch.float32), path)
    save_state_dict_file({"weight": layer.weight}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match=r"missing keys \['bias'\], unexpected keys \[\]"):
        load_state_dict_file(Dense(3, 4, dtype=torch.float64), tmp_path / "w.safetensors")


def test_a_file_of_the_other_layout_names_the_right_loader(tmp_path: Path) -> None:
    layer = Dense(3, 4, dtype=torch.float64)
    torch_file = save_state_dict_file(layer, tmp_path / "sd.safetensors")
    course_file = save_params({"W": np.ones((4, 3)), "b": np.zeros((4, 1))}, tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="'torch' layout, not the course's.*state_dict_to_params"):
        load_params(torch_file)
    with pytest.raises(ValueError, match="holds a torch state_dict.*load_state_dict_file"):
        load_scratch_file(layer, torch_file)
    with pytest.raises(ValueError, match="'course' layout; load it with load_scratch_file"):
        load_state_dict_file(layer, course_file)


def test_not_a_safetensors_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04this is not a safetensors file")
    with pytest.raises(ValueError, match="is not a readable .safetensors file"):
        load_params(junk)
    with pytest.raises(ValueError, match="is not a readable .safetensors file"):
        load_state_dict_file(Dense(3, 4), junk)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_params(tmp_path / "absent.safetensors")


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({}, TypeError, "non-empty dict"),
        ({"W": np.ones((2, 2), dtype=np.int64)}, TypeError, r"params\['W'\]: expected float32 or float64"),
        ({"W": np.ones(2), "b": np.ones(2, np.float32)}, TypeError, r"mixed dtypes \['float32', 'float64'\]"),
    ],
)
def test_saving_bad_params_is_refused(tmp_path: Path, params, error, match) -> None:
    with pytest.raises(error, match=match):
        save_params(params, tmp_path / "x.safetensors")


def test_pt_files_are_read_weights_only(tmp_path: Path) -> None:
    layer = Dense(3, 4, dtype=torch.float64)
    torch.save(layer.state_dict(), tmp_path / "ok.pt")
    sd = load_pt_state_dict(tmp_path / "ok.pt")
    assert torch.equal(sd["weight"], layer.weight)
    torch.save({"weight": layer.weight, "evil": Path("x")}, tmp_path / "evil.pt")  # not a weight
    with pytest.raises(ValueError, match="is not a weights-only .pt state_dict"):
        load_pt_state_dict(tmp_path / "evil.pt")


def test_missing_safetensors_makes_the_check_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(CheckUnavailable, match="safetensors is not installed"):
        run_safetensors(SERVED[0], "cpu", "float64")


def test_scratch_files_need_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\nfrom scratch._safetensors import save_params, load_params\n"
        f"p = save_params({{'W': np.ones((2, 3))}}, {str(tmp_path / 'n.safetensors')!r})\n"
        "assert load_params(p)['W'].shape == (2, 3)\nprint('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_readme_section_example_runs(capsys: pytest.CaptureFixture) -> None:
    """The README's "train in NumPy -> save -> serve in torch or ONNX Runtime" block, executed."""
    pytest.importorskip("onnxruntime")
    text = (ROOT / "docs" / "production.md").read_text()
    code = text.split("<!-- serving-example:start -->\n```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md serving example", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "cost 0." in out and "opset 18" in out
