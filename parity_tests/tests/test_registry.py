"""The generic parity suite: every registered check × device × dtype.

A concept plugs in by registering in ``parity_tests/concepts/<id>.py``; nothing here names one.
"""

from __future__ import annotations

import pytest

from parity_tests.compare import assert_parity
from parity_tests.registry import CheckUnavailable, all_checks
from parity_tests.tests.conftest import device_params

CASES = []
for check in all_checks():
    for dev in device_params():
        name, dev_marks = (dev, []) if isinstance(dev, str) else (dev.values[0], list(dev.marks))
        if not check.runs_on(name):
            continue
        marks = dev_marks + ([pytest.mark.slow] if check.slow else [])
        for dt in check.dtypes:
            CASES.append(pytest.param(check, name, dt, id=f"{check.id}-{name}-{dt}", marks=marks))


@pytest.mark.parametrize("check, device, dtype", CASES)
def test_parity(check, device: str, dtype: str) -> None:
    try:
        result = check.run(device, dtype)
    except CheckUnavailable as exc:  # an optional dependency (the test extra installs them all)
        pytest.skip(f"unavailable: {exc}")
    assert_parity(result)


def test_every_check_is_at_a_level_of_the_one_list() -> None:
    """One definition of the levels: the registry's sort order is the tolerance policy's list."""
    from parity_tests import registry, tolerances

    assert registry.LEVEL_ORDER is tolerances.LEVELS
    assert set(tolerances.TOLERANCE_LEVELS) < set(tolerances.LEVELS)
    stray = sorted({c.id for c in all_checks() if c.level not in tolerances.LEVELS})
    assert not stray, f"checks at levels outside tolerances.LEVELS {tolerances.LEVELS}: {stray}"


def test_served_models_are_declared_once_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """``register_served`` refuses an unknown concept or format and a name served twice."""
    from parity_tests import registry
    from parity_tests.concepts.dense import LAYER, layer_inputs

    monkeypatch.setattr(registry, "_SERVED", {})
    served = registry.register_served("dense", "layer", LAYER, layer_inputs, quick=["onnx"])
    assert served.quick == ("onnx",) and registry.served_models(["dense"]) == [served]
    assert registry.served_models(["deep"]) == []
    with pytest.raises(ValueError, match="served model dense-layer is registered twice"):
        registry.register_served("dense", "layer", LAYER, layer_inputs)
    with pytest.raises(ValueError, match=r"quick: \['tflite'\] are not serving formats"):
        registry.register_served("dense", "other", LAYER, layer_inputs, quick=("tflite",))
    with pytest.raises(ValueError, match="concept: 'nope' is not a concept id"):
        registry.register_served("nope", "layer", LAYER, layer_inputs)


def test_a_model_without_a_cost_is_not_given_cost_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """dense's layer declares no ``propagate``: it is served, and ``register_model`` says why not."""
    from parity_tests import checks, registry
    from parity_tests.concepts.dense import LAYER, layer_inputs

    monkeypatch.setattr(checks, "_REGISTRY", {})  # the store the registry registers into
    with pytest.raises(
        ValueError,
        match=r"register_model\('dense', 'layer'\): the model declares "
        r"no propagate",
    ):
        registry.register_model("dense", "layer", LAYER, layer_inputs)
    assert checks._REGISTRY == {}


@pytest.mark.parametrize("level", ["forward", "gradient"])
def test_a_declared_kernel_check_takes_its_tolerance_and_needs_its_kernel(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kernel=`` on a forward/gradient declaration: the check is held to the policy's kernel
    tolerance (not the level's), and where the device lacks the kernel it is unavailable (a
    skip, with the reason), never run against the wrong kernel."""
    import numpy as np
    import torch

    from parity_tests import registry
    from parity_tests.tolerances import kernel_tolerance, tolerance

    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"x": rng.standard_normal((3, 4))}

    if level == "forward":
        run = registry.forward_run("rnn", "kernel-probe", np.tanh, torch.tanh, inputs, kernel="cudnn-rnn")
    else:
        run = registry.gradient_run(
            "rnn",
            "kernel-probe",
            lambda x: {"x": 1 - np.tanh(x) ** 2},
            lambda x: torch.tanh(x).sum(),
            inputs,
            ["x"],
            kernel="cudnn-rnn",
        )
    result = run("cpu", "float32")
    kernel = kernel_tolerance("cudnn-rnn", "float32", level)
    assert kernel != tolerance("float32", level)
    assert result.passed and result.records
    assert all((r.rtol, r.atol) == (kernel.rtol, kernel.atol) for r in result.records)
    monkeypatch.setattr(registry, "kernel_unavailable", lambda kernel, device: "no cuDNN in this build")
    with pytest.raises(CheckUnavailable, match="no cuDNN"):
        run("cpu", "float32")


def test_cudnn_is_missing_only_on_cuda_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from parity_tests.devices import kernel_unavailable

    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: False)
    assert kernel_unavailable("cudnn-rnn", "cpu") is None
    assert kernel_unavailable("cudnn-rnn", "cuda:0") == "this torch build has no cuDNN"
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    assert kernel_unavailable("cudnn-rnn", "cuda") is None
