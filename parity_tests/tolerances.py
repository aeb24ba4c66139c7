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
* **sensitivity** (:data:`MIN_SENSITIVITY`; issue 20: a check that could not have failed never
  passes): a trajectory's tolerance hides any update smaller than itself, so a run whose
  parameters hardly move proves nothing about their gradients (gradients × 7 passed at
  ``α = 1e-6`` in float32). Per parameter, the *sensitivity* is how far past its tolerance a
  learner that never moved that parameter would have been — ``max_t`` of the comparison ratio
  of the start ``p₀`` against the reference's ``p̂_t`` at step ``t``'s tolerance (lockstep: of
  ``0`` against the reference's update ``Δp̂_t`` at the lockstep tolerance). An update wrong by
  a fraction ``r`` of itself moves the parameter ``r`` times as far from the reference, so it
  is caught when ``r × sensitivity > 1``. We require ``sensitivity >= 2``: every error of at
  least half the update is caught — a flipped sign (``r = 2``), a lost ``1/m`` (``m − 1``),
  ``× 7`` (6), a missing ½ or α applied twice with ``α <= ½`` (``>= ½``). A smaller value is
  INCONCLUSIVE (never a pass); its record names the learning rate, the update size and the
  tolerance. Measured on the registered trajectories: sensitivities of 10³–10⁴ (float32) and
  10⁶–10⁹ (float64), except where the check is indeed blind — parameters that zero
  initialization keeps at 0 by symmetry (declared ``still``, and then checked to stay), a
  bias whose gradient the centred data keep at ~0 (``regression/diabetes-linear``'s ``b``),
  float32 runs of 15 steps from ``randn · 0.01`` whose early layers move less than the
  float32 tolerance (vanishing gradients: 8 of the ``deep`` grid, e.g. ``lr0.05-h5-tanh-random``'s
  ``b1`` moves 4.4e-7 against a tolerance of 3.7e-5), and ``rnn/recall-rnn``'s ``Wax``, whose
  gradient vanishes like 0.5⁴⁰ by design (0.35× in float64, 0 in float32): INCONCLUSIVE there is
  the true verdict — a learner that never updated those parameters would have passed.
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

LEVELS = ("forward", "gradient", "trajectory", "finite-difference", "optimum")

MOMENT_SE = 5.0
"""Statistical checks: a sample moment passes within this many standard errors."""
KS_ALPHA = 1e-4
"""Statistical checks: the Kolmogorov–Smirnov test's level."""


MIN_SENSITIVITY = 2.0
"""Trajectory checks: a learner that never moved a parameter must fail by at least this factor
of the tolerance, or the check of that parameter is INCONCLUSIVE (see "sensitivity" above)."""


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
                raise TypeError(f"Tolerance: {name} must be a real number, got {v!r} "
                                f"({type(v).__name__})")
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"Tolerance: {name}={v!r} must be a finite number >= 0 "
                                 "(a negative, NaN or infinite tolerance would make the check "
                                 "pass or fail regardless of the values)")

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
    """The tolerance for comparing at ``dtype`` (its name) and ``level`` (one of :data:`LEVELS`).

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
    if level not in LEVELS:
        raise ValueError(f"level: expected one of {LEVELS}, got {level!r}")
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
