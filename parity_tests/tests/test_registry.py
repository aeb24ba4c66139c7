"""The generic parity suite: every registered check × device × dtype.

A concept plugs in by registering in ``parity_tests/concepts/<id>.py``; nothing here names one.
"""

from __future__ import annotations

import dataclasses

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


def _capped(max_steps, rng):
    from parity_tests.concepts import logreg

    return {**logreg.breast_cancer_optimum(rng), "max_steps": max_steps}


def _flip_db(propagate, params, X, Y):
    J, grads = propagate(params, X, Y)
    return J, {**grads, "db": -grads["db"]}


def test_an_optimum_check_fails_a_wrong_gradient_and_runs_the_declared_torch_side() -> None:
    """``register_optimum`` on the logreg declaration: it passes as registered, and a scratch side
    whose ``db`` has the wrong sign (descent on ``b`` becomes ascent) misses the solver's optimum
    and fails, while the torch side — the declared module trained by the trajectories' runner —
    still reaches it."""
    from functools import partial

    from parity_tests import registry
    from parity_tests.concepts import logreg

    declared = logreg.model("vectorized", 4)
    good = registry._Optimum("logreg", "breast-cancer", declared, logreg.breast_cancer_optimum)
    result = good("cpu", "float64")
    assert result.passed and len(result.records) == 4
    assert result.extra["metrics"]["steps"] > 100
    bad = registry._Optimum(
        "logreg",
        "breast-cancer",
        dataclasses.replace(declared, propagate=partial(_flip_db, declared.propagate)),
        partial(_capped, 5000),  # the good run converges in 3603 steps
    )
    result = bad("cpu", "float64")
    verdicts = {r.name: r.passed for r in result.records}
    assert not result.passed and result.extra["metrics"]["steps"] == 5000  # never converged
    assert verdicts == {
        "w (scratch) vs solver": False,
        "b (scratch) vs solver": False,
        "w (torch) vs solver": True,
        "b (torch) vs solver": True,
    }


def test_torch_refs_logreg_train_takes_the_declared_trajectory() -> None:
    """``torch_ref.logreg.train`` (the production training loop) and the declared model's torch
    trajectory (what the optimum and trajectory checks run) give the same parameters."""
    import numpy as np
    import torch

    from parity_tests import datasets
    from parity_tests.concepts import logreg
    from parity_tests.tolerances import tolerance
    from parity_tests.trajectory import torch_trajectory
    from torch_ref import logreg as T
    from torch_ref.layout import COLUMNS

    X, Y, _ = datasets.breast_cancer()
    declared = logreg.model("vectorized", 4)
    init = {"w": np.zeros((4, 1)), "b": np.zeros((1, 1))}
    params, _ = torch_trajectory(
        declared.make_module(),
        declared.torch_loss,
        init,
        [(X, Y)] * 50,
        param_spec=declared.spec(),
        learning_rate=1.0,
        batch_layouts=declared.batch_layouts(),
    )
    model = declared.build(init)
    T.train(model, torch.from_numpy(COLUMNS.to_torch(X)), torch.from_numpy(COLUMNS.to_torch(Y)), 50, 1.0)
    tol = tolerance("float64", "trajectory", 50)
    for name, value in model.scratch_params().items():
        np.testing.assert_allclose(value, params[-1][name], rtol=tol.rtol, atol=tol.atol)
