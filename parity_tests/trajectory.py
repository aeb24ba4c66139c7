"""The trajectory runner: train both sides from the *same* parameters on the *same* batches and
compare the loss and every parameter at every step.

Parameters flow scratch -> torch through the concept's converter (a ``ParamSpec``), never
through two random generators. On failure the result names the first step and the quantity
where the two sides diverged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from parity_tests.compare import CheckResult, Comparison, compare, group_result, tolerance_ratio
from parity_tests.devices import check_device, parity_mode
from parity_tests.diagnose import diagnose
from parity_tests.metrics import Metrics
from parity_tests.tolerances import tolerance
from scratch.gd import gd_update
from torch_ref.gd import make_optimizer
from torch_ref.layout import (
    COLUMNS,
    Layout,
    ParamSpec,
    load_scratch_params,
    numpy_dtype,
    state_dict_to_params,
    to_tensor,
    torch_dtype,
)

ScratchStep = Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray],
                       tuple[float, Mapping[str, np.ndarray]]]
TorchLoss = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _cast(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(dtype) if a.dtype.kind == "f" else a


def check_training(scratch_step: ScratchStep, torch_model: torch.nn.Module, torch_loss: TorchLoss,
                   init_params: Mapping[str, np.ndarray],
                   batches: Sequence[tuple[np.ndarray, np.ndarray]], *, param_spec: ParamSpec,
                   learning_rate: float, batch_layouts: tuple[Layout, Layout] = (COLUMNS, COLUMNS),
                   device: str = "cpu", dtype: str = "float64", concept: str = "user",
                   case: str = "training", metrics: Metrics | None = None) -> CheckResult:
    """Gradient descent on both sides, compared step by step.

    Args:
        scratch_step: ``(params, X, Y) -> (cost, grads)`` in the course layout, ``grads`` keyed
            ``"d<name>"``; the runner applies ``p := p − α dp`` (``scratch.gd.gd_update``).
        torch_model: the reference module; it is moved to ``device``/``dtype`` and loaded with
            ``init_params`` through ``param_spec``.
        torch_loss: ``(model, X, Y) -> J`` on torch-layout batches; the runner steps
            ``torch.optim.SGD(lr=learning_rate)``.
        init_params: the starting parameters (course layout), shared by both sides.
        batches: ``[(X, Y), ...]`` in the course layout, one per step, same order on both sides.
        batch_layouts: how ``X`` and ``Y`` convert to torch (default: examples as rows).
        metrics: optional ``(final scratch params, trained model) -> {name: value}`` (see
            :mod:`parity_tests.metrics`), reported in ``extra["metrics"]``.

    Returns:
        A :class:`CheckResult` with one record per quantity (``loss`` and each parameter): the
        first failing step if any, else the step closest to its tolerance. ``extra`` holds both
        loss curves and ``first_divergence`` (``(step, name)`` or ``None``).
    """
    check_device(device)
    np_dtype = numpy_dtype(dtype)
    dtype_name = str(torch_dtype(dtype)).replace("torch.", "")
    params = {k: _cast(v, np_dtype) for k, v in init_params.items()}
    model = torch_model.to(device=device, dtype=torch_dtype(dtype))
    load_scratch_params(model, params, param_spec)
    start = state_dict_to_params(model.state_dict(), param_spec)
    conversion = [compare(k, start[k], params[k], tolerance(dtype_name, "forward")) for k in params]
    if not all(r.passed for r in conversion):
        return group_result(concept, case, "trajectory", device, dtype_name, conversion,
                            diagnosis="the parameter converter does not round-trip: the torch "
                                      "model does not start from the scratch parameters")
    opt = make_optimizer(model.parameters(), learning_rate)
    x_layout, y_layout = batch_layouts
    names = ["loss", *params]
    chosen: dict[str, Comparison] = {}  # the first failing step of each quantity
    worst: dict[str, tuple] = {}  # else its closest call: (ratio, step, scratch, torch, tol)
    scratch_losses: list[float] = []
    torch_losses: list[float] = []
    stopped: str | None = None
    now_prev = start
    with parity_mode():
        for t, (X, Y) in enumerate(batches):
            X, Y = _cast(X, np_dtype), _cast(Y, np_dtype)
            before = params
            cost, grads = scratch_step(params, X, Y)
            if not np.isfinite(cost):
                stopped = f"the scratch cost became {cost} at step {t}; training stopped there"
                break
            params = gd_update(params, grads, learning_rate)
            Xt = to_tensor(x_layout.to_torch(X), device, dtype)
            Yt = to_tensor(y_layout.to_torch(Y), device, dtype)
            opt.zero_grad(set_to_none=True)
            J = torch_loss(model, Xt, Yt)
            J.backward()
            opt.step()
            scratch_losses.append(float(cost))
            torch_losses.append(J.item())
            now, torch_before = state_dict_to_params(model.state_dict(), param_spec), now_prev
            now_prev = now
            tol = tolerance(dtype_name, "trajectory", step=t)
            for name in names:
                a, e = (cost, J.item()) if name == "loss" else (params[name], now[name])
                ratio = tolerance_ratio(a, e, tol)
                old = chosen.get(name)
                if old is not None and not old.passed:
                    continue  # keep the first failing step of each quantity
                if ratio <= 1 and name in worst and ratio <= worst[name][0]:
                    continue  # passing, and not the closest call so far
                if ratio <= 1:
                    worst[name] = (ratio, t, np.copy(a), np.copy(e), tol)
                    continue
                rec = compare(name, a, e, tol, step=t)
                if name != "loss":
                    # name the mistake from this step's update Δp = −α dp on each side
                    update = diagnose(params[name] - before[name], now[name] - torch_before[name],
                                      tol, m=X.shape[-1])
                    if update:
                        rec.diagnosis = f"its update this step is {update}"
                chosen[name] = rec
    for name, (_, t, a, e, tol) in worst.items():
        chosen.setdefault(name, compare(name, a, e, tol, step=t))
    records = [chosen[n] for n in names if n in chosen]
    failing = [r for r in records if not r.passed]
    first = min(failing, key=lambda r: (r.step, names.index(r.name))) if failing else None
    diagnosis = stopped
    if first is not None:
        same_step = [r.name for r in failing if r.step == first.step]
        diagnosis = f"first diverges at step {first.step} in {', '.join(same_step)}"
        if same_step == ["loss"]:
            diagnosis += " only: the cost formula differs while the updates agree"
        elif "loss" not in same_step:
            diagnosis += " (the loss still matches at that step): check that parameter's gradient"
        if first.diagnosis:
            diagnosis += f"; {first.name} there: {first.diagnosis}"
    extra = {"scratch_loss": scratch_losses, "torch_loss": torch_losses,
             "first_divergence": (first.step, first.name) if first else None,
             "learning_rate": learning_rate}
    if metrics is not None and stopped is None:
        extra["metrics"] = metrics(params, model)
    result = group_result(concept, case, "trajectory", device, dtype_name, records, extra,
                          diagnosis=diagnosis)
    if stopped and not failing:
        result.records.append(Comparison("loss", (), (), float("nan"), float("nan"), None, None,
                                         None, 0.0, 0.0, False, stopped, len(scratch_losses)))
    return result
