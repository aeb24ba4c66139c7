"""dlparity's one tolerance policy: per dtype and per parity level, each number justified.

An element passes when ``|actual − expected| <= atol + rtol · |expected|`` (the rule of
``torch.testing.assert_close``/``np.isclose``). We start from ``assert_close``'s defaults —
float64 ``(rtol 1e-7, atol 1e-7)``, float32 ``(1.3e-6, 1e-5)``, float16 ``(1e-3, 1e-5)``,
bfloat16 ``(1.6e-2, 1e-5)`` — and change them as written below, never silently: a tolerance
changes only together with its reason in this file.

Why the numbers are what they are
---------------------------------
* Both sides evaluate the same formula in the same dtype; they differ only in the order of
  floating-point operations (BLAS blocking, ``exp``/``log1p`` implementations, reduction
  trees). For a sum of ``n`` terms the difference is bounded by about ``n · ε · Σ|terms|``
  and is typically ``√n · ε`` relative. Our parity sizes have ``n <= ~1000``.
* **float64** (``ε = 1.1e-16``) is where a scratch implementation is *proven* right, so it is
  far tighter than ``assert_close``'s ``1e-7``: forward ``rtol 1e-10`` leaves ~10⁴× the
  expected ``√n ε`` headroom for ``n = 1000`` and still catches any real mistake (a wrong
  formula is off by ``>= 1e-3`` relative, a lost ``1/m`` by a factor). ``atol 1e-12`` covers
  results that cancel to ~0 (ReLU at 0, sums of mixed-sign terms of unit size).
* **gradients** go through one more reduction (``dW = 1/m dZ A_prevᵀ``) and the chain rule
  multiplies roundings: 10× the forward numbers.
* **float32** (``ε = 6e-8``): forward keeps ``assert_close``'s ``rtol 1.3e-6`` (~20 ε) and
  ``atol 1e-5``; gradients ``rtol 1e-5`` (two reductions of up to ~1000 terms, √n ε ≈ 2e-6).
* **float16 / bfloat16** (meant for CUDA; the forward and gradient checks registered with
  ``half=True`` also run them on CPU): scratch computes in float32 on the same half-rounded
  inputs, so the half-precision rounding of torch's intermediates dominates: ``rtol`` ≈ 2 ulps
  at 1 (float16 ``2e-3``, bfloat16 ``1.6e-2``) and an ``atol`` of the same size for values near
  0; gradients 2× that. Measured on CPU: every registered half check within 0.46 of its
  tolerance. Not registered: ``shallow``'s gradients, whose backward through two layers chains
  enough half roundings to reach the bound (1.0 of it in bfloat16, 0.96 in float16) — they need
  a depth-aware rule, justified here, before they can be checked in half precision.
* **trajectories**: both sides start from identical parameters, so step 0 has the gradient
  tolerance. Afterwards each step adds one more independent rounding difference, which
  gradient descent on these (convex or small-step) problems does not amplify; independent
  differences accumulate like a random walk, so the tolerance at step ``t`` (counting from 0)
  is the gradient tolerance × ``√(1 + t)`` (:func:`trajectory_scale`). 1000 steps widen it
  31×, e.g. float64 ``rtol 3e-8``, float32 ``3e-4``: still far below any real mistake.
* **lockstep trajectories** (:func:`lockstep_tolerance`): when torch is reset to the scratch
  parameters before every step, each step's update ``Δp = −α dp`` is one gradient computed
  from the same point, scaled by α: the gradient tolerance with ``atol`` × α (the update's
  scale), and no ``√(1 + t)`` widening, since nothing carries over from step to step.
* **updates** (:func:`update_tolerance`; issue 20: trajectory checks also compare each step's
  update, not only the parameters): every step, free-running or lockstep, compares the learner's
  update ``Δp = p_{t+1} − p_t`` with the reference's, elementwise at the gradient ``rtol``. Its
  ``atol`` is the lockstep one (``atol`` × α: a gradient of unit size that cancels to ~0;
  free-running, both widened by the trajectory's ``√(1 + t)``, since there the learner computes
  its update at its own parameters, which have drifted from the reference's like a random walk:
  over 200 float32 steps of ``rnn``'s digits the updates parted by 1.6× the lockstep bound) unless
  the reference's *own measured rounding* shows the update is computed far more precisely than
  that: in float32 (and half) the reference recomputes the step in float64 from the learner's
  parameters ``p_t``, and ``noise`` = ``max |Δp̂ − Δp̃₆₄|`` over the tensor is what its update in
  the run's dtype got wrong this step — rounding of the gradient (cancellation included: a
  bias whose 10 per-example terms cancel is computed to ~1e-3 relative in float32, not 1e-6),
  the storing of ``p − α dp`` in the parameter's ulp, and in free-running mode the drift from
  the learner's parameters. The learner rounds as much in another order, so the ``atol`` is
  ``min(atol · α, NOISE_FACTOR · noise + rtol · max|Δp̂| + 2ε · max|p̂|)`` — never wider than
  the lockstep tolerance. ``noise`` is the largest over the run's steps: one step's measurement
  can be lucky (a one-element ``db2`` whose roundings cancelled measured 1e-12 where the
  learner's differed by 2.6e-10), the largest over the run is the rounding that parameter's
  updates are computed with. :data:`NOISE_FACTOR` = 10 because the learner rounds as much as
  the reference, in another order: on every registered float32 trajectory (``deep``, ``rnn``,
  ``logreg``, ``shallow``, ``regression``, ``init``, ``cnn``, ``anomaly``, ``compgraph``,
  ``gd``) the learner's update stayed within 0.23 of this tolerance (``shallow``'s planar
  flower ``b2``), i.e. within ~2.3× the reference's measured rounding — 4× headroom — while an
  update wrong by half of itself is caught wherever the update is 20× its measured rounding
  (the sensitivity rule below says where it is not). In float64 there is no wider dtype to
  measure with: the lockstep ``atol`` applies (worst 6.4e-4 of it on the registered runs).
  A vanishing gradient is the case this exists for: ``deep``'s ``lr0.05-h5-tanh-random`` ``b1``
  moves 4.4e-7 in 15 float32 steps (0.012× the trajectory tolerance of 3.7e-5), each step's
  update ~6e-8 computed to 2.5e-3 relative (its 10 per-example terms cancel): its update
  comparison has a sensitivity of 264 (the run's least sensitive parameter, ``b2``, 80).
* **sensitivity** (:data:`MIN_SENSITIVITY`; issue 20: a check that could not have failed never
  passes): a trajectory's tolerance hides any update smaller than itself, so a run whose
  parameters hardly move proves nothing about their gradients (gradients × 7 passed at
  ``α = 1e-6`` in float32 before updates were compared). Per parameter, the *sensitivity* is
  how far past its tolerance a learner that never moved that parameter would have been, in the
  most sensitive comparison the run makes: ``max_t`` of the ratio of the start ``p₀`` against
  the reference's ``p̂_t`` at step ``t``'s trajectory tolerance (free-running only), and of ``0``
  against the reference's update ``Δp̂_t`` at that step's update tolerance (both modes). An
  update wrong by a fraction ``r`` of itself is caught when ``r × sensitivity > 1``. We require
  ``sensitivity >= 2``: every error of at least half the update is caught — a flipped sign
  (``r = 2``), a lost ``1/m`` (``m − 1``), ``× 7`` (6), a missing ½ or α applied twice with
  ``α <= ½`` (``>= ½``). A smaller value is INCONCLUSIVE (never a pass); its record names the
  learning rate, the update size and the tolerances. Measured on every registered trajectory:
  sensitivities of at least 80 in float32 (``deep``'s ``lr0.05-h5-tanh-random`` ``b2``; most
  10³–10⁴) and at least 2.4 in float64 (``rnn/recall-rnn``'s ``Wax``; the rest >= 2.4e3). What
  stays blind is what no comparison of this run can see: parameters that zero initialization
  keeps at 0 by symmetry (declared ``still``, and then checked to stay), a bias whose gradient
  the centred data keep at ~0 (``regression/diabetes-linear``'s ``b``, declared still), and an
  update below the rounding of the stored parameter — ``rnn/recall-rnn``'s ``Wax``, whose
  gradient vanishes like 0.5³⁹ by design: its float32 update (~1e-11) is lost in ``Wax``'s ulp
  (6e-8), on both sides. A registration may then name, with ``verified_by``, the gradient
  check that proves that parameter's gradient in the same dtype (the harness checks that it
  exists and covers it); the trajectory then notes it instead of claiming it.
* **finite differences** (float64 only, independent of torch): central differences with step
  ``h = 1e-6 · max(1, |x|)`` have truncation error ``O(h²) ≈ 1e-12`` and rounding error
  ``O(ε/h) ≈ 1e-10`` relative to the objective's scale: ``rtol 1e-6, atol 1e-7`` sits 1000×
  above that and 1000× below a wrong derivative.
* **optimum** (converged parameters vs an independent solver, e.g. scikit-learn's L-BFGS):
  gradient descent is stopped once ``max |∇J| < g_tol`` (float64 ``1e-11``, float32 ``1e-6``,
  about where float32 gradients stop improving); then ``|θ − θ*| <= |∇J| / λ_min(H)``.
  For the well-conditioned problems we use (``λ_min(H) >= 1e-3``) that is ``<= 1e-8`` in
  float64 — measured 8.6e-9 on breast cancer, the solver's own error ~3e-8 — so float64 has
  ``1e-6``. In float32 the gradient itself carries rounding of ``~ε·√m`` (1.5e-6 for m = 569),
  giving ``|θ − θ*|`` up to ~1e-3 (measured 7.4e-4): float32 has ``1e-3``.
* **statistical** (``init``: the two sides draw the same *distribution*, never the same
  stream): limits follow from the sample size ``N`` alone, not from floating point. Moments
  pass within :data:`MOMENT_SE` = 5 standard errors (``SE(mean) = σ/√N``,
  ``SE(std) ≈ σ/√(2N)``): a correct sampler fails with probability ~6e-7 per moment, while a
  wrong ``σ`` (fan-out instead of fan-in, 18% off for a 300×200 weight) is ~70 SE away.
  Kolmogorov–Smirnov statistics pass below the critical value at level :data:`KS_ALPHA` = 1e-4
  (``D_crit = √(−ln(α/2) / (2 N_eff))``; ``N_eff = N`` for one sample, ``N₁N₂/(N₁+N₂)`` for two).

Production (issue 14: another runtime, data-parallel training, files)
--------------------------------------------------------------------
* **runtime** (:func:`runtime_tolerance`: ONNX Runtime vs eager torch, and vs scratch) is the
  *forward* tolerance, not a wider one. ONNX Runtime evaluates the same graph in the same dtype
  with its own kernels (MLAS/Eigen GEMMs with another blocking, its own ``tanh``/``sigmoid``/
  softmax): again only a different order and rounding of the same operations. Measured on the
  registered models (CPU, batches up to 300, inputs of scale 3): worst 0.05 of the forward
  tolerance in float32 and 2e-4 in float64 — the same size as eager torch vs scratch. Its
  ``Sigmoid`` is accurate in absolute terms only (≤ 1 ulp of 1, i.e. 1.2e-7 / 2.2e-16 at
  ``σ(−12) ≈ 6e-6``), which the forward ``atol`` covers with 80× / 4500× headroom. One real
  difference is *not* a rounding and is not covered on purpose: ONNX's ``LeakyRelu`` stores its
  slope as a float32 attribute, so a float64 model computes with ``α = 0.009999999776…``
  (relative 2.2e-8 on the negative side) — a parity trap, tested and stated, never tolerated.
* **distributed** (:func:`distributed_tolerance`: ``W`` DDP processes vs one process, or vs
  scratch, at step ``t``) is the trajectory tolerance × √2. Each rank's gradient is a mean over
  its shard, and the all-reduce adds the ``W`` shard gradients in the backend's order: the same
  ``m`` terms summed in another grouping, so the per-step difference from one process has the
  gradient level's size (``√m ε`` relative) and accumulates over steps like the trajectory's
  random walk. DDP vs scratch combines that reordering with torch-vs-scratch's, two independent
  differences of the same size: √2 of one. Measured (digits, 6 steps, 2, 3 and 4 ranks, equal
  and unequal shards): worst 0.006 of it in float32, 1e-6 in float64. A wrong weighting of
  unequal shards (the mean per shard, 4 ranks, 95 examples) moves the parameters by up to 4e-4
  at the first step — 29× float32's bound, 10⁷× float64's.
* **kernels** (:func:`kernel_tolerance`): a library kernel that is documented or measured to be
  less accurate than IEEE arithmetic in the run's dtype gets its own tolerance here, used by one
  check that names that kernel — never by the ordinary checks, which run an accurate path on the
  same device at the policy above. One so far, ``"cudnn-rnn"``: cuDNN's fused ``RNN_TANH`` and
  ``LSTM`` kernels in float32 (TF32 off, deterministic). Measured on an H200 (torch 2.11+cu130),
  cuDNN vs scratch: forward states (T = 6) up to 7.9e-6 abs where torch's CPU kernels differ by
  1.2e-7 (65× more; the cuDNN states are not IEEE-rounded ``tanh``/``σ``), BPTT gradients up
  to 1.24e-4 abs / 1.8e-4 relative on entries of size 0.6 (vanilla; LSTM 1.2e-5), T = 200 states
  1.85e-5 abs. That is 10× the float32 forward ``atol`` and 12× the gradient ``rtol``, so the
  ordinary ``rnn`` checks run torch's own CUDA kernels (cuDNN off: cuBLAS GEMMs, IEEE ``tanh``,
  held to the policy like every other CUDA check), and the ``*-cudnn`` checks hold cuDNN to
  forward ``rtol 1e-3, atol 1e-4``, gradients 2× that: 5–10× above the worst measured error,
  and still 100× below a real mistake (a swapped gate, a missing bias or ``1 − a²`` written
  ``1 − a`` moves values by 1e-1 relative); subtler mistakes are the strict checks' job. In
  float64 cuDNN matched scratch to 2e-16 (forward) and 1.5e-13 (gradients): the policy's own
  numbers apply. Rerun on an H100 (torch 2.11+cu130) with these checks in place: cuDNN float32
  forward states up to 7.8e-6 abs, gradients 3.1e-5 abs, T = 200 states 2.0e-5 abs — at most
  0.2 of this tolerance — while the ordinary checks on torch's own CUDA kernels stayed at the
  policy (float32 states 1.2e-7, gradients through time 1.4e-6 abs).
* **exact** (:data:`EXACT`): a ``.safetensors`` round trip copies bytes, and a module loaded from
  a file must give bit-identical outputs to one loaded from the same arrays in memory. Any
  difference is a bug, so the tolerance is zero (and the checks compare the bytes as well).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TOLERANCE_LEVELS = ("forward", "gradient", "finite-difference", "trajectory", "optimum")
"""The parity levels with a tolerance of their own (:func:`tolerance`), in report order."""
LEVELS = (*TOLERANCE_LEVELS, "property", "oracle")
"""Every parity level a check is registered at, in report order (the registry sorts by it; its
``LEVEL_ORDER`` is this tuple). ``property``: not a comparison of two computations on the same
data (both initializers draw one distribution, an invariant holds); ``oracle``: held against an
independent implementation (scikit-learn, SciPy). Neither has a tolerance of its own: their
records compare at the level of what they compare (``forward``, ``optimum``, …)."""

MOMENT_SE = 5.0
"""Statistical checks: a sample moment passes within this many standard errors."""
KS_ALPHA = 1e-4
"""Statistical checks: the Kolmogorov–Smirnov test's level."""


