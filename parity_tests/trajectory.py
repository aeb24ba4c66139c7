"""The trajectory runner: train both sides from the *same* parameters on the *same* batches and
compare the loss and every parameter at every step.

``lockstep=True`` is for training runs whose dynamics amplify any rounding difference (an RNN
escaping a loss plateau: two torch runs 1e-15 apart part ways within tens of steps, so no two
implementations can run free and agree there): the torch model is reset to the scratch
parameters before every step, and each step's *update* is compared instead — every step of the
whole run proven equal from the same point, at the gradient tolerance (nothing accumulates).

Parameters flow scratch -> torch through the concept's converter (a ``ParamSpec``), never
through two random generators. On failure the result names the first step and the quantity
where the two sides diverged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from parity_tests.api import check_finite, infer_batch_size
from parity_tests.compare import (
    CheckResult,
    Comparison,
    compare,
    group_result,
    insensitive,
    tolerance_ratio,
)
from parity_tests.devices import check_device, parity_mode
from parity_tests.diagnose import diagnose
from parity_tests.metrics import Metrics
from parity_tests.tolerances import MIN_SENSITIVITY, Tolerance, lockstep_tolerance, tolerance
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
STEP_RETURNS = ("grads", "params")


def _cast(name: str, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A batch array in the run's float dtype (integer labels too), refused if not finite."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    check_finite(name, a)
    return a.astype(dtype)


def _default_layouts(X: np.ndarray, Y: np.ndarray) -> tuple[Layout, Layout]:
    """Examples as columns for 2-D course batches; anything else must say its layout."""
    if np.ndim(X) == 2 and np.ndim(Y) == 2:
        return COLUMNS, COLUMNS
    raise ValueError(f"batch_layouts: X has shape {np.shape(X)} and Y {np.shape(Y)}; only 2-D "
                     "(n, m) batches have a default (examples as columns) — pass the layouts, "
                     "e.g. (IMAGES, COLUMNS) or (SEQUENCE, COLUMNS) from torch_ref.layout")


def _step_output(out: object, t: int, params: Mapping[str, np.ndarray], returns: str
                 ) -> tuple[float, dict[str, np.ndarray]]:
    """``(cost, grads or new params)`` from the learner's step, or an error saying what came back."""
    what = "gradients {'d<name>': array}" if returns == "grads" else "updated parameters {name: array}"
    shape = (f"a {type(out).__name__} of ({', '.join(type(v).__name__ for v in out)})"
             if isinstance(out, (tuple, list)) else f"a {type(out).__name__}")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"scratch_step: at step {t} returned {shape}; expected (cost, {what})")
    cost, second = out
    if isinstance(cost, Mapping) and not isinstance(second, Mapping):
        raise TypeError(f"scratch_step: at step {t} returned {shape}; expected (cost, {what}) — "
                        "the two are swapped (the course's propagate returns (grads, cost))")
    if not isinstance(second, Mapping):
        raise TypeError(f"scratch_step: at step {t} returned {shape}; expected (cost, {what})")
    c = np.asarray(cost)
    if c.dtype.kind not in "fiub" or c.size != 1:
        raise TypeError(f"scratch_step: at step {t} returned a cost of shape {c.shape} and dtype "
                        f"{c.dtype}; expected one number")
    want = ["d" + k for k in params] if returns == "grads" else list(params)
    missing = [k for k in want if k not in second]
    if missing:
        hint = (" (it returned parameters: pass step_returns='params')"
                if returns == "grads" and all(k in second for k in params) else
                " (it returned gradients: pass step_returns='grads')"
                if returns == "params" and all("d" + k in second for k in params) else "")
        raise ValueError(f"scratch_step: at step {t} returned {sorted(second)}; missing {missing}{hint}")
    return float(c.reshape(())), dict(second)


class _Reach:
    """Per parameter, the sensitivity of a trajectory check (:data:`MIN_SENSITIVITY` in
    :mod:`parity_tests.tolerances`): the largest ratio, over the steps, at which a learner that
    never moved the parameter would have failed, and the numbers behind it."""

    def __init__(self) -> None:
        self.sensitivity, self.step, self.tol = -1.0, 0, Tolerance(0.0, 0.0)
        self.moved, self.largest_update = 0.0, 0.0

    def update(self, ratio: float, t: int, moved: np.ndarray, update: np.ndarray,
               tol: Tolerance) -> None:
        self.largest_update = max(self.largest_update, float(np.max(np.abs(update), initial=0.0)))
        if ratio > self.sensitivity:
            self.sensitivity, self.step, self.tol = ratio, t, tol
            self.moved = float(np.max(np.abs(moved), initial=0.0))

    def why(self, name: str, learning_rate: float, lockstep: bool, steps: int) -> str:
        what = "largest single-step update" if lockstep else "largest distance from the start"
        return (f"could not have failed: at learning_rate={learning_rate:g} the reference's {what} "
                f"over {steps} step(s) is {self.moved:.3g}"
                + ("" if lockstep else f" (largest step update {self.largest_update:.3g})")
                + f", only {max(self.sensitivity, 0.0):.3g}× the tolerance "
                f"({self.tol} at step {self.step}); a learner that never updated {name} would pass "
                f"unless that is >= 1, and catching an update wrong by 1/{MIN_SENSITIVITY:g} of "
                f"itself needs >= {MIN_SENSITIVITY:g}× — raise the learning rate or the number of "
                "steps, start away from the optimum, or check in float64")


