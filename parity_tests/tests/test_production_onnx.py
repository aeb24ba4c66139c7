"""ONNX Runtime parity: every served torch_ref model exported with ``torch.onnx.export(dynamo=True)``
(opset 18, dynamic batch) gives eager torch's and scratch's outputs in ``onnxruntime``; bad
inputs to the served file are clear errors; the one known non-rounding difference (LeakyRelu's
float32 slope attribute) is pinned down."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from parity_tests import checks as check_store
from parity_tests import registry
from parity_tests.compare import assert_close, assert_parity, compare
from parity_tests.production import register as production_register
from parity_tests.production.checks import run_onnx
from parity_tests.registry import CheckUnavailable
from parity_tests.tolerances import runtime_tolerance
from torch_ref.deep import DeepNetwork
from torch_ref.layout import to_numpy

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
from torch_ref._onnx import BATCH, OPSET, OnnxModel, export_onnx  # noqa: E402

registry.load_concepts()
SERVED = registry.served_models()
"""Every served model the concept modules declare (``registry.register_served``)."""
DEEP = next(s for s in SERVED if (s.concept, s.name) == ("deep", "relu-softmax"))


def _id(served: registry.ServedModel) -> str:
    return f"{served.concept}-{served.name}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[OnnxModel, DeepNetwork]:
    """One exported float64 softmax network (5 -> 7 -> 3), shared by the input checks."""
    net = DeepNetwork(
        [5, 7, 3], "relu", "softmax", generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    path = export_onnx(
        net,
        torch.zeros(4, 5, dtype=torch.float64),
        tmp_path_factory.mktemp("onnx") / "deep.onnx",
        method="predict_proba",
    )
    return OnnxModel(path, threads=1), net


def test_deep_network_runs_in_onnxruntime(device: str, dtype: str) -> None:
    """The registered check of ``deep``: ONNX Runtime == eager == scratch at two batch sizes."""
    result = run_onnx(DEEP, device, dtype)
    assert_parity(result)
    assert result.extra["opset"] == OPSET and len(result.records) == 4


@pytest.mark.slow
@pytest.mark.parametrize("served", SERVED, ids=_id)
def test_every_served_model_runs_in_onnxruntime(served, dtype: str) -> None:
    result = run_onnx(served, "cpu", dtype)
    assert_parity(result)
    assert result.extra["served_method"] == served.model.output_method


def test_the_file_declares_opset_and_a_dynamic_batch(served) -> None:
    model, _ = served
    assert model.opset == OPSET
    assert model.input_shape == (BATCH, 5) and model.input_dtype == np.float64
    for m in (1, 2, 300):  # one file, any batch size, batch 1 included
        assert model(np.zeros((m, 5))).shape == (m, 3)


def test_served_probabilities_equal_eager(served) -> None:
    model, net = served
    x = np.random.default_rng(1).standard_normal((9, 5))
    with torch.no_grad():
        eager = to_numpy(net.predict_proba(torch.from_numpy(x)))
    assert_close(model(x), eager, level="forward", name="onnxruntime vs eager")


@pytest.mark.parametrize(
    "shape, match",
    [
        ((3, 4), r"X: expected shape \(batch, 5\) for input 'x' of deep.onnx, got \(3, 4\)"),
        ((5, 3), r"looks like the course layout \(n_x, m\).*pass X.T"),
        ((2, 3, 5), r"expected shape \(batch, 5\).*got \(2, 3, 5\)"),
        ((5,), r"got \(5,\)"),
        ((0, 5), r"X: empty batch"),
    ],
)
def test_input_of_the_wrong_shape_is_refused(served, shape, match) -> None:
    with pytest.raises(ValueError, match=match):
        served[0](np.zeros(shape))


def test_input_of_the_wrong_dtype_is_refused(served) -> None:
    with pytest.raises(TypeError, match=r"X: expected dtype float64 .* got float32; .*cast explicitly"):
        served[0](np.zeros((3, 5), dtype=np.float32))


def test_export_needs_a_batch_of_two_and_an_existing_method(tmp_path: Path) -> None:
    net = DeepNetwork([3, 4, 1], dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"example: expected a batch-first tensor with m >= 2 .* "
        r"got \(1, 3\)",
    ):
        export_onnx(net, torch.zeros(1, 3, dtype=torch.float64), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="method: DeepNetwork has no method 'predict_probability'"):
        export_onnx(
            net, torch.zeros(2, 3, dtype=torch.float64), tmp_path / "x.onnx", method="predict_probability"
        )
    with pytest.raises(FileNotFoundError, match="no such file"):
        OnnxModel(tmp_path / "missing.onnx")


def test_leaky_relu_slope_is_a_float32_attribute_in_onnx(tmp_path: Path) -> None:
    """The trap the runtime tolerance does *not* cover: ONNX's LeakyRelu stores ``alpha`` as a
    float, so a float64 graph uses ``α = float32(0.01)``; with that slope eager agrees again."""
    net = DeepNetwork(
        [3, 6, 2], "leaky_relu", "linear", generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    x = np.random.default_rng(2).standard_normal((40, 3)) * 3
    out = OnnxModel(export_onnx(net, torch.from_numpy(x[:4]), tmp_path / "leaky.onnx"))(x)
    with torch.no_grad():
        eager = to_numpy(net(torch.from_numpy(x)))
        assert not compare("onnx vs eager", out, eager, runtime_tolerance("float64")).passed
        net.activations[0].negative_slope = float(np.float32(0.01))
        assert_close(out, to_numpy(net(torch.from_numpy(x))), level="forward", name="α = float32(0.01)")


def test_missing_onnxruntime_makes_the_check_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(CheckUnavailable, match="onnxruntime is not installed"):
        run_onnx(DEEP, "cpu", "float64")


def test_registration_derives_each_served_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three checks per served declaration of the loaded concepts; ``quick`` says which are slow."""
    registry.load_concepts(["deep", "dense", "gd"])  # their modules declare, into the real registry
    monkeypatch.setattr(check_store, "_REGISTRY", {})  # the store the registry registers into
    monkeypatch.setattr(production_register, "_DONE", set())
    checks = production_register.register_production_checks(["deep", "dense", "gd"])
    ids = {c.id: c.slow for c in checks}
    assert len(ids) == 3 * len(registry.served_models(["deep", "dense", "gd"]))
    assert ids["deep-onnx-relu-softmax-forward"] is False  # quick=("onnx", "safetensors")
    assert ids["deep-onnx-relu-softmax-float64-forward"] is True  # float64 ONNX: always slow
    assert ids["deep-onnx-sigmoid-sigmoid-forward"] is True  # quick=()
    assert ids["deep-safetensors-sigmoid-sigmoid-forward"] is True
    assert ids["dense-safetensors-linear-forward"] is False  # the default quick=("safetensors",)
    assert ids["dense-onnx-linear-forward"] is True and not any(i.startswith("gd-") for i in ids)
    assert production_register.register_production_checks(["deep"]) == []  # idempotent
    with pytest.raises(ValueError, match=r"concepts: \['nope'\] are not concept ids"):
        production_register.register_production_checks(["nope"])