MIN_SENSITIVITY = 2.0
"""Trajectory checks: a learner that never moved a parameter must fail by at least this factor
of the tolerance, or the check of that parameter is INCONCLUSIVE (see "sensitivity" above)."""
NOISE_FACTOR = 10.0
"""Trajectory updates: the learner's rounding may be this many times the reference's own
measured rounding of the same update (see "updates" above)."""
_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


@dataclass(frozen=True)
class Tolerance:
    """``|actual − expected| <= atol + rtol · |expected|`` elementwise; ``rtol`` and ``atol``
    finite and ``>= 0`` (a negative bound would pass nothing or, as ``atol + rtol·|e|`` mixes
    signs, anything; NaN compares false everywhere)."""

    rtol: float
    atol: float

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise TypeError(f"Tolerance: {name} must be a real number, got {v!r} ({type(v).__name__})")
            if not math.isfinite(v) or v < 0:
                raise ValueError(
                    f"Tolerance: {name}={v!r} must be a finite number >= 0 "
                    "(a negative, NaN or infinite tolerance would make the check "
                    "pass or fail regardless of the values)"
                )

    def scaled(self, factor: float) -> "Tolerance":
        return Tolerance(self.rtol * factor, self.atol * factor)

    def __str__(self) -> str:
        return f"rtol={self.rtol:.1e}, atol={self.atol:.1e}"