def check_training(scratch_step: ScratchStep, torch_model: torch.nn.Module, torch_loss: TorchLoss,
                   init_params: Mapping[str, np.ndarray],
                   batches: Sequence[tuple[np.ndarray, np.ndarray]], *, param_spec: ParamSpec,
                   learning_rate: float, batch_layouts: tuple[Layout, Layout] | None = None,
                   step_returns: str = "grads", device: str = "cpu", dtype: str = "float64",
                   concept: str = "user", case: str = "training",
                   metrics: Metrics | None = None, lockstep: bool = False,
                   still: Sequence[str] = ()) -> CheckResult:
    """Gradient descent on both sides, compared step by step.

    Args:
        scratch_step: ``(params, X, Y) -> (cost, grads)`` in the course layout, ``grads`` keyed
            ``"d<name>"``; the runner applies ``p := p − α dp`` (``scratch.gd.gd_update``).
            With ``step_returns="params"`` it is the learner's *whole* iteration,
            ``(params, X, Y) -> (cost, updated params)``, so their update rule is checked too
            (and an update off by a factor α is named as the learning rate applied twice).
        torch_model: the reference module; it is moved to ``device``/``dtype`` and loaded with
            ``init_params`` through ``param_spec``.
        torch_loss: ``(model, X, Y) -> J`` on torch-layout batches; the runner steps
            ``torch.optim.SGD(lr=learning_rate)``.
        init_params: the starting parameters (course layout), shared by both sides.
        batches: ``[(X, Y), ...]`` in the course layout, one per step, same order on both sides.
        batch_layouts: how ``X`` and ``Y`` convert to torch; the default (examples as columns
            -> rows) exists for 2-D batches only: images and sequences must name theirs.
        metrics: optional ``(final scratch params, trained model) -> {name: value}`` (see
            :mod:`parity_tests.metrics`), reported in ``extra["metrics"]``.
        lockstep: reset the torch model to the scratch parameters before every step and compare
            the loss and each step's update ``Δp`` (gradient tolerance, ``atol`` × α) instead of
            the free-running parameters; ``metrics`` then describe the scratch run (the model
            ends at the scratch parameters after one more torch step from them).
        still: parameters the run is *meant* to leave where they start (zero initialization
            with ``g(0) = 0`` keeps every hidden parameter at 0 by symmetry). Every other
            parameter must move far enough for the check to see a wrong gradient (the
            sensitivity rule of :mod:`parity_tests.tolerances`), or the result is INCONCLUSIVE;
            a ``still`` one is instead held to the claim itself: the reference must keep it
            within the tolerance of its start (else a failing record), and the learner is
            compared with it as usual — so a learner that moves it fails.

    A parameter whose reference updates are too small against the tolerance to reveal a
    gradient error gets an INCONCLUSIVE record ``sensitivity of <name>`` naming the learning
    rate, the update size and the tolerance: such a result never passes.

    Returns:
        A :class:`CheckResult` with one record per quantity (``loss`` and each parameter): the
        first failing step if any, else the step closest to its tolerance. ``extra`` holds both
        loss curves and ``first_divergence`` (``(step, name)`` or ``None``).
    """
    check_device(device)
    if step_returns not in STEP_RETURNS:
        raise ValueError(f"step_returns: expected one of {STEP_RETURNS}, got {step_returns!r}")
    batches = list(batches)
    if not batches:
        raise ValueError("batches: empty — a trajectory of zero steps compares nothing")
    for i, batch in enumerate(batches):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(f"batches[{i}]: expected an (X, Y) pair, got {type(batch).__name__}")
    if not init_params:
        raise ValueError("init_params: empty — there is no parameter to train")
    if isinstance(still, str) or any(k not in init_params for k in still):
        raise ValueError(f"still: expected a list of parameter names from {sorted(init_params)}, "
                         f"got {still!r}")
    np_dtype = numpy_dtype(dtype)
    dtype_name = str(torch_dtype(dtype)).replace("torch.", "")
    params = {k: _cast(f"init_params[{k!r}]", v, np_dtype) for k, v in init_params.items()}
    init = params
    batch_layouts = batch_layouts or _default_layouts(*batches[0])
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
    reach: dict[str, _Reach] = {k: _Reach() for k in params}  # how far a still learner would fail
    with parity_mode():
        for t, (X, Y) in enumerate(batches):
            X, Y = _cast(f"batches[{t}][0] (X)", X, np_dtype), _cast(f"batches[{t}][1] (Y)", Y, np_dtype)
            before = params
            cost, out = _step_output(scratch_step(params, X, Y), t, params, step_returns)
            if not np.isfinite(cost):
                stopped = f"the scratch cost became {cost} at step {t}; training stopped there"
                break
            if step_returns == "grads":
                params = gd_update(params, out, learning_rate)
            else:
                params = {k: np.asarray(out[k]) for k in params}
            Xt = to_tensor(x_layout.to_torch(X), device, dtype)
            Yt = to_tensor(y_layout.to_torch(Y), device, dtype)
            if lockstep:
                load_scratch_params(model, before, param_spec)
                now_prev = before
            opt.zero_grad(set_to_none=True)
            J = torch_loss(model, Xt, Yt)
            J.backward()
            opt.step()
            scratch_losses.append(float(cost))
            torch_losses.append(J.item())
            now, torch_before = state_dict_to_params(model.state_dict(), param_spec), now_prev
            now_prev = now
            tol = tolerance(dtype_name, "trajectory", step=t)
            if lockstep:  # one step from the same point: the gradient level; Δp = −α dp
                tol = tolerance(dtype_name, "gradient")
            for name in names:
                a, e, qtol = (cost, J.item(), tol) if name == "loss" else (params[name], now[name], tol)
                if lockstep and name != "loss":
                    a, e = params[name] - before[name], now[name] - before[name]
                    qtol = lockstep_tolerance(dtype_name, learning_rate)
                if name != "loss":  # a learner that left the parameter where it started:
                    unmoved = np.zeros_like(e) if lockstep else init[name]
                    reach[name].update(tolerance_ratio(unmoved, e, qtol), t, e - unmoved,
                                       now[name] - torch_before[name], qtol)
                ratio = tolerance_ratio(a, e, qtol)
                old = chosen.get(name)
                if old is not None and not old.passed:
                    continue  # keep the first failing step of each quantity
                if ratio <= 1 and name in worst and ratio <= worst[name][0]:
                    continue  # passing, and not the closest call so far
                label = f"update of {name}" if lockstep and name != "loss" else name
                if ratio <= 1:
                    worst[name] = (ratio, t, np.copy(a), np.copy(e), qtol, label)
                    continue
                rec = compare(label, a, e, qtol, step=t)
                if name != "loss":
                    # name the mistake from this step's update Δp = −α dp on each side
                    update = diagnose(params[name] - before[name], now[name] - torch_before[name],
                                      qtol, m=infer_batch_size(X), learning_rate=learning_rate)
                    if update:
                        rec.diagnosis = f"its update this step is {update}"
                chosen[name] = rec
    for name, (_, t, a, e, qtol, label) in worst.items():
        chosen.setdefault(name, compare(label, a, e, qtol, step=t))
    records = [chosen[n] for n in names if n in chosen]
    if stopped is None:
        records += [insensitive(f"sensitivity of {n}", r.why(n, learning_rate, lockstep,
                                                             len(scratch_losses)), r.step, r.tol)
                    for n, r in reach.items() if r.sensitivity < MIN_SENSITIVITY and n not in still]
        for n in still:
            rec = next(r for r in records if r.name in (n, f"update of {n}"))
            if reach[n].sensitivity > 1:
                records.append(Comparison(
                    f"{n} stays still", (), (), reach[n].moved, float("inf"), None, None, None,
                    reach[n].tol.rtol, reach[n].tol.atol, False,
                    f"declared still, but the reference moved it by {reach[n].moved:.3g}, "
                    f"{reach[n].sensitivity:.3g}× the tolerance, by step {reach[n].step}",
                    reach[n].step, reach[n].sensitivity))
            else:
                rec.note = ("declared still: the reference keeps it within the tolerance of its "
                            "start, so this checks that it stays, not its gradient formula")
    failing = [r for r in records if not r.passed and not r.inconclusive]
    first = min(failing, key=lambda r: (r.step, records.index(r))) if failing else None
    diagnosis = stopped
    blind = [r.name.removeprefix("sensitivity of ") for r in records if r.inconclusive]
    if first is None and blind:
        diagnosis = (f"INCONCLUSIVE: the updates of {', '.join(blind)} are too small against the "
                     f"tolerance at learning_rate={learning_rate:g} to reveal a gradient error "
                     "(see their sensitivity records)")
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
             "learning_rate": learning_rate,
             "sensitivity": {n: r.sensitivity for n, r in reach.items()}}
    if metrics is not None and stopped is None:
        extra["metrics"] = metrics(params, model)
    result = group_result(concept, case, "trajectory", device, dtype_name, records, extra,
                          diagnosis=diagnosis)
    if stopped and not failing:
        result.records.append(Comparison("loss", (), (), float("nan"), float("nan"), None, None,
                                         None, 0.0, 0.0, False, stopped, len(scratch_losses)))
    return result
