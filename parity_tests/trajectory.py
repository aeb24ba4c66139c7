"""The trajectory runner: train both sides from the *same* parameters on the *same* batches and
compare the loss, every parameter and every parameter's update at every step.

``lockstep=True`` is for training runs whose dynamics amplify any rounding difference (an RNN
escaping a loss plateau: two torch runs 1e-15 apart part ways within tens of steps, so no two
implementations can run free and agree there): the torch model is reset to the scratch
parameters before every step, and each step's *update* is compared instead — every step of the
whole run proven equal from the same point, at the gradient tolerance (nothing accumulates).

Both modes share one step comparison, :func:`_compare_updates`: each step's update ``Δp`` on each
side, at a tolerance relative to the update's own measured rounding
(:func:`~parity_tests.tolerances.update_tolerance`), so a parameter that moves less than the
trajectory tolerance (a vanishing gradient) is still verified step by step; what no comparison
can see is reported INCONCLUSIVE (the sensitivity rule of :mod:`parity_tests.tolerances`).

Parameters flow scratch -> torch through the concept's converter (a ``ParamSpec``), never
through two random generators. On failure the result names the first step and the quantity
where the two sides diverged.

:func:`torch_trajectory` is the torch side alone, for a checker that runs the other side itself
(the course checker bisects a learner's training function): the same module, SGD, loss and
converters, in the same parity mode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from parity_tests.api import check_finite, infer_batch_size
from parity_tests.checks import proving_check
from parity_tests.compare import (
    CheckResult,
    Comparison,
    compare,
    group_result,
    insensitive,
    not_compared,
    tolerance_ratio,
)
from parity_tests.devices import check_device, parity_mode
from parity_tests.diagnose import diagnose
from parity_tests.metrics import Metrics
from parity_tests.tolerances import MIN_SENSITIVITY, Tolerance, tolerance, update_tolerance
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

ScratchStep = Callable[
    [dict[str, np.ndarray], np.ndarray, np.ndarray], tuple[float, Mapping[str, np.ndarray]]
]
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
    raise ValueError(
        f"batch_layouts: X has shape {np.shape(X)} and Y {np.shape(Y)}; only 2-D "
        "(n, m) batches have a default (examples as columns) — pass the layouts, "
        "e.g. (IMAGES, COLUMNS) or (SEQUENCE, COLUMNS) from torch_ref.layout"
    )


def _step_output(
    out: object, t: int, params: Mapping[str, np.ndarray], returns: str
) -> tuple[float, dict[str, np.ndarray]]:
    """``(cost, grads or new params)`` from the learner's step, or an error saying what came back."""
    what = "gradients {'d<name>': array}" if returns == "grads" else "updated parameters {name: array}"
    shape = (
        f"a {type(out).__name__} of ({', '.join(type(v).__name__ for v in out)})"
        if isinstance(out, (tuple, list))
        else f"a {type(out).__name__}"
    )
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"scratch_step: at step {t} returned {shape}; expected (cost, {what})")
    cost, second = out
    if isinstance(cost, Mapping) and not isinstance(second, Mapping):
        raise TypeError(
            f"scratch_step: at step {t} returned {shape}; expected (cost, {what}) — "
            "the two are swapped (the course's propagate returns (grads, cost))"
        )
    if not isinstance(second, Mapping):
        raise TypeError(f"scratch_step: at step {t} returned {shape}; expected (cost, {what})")
    c = np.asarray(cost)
    if c.dtype.kind not in "fiub" or c.size != 1:
        raise TypeError(
            f"scratch_step: at step {t} returned a cost of shape {c.shape} and dtype "
            f"{c.dtype}; expected one number"
        )
    want = ["d" + k for k in params] if returns == "grads" else list(params)
    missing = [k for k in want if k not in second]
    if missing:
        hint = (
            " (it returned parameters: pass step_returns='params')"
            if returns == "grads" and all(k in second for k in params)
            else " (it returned gradients: pass step_returns='grads')"
            if returns == "params" and all("d" + k in second for k in params)
            else ""
        )
        raise ValueError(f"scratch_step: at step {t} returned {sorted(second)}; missing {missing}{hint}")
    return float(c.reshape(())), dict(second)