_POLICY: dict[tuple[str, str], Tolerance] = {
    ("float64", "forward"): Tolerance(1e-10, 1e-12),
    ("float64", "gradient"): Tolerance(1e-9, 1e-11),
    ("float32", "forward"): Tolerance(1.3e-6, 1e-5),
    ("float32", "gradient"): Tolerance(1e-5, 1e-5),
    ("float16", "forward"): Tolerance(2e-3, 2e-3),
    ("float16", "gradient"): Tolerance(4e-3, 4e-3),
    ("bfloat16", "forward"): Tolerance(1.6e-2, 1.6e-2),
    ("bfloat16", "gradient"): Tolerance(3.2e-2, 3.2e-2),
}
_FINITE_DIFFERENCE = Tolerance(1e-6, 1e-7)
_OPTIMUM = {"float64": Tolerance(1e-6, 1e-6), "float32": Tolerance(1e-3, 1e-3)}
OPTIMUM_GRAD_TOL = {"float64": 1e-11, "float32": 1e-6}
"""Gradient-descent stopping rule for ``optimum`` checks: ``max |∇J| < OPTIMUM_GRAD_TOL[dtype]``."""
FD_STEP = 1e-6
"""Relative finite-difference step ``h = FD_STEP · max(1, |x|)``."""


def trajectory_scale(step: int) -> float:
    """How much the gradient tolerance widens at training step ``step`` (0-based): ``√(1 + t)``."""
    return math.sqrt(1 + step)


def tolerance(dtype: str, level: str, step: int = 0) -> Tolerance:
    """The tolerance for comparing at ``dtype`` (its name) and ``level`` (one of
    :data:`TOLERANCE_LEVELS`).

    ``step`` only matters for ``"trajectory"``.
    """
    dtype = str(dtype).replace("torch.", "")
    if level == "finite-difference":
        if dtype != "float64":
            raise ValueError(f"dtype: finite-difference checks run in float64 only, got {dtype}")
        return _FINITE_DIFFERENCE
    if level == "optimum":
        if dtype not in _OPTIMUM:
            raise ValueError(f"dtype: optimum checks run in float32/float64, got {dtype}")
        return _OPTIMUM[dtype]
    if level not in TOLERANCE_LEVELS:
        why = " (it has no tolerance of its own)" if level in LEVELS else ""
        raise ValueError(f"level: expected one of {TOLERANCE_LEVELS}, got {level!r}{why}")
    base_level = "gradient" if level == "trajectory" else level
    try:
        tol = _POLICY[(dtype, base_level)]
    except KeyError:
        raise ValueError(
            f"dtype: no tolerance for {dtype!r}; expected float64, float32, float16 or bfloat16"
        ) from None
    return tol.scaled(trajectory_scale(step)) if level == "trajectory" else tol