class _Torch:
    """One torch side: a module, its SGD, its loss and batch layouts, trained one step at a time
    in ``dtype``; parameters go in and out in the course layout through ``param_spec``."""

    def __init__(
        self,
        model: torch.nn.Module,
        torch_loss: TorchLoss,
        param_spec: ParamSpec,
        learning_rate: float,
        layouts: tuple[Layout, Layout],
        device: str,
        dtype: str,
    ) -> None:
        self.model = model.to(device=device, dtype=torch_dtype(dtype))
        self.opt = make_optimizer(self.model.parameters(), learning_rate)
        self.torch_loss, self.param_spec, self.layouts = torch_loss, param_spec, layouts
        self.device, self.dtype = device, dtype

    def load(self, params: Mapping[str, np.ndarray]) -> None:
        load_scratch_params(self.model, params, self.param_spec)

    def params(self) -> dict[str, np.ndarray]:
        return state_dict_to_params(self.model.state_dict(), self.param_spec)

    def step(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One SGD step on the course-layout batch ``(X, Y)``; returns the loss before it."""
        Xt = to_tensor(self.layouts[0].to_torch(X), self.device, self.dtype)
        Yt = to_tensor(self.layouts[1].to_torch(Y), self.device, self.dtype)
        self.opt.zero_grad(set_to_none=True)
        J = self.torch_loss(self.model, Xt, Yt)
        J.backward()
        self.opt.step()
        return J.item()

    def exact(self) -> "_Torch | None":
        """A float64 copy (``None`` in a float64 run): it recomputes each step from the learner's
        parameters, to measure the rounding of this side's update (:func:`_compare_updates`)."""
        if torch_dtype(self.dtype) == torch.float64:
            return None
        return _Torch(
            copy.deepcopy(self.model),
            self.torch_loss,
            self.param_spec,
            self.opt.param_groups[0]["lr"],
            self.layouts,
            self.device,
            "float64",
        )


def torch_trajectory(
    torch_model: torch.nn.Module,
    torch_loss: TorchLoss,
    init_params: Mapping[str, np.ndarray],
    batches: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    param_spec: ParamSpec,
    learning_rate: float,
    batch_layouts: tuple[Layout, Layout] | None = None,
    device: str = "cpu",
    dtype: str = "float64",
) -> tuple[list[dict[str, np.ndarray]], list[float]]:
    """The reference side of :func:`check_training` alone: ``torch.optim.SGD(lr=learning_rate)``
    on ``torch_loss(model, X, Y)``, one step per batch, from ``init_params`` (loaded through
    ``param_spec``), in parity mode. The arguments are :func:`check_training`'s.

    Returns:
        The parameters before every step and after the last (``len(batches) + 1`` dicts, course
        layout, read back through ``param_spec``) and the loss at every step (before its update).
    """
    check_device(device)
    batches = list(batches)
    if not batches:
        raise ValueError("batches: empty — a trajectory of zero steps has no loss")
    np_dtype = numpy_dtype(dtype)
    ref = _Torch(
        torch_model,
        torch_loss,
        param_spec,
        learning_rate,
        batch_layouts or _default_layouts(*batches[0]),
        device,
        dtype,
    )
    ref.load({k: _cast(f"init_params[{k!r}]", v, np_dtype) for k, v in init_params.items()})
    params, losses = [ref.params()], []
    with parity_mode():
        for t, (X, Y) in enumerate(batches):
            losses.append(
                ref.step(
                    _cast(f"batches[{t}][0] (X)", X, np_dtype), _cast(f"batches[{t}][1] (Y)", Y, np_dtype)
                )
            )
            params.append(ref.params())
    return params, losses


@dataclass
class _Step:
    """One step of both sides, course layout: the learner from ``before`` to ``after``, the
    reference from ``ref_before`` to ``ref_after`` (free-running: its own parameters; lockstep:
    ``before``), and ``exact``, the reference's update recomputed in float64 from ``before``
    (``None`` in a float64 run)."""

    t: int
    X: np.ndarray
    cost: float
    J: float
    before: Mapping[str, np.ndarray]
    after: Mapping[str, np.ndarray]
    ref_before: Mapping[str, np.ndarray]
    ref_after: Mapping[str, np.ndarray]
    exact: Mapping[str, np.ndarray] | None = None


@dataclass
class _Reach:
    """One comparison's sensitivity for one parameter (:data:`MIN_SENSITIVITY` in
    :mod:`parity_tests.tolerances`): the largest ratio, over the steps, at which a learner that
    never moved the parameter would have failed, the step, the reference's movement there and
    the tolerance."""

    sensitivity: float = -1.0
    step: int = 0
    size: float = 0.0
    tol: Tolerance = field(default_factory=lambda: Tolerance(0.0, 0.0))

    def see(self, ratio: float, t: int, moved: np.ndarray, tol: Tolerance) -> None:
        if ratio > self.sensitivity:
            self.sensitivity, self.step, self.tol = ratio, t, tol
            self.size = float(np.max(np.abs(moved), initial=0.0))

    def __str__(self) -> str:
        return (
            f"{self.size:.3g}, {max(self.sensitivity, 0.0):.3g}× its tolerance ({self.tol} at "
            f"step {self.step})"
        )


class _Track:
    """A run's comparisons as they happen: each quantity's first failing step, else its closest
    call; each parameter's sensitivity in the distance-from-start and update comparisons."""

    def __init__(
        self, init: Mapping[str, np.ndarray], dtype: str, learning_rate: float, lockstep: bool
    ) -> None:
        self.init, self.dtype, self.learning_rate, self.lockstep = init, dtype, learning_rate, lockstep
        self.failed: dict[str, Comparison] = {}
        self.closest: dict[str, tuple] = {}  # (ratio, step, scratch, torch, tol)
        self.distance = {k: _Reach() for k in init}
        self.update = {k: _Reach() for k in init}
        self.updates: dict[str, list[tuple]] = {k: [] for k in init}  # (step, Δp, Δp̂, |p̂|, noise)

    def see(
        self,
        label: str,
        a: np.ndarray | float,
        e: np.ndarray | float,
        tol: Tolerance,
        t: int,
        m: int | None = None,
        update: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Compare ``a`` (scratch) with ``e`` (torch) at step ``t``: keep the first failure of
        ``label`` — its diagnosis naming that step's ``update`` on each side — or its closest call."""
        if label in self.failed:
            return
        ratio = tolerance_ratio(a, e, tol)
        if ratio <= 1:
            if label not in self.closest or ratio > self.closest[label][0]:
                self.closest[label] = (ratio, t, np.copy(a), np.copy(e), tol)
            return
        rec = compare(label, a, e, tol, step=t)
        if update is not None:  # name the mistake from this step's update Δp = −α dp on each side
            why = diagnose(*update, tol, m=m, learning_rate=self.learning_rate)
            if why:
                rec.diagnosis = f"its update this step is {why}"
        self.failed[label] = rec

    def settle_updates(self) -> None:
        """Compare every step's update (gathered by :func:`_compare_updates`) at
        :func:`~parity_tests.tolerances.update_tolerance`, with the reference's rounding measured
        over the whole run: one step's measurement can be lucky (a sum whose roundings cancel),
        the largest over the run is the rounding this parameter's update is computed with."""
        for name, seen in self.updates.items():
            noise = max((n for *_, n in seen), default=float("inf"))
            for t, m, a, e, stored, _ in seen:
                tol = update_tolerance(
                    self.dtype, self.learning_rate, e, stored, noise, None if self.lockstep else t
                )
                self.update[name].see(tolerance_ratio(np.zeros_like(e), e, tol), t, e, tol)
                self.see(f"update of {name}", a, e, tol, t, m, (a, e))

    def records(self, labels: Sequence[str]) -> list[Comparison]:
        """One record per label: its first failing step, else its closest call."""
        for label, (_, t, a, e, tol) in self.closest.items():
            self.failed.setdefault(label, compare(label, a, e, tol, step=t))
        return [self.failed[k] for k in labels if k in self.failed]

    def sensitivity(self, name: str) -> float:
        """The most sensitive comparison actually made of ``name``."""
        return max(self.distance[name].sensitivity, self.update[name].sensitivity)


def _compare_free_running(track: _Track, step: _Step) -> None:
    """Free-running: the loss and each parameter at step ``t``'s trajectory tolerance (noting how
    far the reference is from the start), then each update (:func:`_compare_updates`)."""
    tol = tolerance(track.dtype, "trajectory", step=step.t)
    track.see("loss", step.cost, step.J, tol, step.t)
    for name, e in step.ref_after.items():
        start = track.init[name]
        track.distance[name].see(tolerance_ratio(start, e, tol), step.t, e - start, tol)
        track.see(
            name,
            step.after[name],
            e,
            tol,
            step.t,
            infer_batch_size(step.X),
            (step.after[name] - step.before[name], e - step.ref_before[name]),
        )
    _compare_updates(track, step)


def _compare_lockstep(track: _Track, step: _Step) -> None:
    """Lockstep (the reference stepped from the learner's parameters): the loss at the gradient
    tolerance, then each update (:func:`_compare_updates`)."""
    track.see("loss", step.cost, step.J, tolerance(track.dtype, "gradient"), step.t)
    _compare_updates(track, step)


def _compare_updates(track: _Track, step: _Step) -> None:
    """The step comparison both modes share: each parameter's update ``Δp = p_{t+1} − p_t``,
    learner against reference, and the reference's rounding of it, ``max |Δp̂ − Δp̃₆₄|`` against
    the float64 recomputation from the learner's parameters (``inf`` where there is none); the
    comparison itself waits for the whole run's rounding (:meth:`_Track.settle_updates`).
    Differences are taken in float64 (exact for stored parameters)."""
    for name, ref_after in step.ref_after.items():
        e = ref_after.astype(np.float64) - step.ref_before[name]
        a = step.after[name].astype(np.float64) - step.before[name]
        noise = (
            float("inf") if step.exact is None else float(np.max(np.abs(e - step.exact[name]), initial=0.0))
        )
        stored = float(np.max(np.abs(ref_after), initial=0.0))
        track.updates[name].append((step.t, infer_batch_size(step.X), a, e, stored, noise))


def _train(
    scratch_step: ScratchStep,
    ref: _Torch,
    params: dict[str, np.ndarray],
    batches: Sequence[tuple[np.ndarray, np.ndarray]],
    track: _Track,
    step_returns: str,
    lockstep: bool,
) -> tuple[dict[str, np.ndarray], list[float], list[float], str | None]:
    """Both sides through every batch, each step compared as it happens; returns the learner's
    final parameters, both loss curves, and why training stopped early (else ``None``)."""
    np_dtype, exact = numpy_dtype(ref.dtype), ref.exact()
    compare_step = _compare_lockstep if lockstep else _compare_free_running
    costs: list[float] = []
    losses: list[float] = []
    ref_before: Mapping[str, np.ndarray] = params
    stopped = None
    for t, (X, Y) in enumerate(batches):
        X, Y = _cast(f"batches[{t}][0] (X)", X, np_dtype), _cast(f"batches[{t}][1] (Y)", Y, np_dtype)
        cost, out = _step_output(scratch_step(params, X, Y), t, params, step_returns)
        if not np.isfinite(cost):
            stopped = f"the scratch cost became {cost} at step {t}; training stopped there"
            break
        after = (
            dict(gd_update(params, out, track.learning_rate))
            if step_returns == "grads"
            else {k: np.asarray(out[k]) for k in params}
        )
        if lockstep:
            ref.load(params)
            ref_before = params
        costs.append(float(cost))
        losses.append(ref.step(X, Y))
        step = _Step(t, X, float(cost), losses[-1], params, after, ref_before, ref.params())
        if exact is not None:
            start = {k: v.astype(np.float64) for k, v in params.items()}
            exact.load(start)
            exact.step(X, Y)
            step.exact = {k: v - start[k] for k, v in exact.params().items()}
        compare_step(track, step)
        params, ref_before = after, step.ref_after
    track.settle_updates()
    return params, costs, losses, stopped


def check_training(
    scratch_step: ScratchStep,
    torch_model: torch.nn.Module,
    torch_loss: TorchLoss,
    init_params: Mapping[str, np.ndarray],
    batches: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    param_spec: ParamSpec,
    learning_rate: float,
    batch_layouts: tuple[Layout, Layout] | None = None,
    step_returns: str = "grads",
    device: str = "cpu",
    dtype: str = "float64",
    concept: str = "user",
    case: str = "training",
    metrics: Metrics | None = None,
    lockstep: bool = False,
    still: Sequence[str] = (),
    verified_by: Mapping[str, str] | None = None,
) -> CheckResult:
    """Gradient descent on both sides, compared step by step: the loss, every parameter (at the
    trajectory tolerance) and every parameter's update (relative to its own measured rounding).

    Args:
        scratch_step: ``(params, X, Y) -> (cost, grads)`` in the course layout, ``grads`` keyed
            ``"d<name>"``; the runner applies ``p := p − α dp`` (``scratch.gd.gd_update``). With
            ``step_returns="params"`` it is the learner's *whole* iteration, returning the
            updated parameters, so their update rule is checked too.
        torch_model: the reference module, moved to ``device``/``dtype`` and loaded with
            ``init_params`` through ``param_spec``; ``torch_loss(model, X, Y) -> J`` on
            torch-layout batches; the runner steps ``torch.optim.SGD(lr=learning_rate)``.
        init_params, batches: the shared start (course layout) and ``[(X, Y), ...]``, one per
            step; ``batch_layouts`` say how they convert (only 2-D batches have a default).
        metrics: ``(final scratch params, trained model) -> {name: value}``, in ``extra["metrics"]``.
        lockstep: step torch from the scratch parameters every step; compare the loss and updates.
        still: parameters meant to stay where they start (zero initialization, ``g(0) = 0``):
            held to staying (else a failing record) instead of to the sensitivity rule.
        verified_by: ``{parameter: id of a registered gradient check}`` — where this run cannot
            see a parameter's gradient (an update lost in the parameter's rounding), the check
            that proves it in the same dtype; validated (it must exist and cover the parameter)
            and shown as a note instead of an INCONCLUSIVE record.

    Returns:
        A :class:`CheckResult`, one record per quantity (``loss``, each parameter, each ``update
        of <name>``): its first failing step, else its closest call; an INCONCLUSIVE record
        ``sensitivity of <name>`` where no comparison could have caught a wrong gradient (the
        sensitivity rule of :mod:`parity_tests.tolerances`). ``extra``: both loss curves,
        ``first_divergence`` (``(step, name)`` or ``None``) and ``sensitivity``.
    """
    batches, still, verified_by = _checked(
        step_returns, batches, init_params, still, verified_by, dtype, device
    )
    dtype_name = str(torch_dtype(dtype)).replace("torch.", "")
    params = {k: _cast(f"init_params[{k!r}]", v, numpy_dtype(dtype)) for k, v in init_params.items()}
    ref = _Torch(
        torch_model,
        torch_loss,
        param_spec,
        learning_rate,
        batch_layouts or _default_layouts(*batches[0]),
        device,
        dtype,
    )
    ref.load(params)
    conversion = [compare(k, v, params[k], tolerance(dtype_name, "forward")) for k, v in ref.params().items()]
    if not all(r.passed for r in conversion):
        return group_result(
            concept,
            case,
            "trajectory",
            device,
            dtype_name,
            conversion,
            diagnosis="the parameter converter does not round-trip: the torch "
            "model does not start from the scratch parameters",
        )
    track = _Track(params, dtype_name, learning_rate, lockstep)
    with parity_mode():
        final, costs, losses, stopped = _train(
            scratch_step, ref, params, batches, track, step_returns, lockstep
        )
    extra = {
        "scratch_loss": costs,
        "torch_loss": losses,
        "learning_rate": learning_rate,
        "sensitivity": {n: track.sensitivity(n) for n in params},
        **({"metrics": metrics(final, ref.model)} if metrics is not None and stopped is None else {}),
    }
    records, notes = _records(track, lockstep, still, verified_by, len(costs), stopped)
    return _result(records, notes, stopped, extra, concept, case, device, dtype_name)


def _checked(
    step_returns: str,
    batches: Sequence,
    init_params: Mapping[str, np.ndarray],
    still: Sequence[str],
    verified_by: Mapping[str, str] | None,
    dtype: str,
    device: str,
) -> tuple[list, list[str], dict[str, str]]:
    """check_training's arguments validated: the batches as a list, ``still`` and ``verified_by``
    (each named check registered and comparing that parameter's gradient in ``dtype``)."""
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
    for what, names in (("still", still), ("verified_by", verified_by or {})):
        if isinstance(names, str) or any(k not in init_params for k in names):
            raise ValueError(f"{what}: expected parameter names from {sorted(init_params)}, got {names!r}")
    verified_by = dict(verified_by or {})
    if verified_by:
        dtype_name = str(torch_dtype(dtype)).replace("torch.", "")
        for name, check_id in verified_by.items():
            proving_check(check_id, name, dtype_name)
    return batches, list(still), verified_by


def _why(track: _Track, name: str, lockstep: bool, steps: int) -> str:
    """Why the run could not have caught a wrong gradient of ``name``, with the numbers."""
    seen = [] if lockstep else [f"its largest distance from the start is {track.distance[name]}"]
    seen.append(f"its largest single-step update is {track.update[name]}")
    return (
        f"could not have failed: at learning_rate={track.learning_rate:g}, over {steps} "
        f"step(s) of the reference, {'; '.join(seen)}. A learner that never updated {name} "
        f"would pass unless one is >= 1, and catching an update wrong by 1/{MIN_SENSITIVITY:g} "
        f"of itself needs >= {MIN_SENSITIVITY:g}× (an update below the rounding of the "
        f"stored {name} is lost on both sides) — raise the learning rate or the number of "
        "steps, start away from the optimum, check in float64, or name the gradient check "
        "that proves it (verified_by)"
    )


def _records(
    track: _Track,
    lockstep: bool,
    still: Sequence[str],
    verified_by: Mapping[str, str],
    steps: int,
    stopped: str | None,
) -> tuple[list[Comparison], list[str]]:
    """The records (``loss``, the parameters unless lockstep, their updates), each blind
    parameter's INCONCLUSIVE record or its ``verified_by`` note, and the ``still`` claims held."""
    names = list(track.init)
    records = track.records(["loss", *([] if lockstep else names), *(f"update of {n}" for n in names)])
    notes: list[str] = []
    if stopped is not None:
        return records, notes
    for n in names:
        mine = [r for r in records if r.name in (n, f"update of {n}")]
        reach = max(track.distance[n], track.update[n], key=lambda r: r.sensitivity)
        if n in still and reach.sensitivity > 1:
            records.append(
                Comparison(
                    f"{n} stays still",
                    (),
                    (),
                    reach.size,
                    float("inf"),
                    None,
                    None,
                    None,
                    reach.tol.rtol,
                    reach.tol.atol,
                    False,
                    f"declared still, but the reference moved "
                    f"it by {reach.size:.3g}, {reach.sensitivity:.3g}× the tolerance, by step "
                    f"{reach.step}",
                    reach.step,
                    reach.sensitivity,
                )
            )
        elif n in still:
            for r in mine:
                r.note = (
                    "declared still: the reference keeps it within the tolerance of its "
                    "start, so this checks that it stays, not its gradient formula"
                )
        elif reach.sensitivity < MIN_SENSITIVITY and n in verified_by:
            note = (
                f"{n}: this run cannot see its gradient (sensitivity {max(reach.sensitivity, 0):.3g} "
                f"< {MIN_SENSITIVITY:g}); it is proven by check {verified_by[n]}"
            )
            notes.append(note)
            for r in mine:
                r.note = note
        elif reach.sensitivity < MIN_SENSITIVITY:
            records.append(
                insensitive(f"sensitivity of {n}", _why(track, n, lockstep, steps), reach.step, reach.tol)
            )
    return records, notes


def _result(
    records: list[Comparison],
    notes: list[str],
    stopped: str | None,
    extra: dict,
    concept: str,
    case: str,
    device: str,
    dtype: str,
) -> CheckResult:
    """The :class:`CheckResult` and its diagnosis: the first step that diverges and in what (an
    update counts with its parameter), else why the run is INCONCLUSIVE, else the notes."""
    failing = [r for r in records if not r.passed and not r.inconclusive]
    first = min(failing, key=lambda r: (r.step, records.index(r))) if failing else None
    blind = [r.name.removeprefix("sensitivity of ") for r in records if r.inconclusive]
    diagnosis = stopped or (
        f"INCONCLUSIVE: the updates of {', '.join(blind)} are too small against the tolerance at "
        f"learning_rate={extra['learning_rate']:g} to reveal a gradient error (see their "
        "sensitivity records)"
        if blind
        else "; ".join(notes) or None
    )
    if first is not None:
        names = [r.name for r in failing if r.step == first.step]
        same_step = [
            n
            for n in names  # an update that fails with its parameter counts once
            if not n.startswith("update of ") or n.removeprefix("update of ") not in names
        ]
        diagnosis = f"first diverges at step {first.step} in {', '.join(same_step)}"
        if same_step == ["loss"]:
            diagnosis += " only: the cost formula differs while the updates agree"
        elif "loss" not in same_step:
            diagnosis += " (the loss still matches at that step): check that parameter's gradient"
        if first.diagnosis:
            diagnosis += f"; {first.name} there: {first.diagnosis}"
    extra["first_divergence"] = (first.step, first.name) if first else None
    result = group_result(concept, case, "trajectory", device, dtype, records, extra, diagnosis=diagnosis)
    if stopped and not failing:
        result.records.append(not_compared("loss", stopped, len(extra["scratch_loss"])))
    return result