def lockstep_tolerance(dtype: str, learning_rate: float) -> Tolerance:
    """A lockstep trajectory's update ``Δp = −α dp`` (see the module docstring)."""
    tol = tolerance(dtype, "gradient")
    return Tolerance(tol.rtol, tol.atol * abs(learning_rate))


def update_tolerance(
    dtype: str,
    learning_rate: float,
    reference_update: np.ndarray,
    reference_param: np.ndarray | float,
    noise: float = math.inf,
    step: int | None = None,
) -> Tolerance:
    """One training step's update ``Δp`` of one parameter, the learner's against the reference's
    ``reference_update``; ``reference_param`` is the parameter after the step (or its largest
    magnitude), ``noise`` the reference's own measured rounding of the update, ``max |Δp̂ − Δp̃₆₄|``
    (``inf``: not measured, as in float64), ``step`` the step of a free-running run (``None``:
    lockstep). The lockstep tolerance — widened by :func:`trajectory_scale` in a free-running
    run — its ``atol`` narrowed to what the measured rounding allows (see "updates" above)."""
    dtype = str(dtype).replace("torch.", "")
    cap = lockstep_tolerance(dtype, learning_rate).scaled(1.0 if step is None else trajectory_scale(step))
    size = float(np.max(np.abs(reference_update), initial=0.0))
    stored = float(np.max(np.abs(reference_param), initial=0.0))
    measured = NOISE_FACTOR * noise + cap.rtol * size + 2 * _EPS[dtype] * stored
    return Tolerance(cap.rtol, min(cap.atol, measured))


# --- production: another runtime, data-parallel training, file round trips ------------------
# (added with issue 14; the reasons are in the module docstring's "Production" paragraphs)
EXACT = Tolerance(0.0, 0.0)
"""Bitwise: a file round trip (safetensors) copies bytes; any difference at all is a bug."""
DISTRIBUTED_FACTOR = math.sqrt(2)
"""``distributed`` = trajectory tolerance × √2 (two independent reorderings; see the docstring)."""


def runtime_tolerance(dtype: str) -> Tolerance:
    """ONNX Runtime (or another runtime) vs eager torch, and vs scratch: the *forward* numbers."""
    return tolerance(dtype, "forward")


def distributed_tolerance(dtype: str, step: int = 0) -> Tolerance:
    """DDP (``W`` processes, all-reduced gradients) vs one process, or vs scratch, at ``step``."""
    return tolerance(dtype, "trajectory", step).scaled(DISTRIBUTED_FACTOR)


_KERNELS: dict[tuple[str, str, str], Tolerance] = {
    ("cudnn-rnn", "float32", "forward"): Tolerance(1e-3, 1e-4),
    ("cudnn-rnn", "float32", "gradient"): Tolerance(2e-3, 2e-4),
}
KERNELS = ("cudnn-rnn",)
"""Kernels with their own tolerance (see "kernels" in the module docstring)."""


def kernel_tolerance(kernel: str, dtype: str, level: str) -> Tolerance:
    """The tolerance for a named, less accurate kernel (one of :data:`KERNELS`) at ``dtype`` and
    ``level`` (``forward``/``gradient``); the policy's own where that kernel is accurate."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    if level not in ("forward", "gradient"):
        raise ValueError(f"level: kernel tolerances exist for forward and gradient, got {level!r}")
    dtype = str(dtype).replace("torch.", "")
    return _KERNELS.get((kernel, dtype, level)) or tolerance(dtype, level)
