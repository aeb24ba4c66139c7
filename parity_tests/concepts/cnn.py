"""Parity checks of ``cnn``: convolution, pooling and the small convnet vs ``nn.Conv2d``,
``nn.MaxPool2d``/``nn.AvgPool2d`` and :class:`torch_ref.cnn.ConvNet`.

- **convolution**, vectorized form, for the whole grid ``f ∈ {1, 2, 3, 5}`` × ``s ∈ {1, 2, 3}``
  × ``p ∈ {0, 1, 2}`` × ``n_C_prev ∈ {1, 3}`` on non-square ``7 × 10`` images (``"same"``
  padding where ``s = 1`` and ``p = (f − 1)/2``; strides that do not divide ``n + 2p − f``):
  ``Z``, then ``dA_prev``, ``dW``, ``db`` from a random upstream ``dZ``. The loop form on a
  sub-grid; half precision on another. ``conv_backward`` sums over the examples with no
  ``1/m`` (the course's), so no ``grad_scale`` is needed.
- **pooling**, both forms, ``max`` and ``avg``, ``(f, s)`` with gaps (``s > f``), tiling
  (``s = f``) and overlapping windows (``s < f``); and windows of tied maxima.
- **the convnet**: softmax output; the cost's gradients w.r.t. all six parameters; both forms,
  both pooling modes; float64 finite differences of every scratch backward.
- **trajectory**: the convnet trained on scikit-learn's bundled digits as ``(m, 8, 8, 1)``;
  held-out accuracy of both sides in ``extra["metrics"]``.

A failing layer check also names the typical convolution mistake it matches
(:mod:`parity_tests.concepts._cnn_diagnose`).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from parity_tests.compare import CheckResult
from parity_tests.concepts import _cnn_diagnose as D
from parity_tests.datasets import digits
from parity_tests.registry import (
    Model,
    ModuleFunction,
    ScratchCall,
    forward_run,
    gradient_run,
    model_problem,
    param_layouts,
    register_finite_differences,
    register_forward,
    register_gradient,
    register_model,
    register_trajectory,
)
from parity_tests.tolerances import tolerance
from scratch import cnn as S
from scratch.activations import softmax
from scratch.losses import one_hot, softmax_cross_entropy
from torch_ref import cnn as T
from torch_ref.layout import IMAGES, images_to_torch, to_numpy

M, N_H, N_W, N_C = 2, 7, 10, 4  # examples, non-square images, filters: distinct sizes
CONV_GRID = list(itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 3)))
"""Every ``(f, s, p, n_C_prev)`` of the issue: 72 configurations (all run by ``test_cnn.py``)."""
CONV_REGISTERED = [
    (1, 1, 0, 1),
    (1, 2, 1, 3),
    (2, 1, 0, 3),
    (2, 2, 1, 1),
    (2, 3, 2, 3),
    (3, 1, 1, 3),
    (3, 2, 0, 1),
    (3, 2, 1, 3),
    (3, 3, 2, 1),
    (3, 1, 2, 1),
    (5, 1, 2, 3),
    (5, 2, 2, 1),
    (5, 3, 0, 3),
    (5, 1, 0, 1),
]
"""The report's sub-grid: every ``f``, ``s``, ``p`` and ``n_C_prev``; "same" padding (f1-p0,
f3-p1, f5-p2 at s = 1); strides that do not divide ``n + 2p − f`` (e.g. f3-s2-p0: 7 − 3 = 4
rows but 10 − 3 = 7 columns)."""
LOOP_REGISTERED = [(3, 2, 1, 3), (5, 3, 2, 1), (2, 1, 0, 3)]


def half_gradient_ok(f: int, s: int) -> bool:
    """Whether the half-precision rule of the policy covers a convolution's gradients: each
    ``dA_prev`` entry sums ``n_C · ⌈f/s⌉²`` products (every window overlapping it), and CPU
    float16/bfloat16 accumulate them in half. Up to 16 products the worst check measured 0.62
    of the bound; at 36 (``f = 3, s = 1``) up to 1.9 — beyond what the policy's 2-ulp rule is
    for (like ``shallow``'s two-layer gradients). Forwards (``f·f·n_C_prev`` products,
    accumulated in float32) measured <= 0.21 and are all registered in half precision."""
    return N_C * math.ceil(f / s) ** 2 <= 16


POOL_GRID = [(1, 1), (2, 2), (3, 3), (2, 1), (3, 2), (3, 1), (2, 3)]
"""``(f, s)``: tiling (s = f), overlapping windows (s < f) and gaps (s > f)."""
POOL_REGISTERED = [(2, 2), (3, 2), (2, 1), (2, 3)]
CONV_WRT = ["A_prev", "W", "b"]


Run = Callable[[str, str], CheckResult]


# --- the scratch side as functions of the check's inputs ------------------------------------
def conv_z(A_prev, W, b, *, form: str, stride: int, pad: int) -> np.ndarray:
    return S.FORMS[form][0](A_prev, W, b, stride, pad)[0]


def conv_grads(G, A_prev, W, b, *, form: str, stride: int, pad: int) -> dict[str, np.ndarray]:
    forward, backward = S.FORMS[form][:2]
    dA_prev, dW, db = backward(G, forward(A_prev, W, b, stride, pad)[1])
    return {"dA_prev": dA_prev, "dW": dW, "db": db}


def pool_a(A_prev, *, form: str, f: int, stride: int, mode: str) -> np.ndarray:
    return S.FORMS[form][2](A_prev, f, stride, mode)[0]


def pool_grads(G, A_prev, *, form: str, f: int, stride: int, mode: str) -> dict[str, np.ndarray]:
    forward, backward = S.FORMS[form][2:]
    return {"dA_prev": backward(G, forward(A_prev, f, stride, mode)[1])}


# --- convolution ----------------------------------------------------------------------------
def conv_case(form: str, f: int, s: int, p: int, c: int) -> str:
    same = "-same" if s == 1 and 2 * p == f - 1 else ""
    return f"conv-{form}-f{f}-s{s}-p{p}-c{c}{same}"


def conv_inputs(
    f: int, c: int, rng: np.random.Generator, shape: tuple[int, int, int] = (M, N_H, N_W)
) -> dict[str, np.ndarray]:
    """``A_prev (m, n_H_prev, n_W_prev, c)``, ``W (f, f, c, 4)``, ``b (1, 1, 1, 4)``, standard normal."""
    return {
        "A_prev": rng.standard_normal((*shape, c)),
        "W": rng.standard_normal((f, f, c, N_C)),
        "b": rng.standard_normal((1, 1, 1, N_C)),
    }


def torch_conv(c: int, f: int, s: int, p: int):
    """``nn.Conv2d`` itself as a function of ``(A_prev, W, b)`` (built when a check first calls
    it), and the inputs' layouts."""
    fn = ModuleFunction(partial(nn.Conv2d, c, N_C, f, s, p, device="meta"), T.CONV_SPEC, inputs=("A_prev",))
    return fn, {**param_layouts(T.CONV_SPEC), "A_prev": IMAGES}


def conv_explain_forward(s: int, p: int) -> Callable[[ScratchCall, str], str | None]:
    """The convolution forward's typical mistakes (:func:`_cnn_diagnose.conv_forward`)."""

    def explain(call: ScratchCall, dtype: str) -> str | None:
        return D.conv_forward(call.out, **call.kwargs, stride=s, pad=p, tol=tolerance(dtype, "forward"))

    return explain


def conv_explain_backward(s: int, p: int) -> Callable[[ScratchCall, str], str | None]:
    """The convolution backward's typical mistakes (:func:`_cnn_diagnose.conv_backward`)."""

    def explain(call: ScratchCall, dtype: str) -> str | None:
        grads = {k: call.out["d" + k] for k in CONV_WRT}
        return D.conv_backward(
            grads, call.kwargs["A_prev"], call.kwargs["W"], call.args[0], s, p, tolerance(dtype, "gradient")
        )

    return explain


def conv_specs(form: str, f: int, s: int, p: int, c: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(case, forward, gradient)``: the keyword arguments of :func:`register_forward` and
    :func:`register_gradient` (less ``concept``/``case``) of one configuration."""
    case = conv_case(form, f, s, p, c)
    fn, layouts = torch_conv(c, f, s, p)
    hp = {"form": form, "stride": s, "pad": p}
    kw = {"layouts": layouts, "output_layout": IMAGES, "m": M}
    make_inputs = partial(conv_inputs, f, c)
    return (
        case,
        {
            "scratch_fn": partial(conv_z, **hp),
            "torch_fn": fn,
            "make_inputs": make_inputs,
            "explain": conv_explain_forward(s, p),
            **kw,
        },
        {
            "scratch_grads": partial(conv_grads, **hp),
            "torch_fn": fn,
            "make_inputs": make_inputs,
            "wrt": CONV_WRT,
            "vjp": True,
            "explain": conv_explain_backward(s, p),
            **kw,
        },
    )


def conv_checks(form: str, f: int, s: int, p: int, c: int) -> tuple[Run, Run, str]:
    """``(forward, gradient, case)``: the registered runs ``run(device, dtype)`` of one
    configuration (``test_cnn.py`` runs them on the whole grid)."""
    case, fw, gr = conv_specs(form, f, s, p, c)
    return forward_run("cnn", case, **fw), gradient_run("cnn", case, **gr), case


def register_conv(
    form: str, f: int, s: int, p: int, c: int, half: bool = False, half_gradient: bool = False
) -> None:
    """Register the forward and gradient checks of one convolution configuration."""
    case, fw, gr = conv_specs(form, f, s, p, c)
    register_forward("cnn", case, half=half, **fw)
    register_gradient("cnn", case, half=half_gradient, **gr)


for _cfg in CONV_REGISTERED:
    register_conv("vectorized", *_cfg, half=True, half_gradient=half_gradient_ok(*_cfg[:2]))
for _cfg in LOOP_REGISTERED:
    register_conv("loop", *_cfg)
_hp = {"form": "vectorized", "stride": 2, "pad": 1}  # on 5 × 6 images: every entry costs two forwards
register_finite_differences(
    "cnn",
    "conv-vectorized-f3-s2-p1-c3",
    partial(conv_z, **_hp),
    partial(conv_grads, **_hp),
    partial(conv_inputs, 3, 3, shape=(2, 5, 6)),
    CONV_WRT,
    vjp=True,
)


# --- pooling --------------------------------------------------------------------------------
def pool_inputs(
    ties: bool, rng: np.random.Generator, shape: tuple[int, int, int, int] = (M, N_H, N_W, 3)
) -> dict[str, np.ndarray]:
    """``A_prev (m, 7, 10, 3)``; with ``ties``, integers 0..2 so that most windows hold equal maxima."""
    return {"A_prev": rng.integers(0, 3, shape).astype(float) if ties else rng.standard_normal(shape)}


def torch_pool(mode: str, f: int, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``nn.MaxPool2d``/``nn.AvgPool2d`` itself, as a function of ``A_prev`` (the module, which
    holds no parameters, is built by each call, not when a check is registered)."""

    def fn(A_prev: torch.Tensor) -> torch.Tensor:
        return T.make_pool(mode, f, s)(A_prev)

    return fn


def max_pool_explain(f: int, s: int) -> Callable[[ScratchCall, str], str | None]:
    """The max-pool backward's tie rule, if it is not torch's (:func:`_cnn_diagnose.max_pool_backward`)."""

    def explain(call: ScratchCall, dtype: str) -> str | None:
        return D.max_pool_backward(
            call.out["dA_prev"], call.kwargs["A_prev"], f, s, call.args[0], tolerance(dtype, "gradient")
        )

    return explain


def pool_specs(
    form: str, mode: str, f: int, s: int, ties: bool = False
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(case, forward, gradient)``: the keyword arguments of :func:`register_forward` and
    :func:`register_gradient` of one pooling configuration."""
    case = f"pool-{form}-{mode}-f{f}-s{s}" + ("-ties" if ties else "")
    fn = torch_pool(mode, f, s)
    hp = {"form": form, "f": f, "stride": s, "mode": mode}
    kw = {
        "layouts": {"A_prev": IMAGES},
        "output_layout": IMAGES,
        "m": M,
        "torch_fn": fn,
        "make_inputs": partial(pool_inputs, ties),
    }
    return (
        case,
        {"scratch_fn": partial(pool_a, **hp), **kw},
        {
            "scratch_grads": partial(pool_grads, **hp),
            "wrt": ["A_prev"],
            "vjp": True,
            "explain": max_pool_explain(f, s) if mode == "max" else None,
            **kw,
        },
    )


def pool_checks(form: str, mode: str, f: int, s: int, ties: bool = False) -> tuple[Run, Run, str]:
    """``(forward, gradient, case)``: the registered runs of one pooling configuration."""
    case, fw, gr = pool_specs(form, mode, f, s, ties)
    return forward_run("cnn", case, **fw), gradient_run("cnn", case, **gr), case


def register_pool(form: str, mode: str, f: int, s: int, ties: bool = False, half: bool = False) -> None:
    """Register the forward and gradient checks of one pooling configuration."""
    case, fw, gr = pool_specs(form, mode, f, s, ties)
    register_forward("cnn", case, half=half, **fw)
    register_gradient("cnn", case, half=half, **gr)


for _mode, (_f, _s) in itertools.product(S.POOL_MODES, POOL_REGISTERED):
    register_pool("vectorized", _mode, _f, _s, half=True)
    if (_f, _s) == (3, 2):
        register_pool("loop", _mode, _f, _s)
for _form, (_f, _s) in itertools.product(("vectorized", "loop"), ((2, 2), (3, 1))):
    register_pool(_form, "max", _f, _s, ties=True)
for _mode, (_f, _s) in (("max", (3, 2)), ("avg", (2, 2))):
    _hp = {"form": "vectorized", "f": _f, "stride": _s, "mode": _mode}
    register_finite_differences(
        "cnn",
        f"pool-vectorized-{_mode}-f{_f}-s{_s}",
        partial(pool_a, **_hp),
        partial(pool_grads, **_hp),
        partial(pool_inputs, False, shape=(2, 5, 6, 2)),
        ["A_prev"],
        vjp=True,
    )


# --- the convnet ----------------------------------------------------------------------------
NET_M = 6
NETS = {
    mode: S.ConvNetConfig(
        input_shape=(7, 9, 2),
        channels=(3, 4),
        f=3,
        stride=1,
        pad=1,
        pool_f=2,
        pool_stride=2,
        pool_mode=mode,
        n_y=5,
    )
    for mode in S.POOL_MODES
}
"""Small nets for the layer-by-layer checks: ``Z1 (7, 9, 3) → P1 (3, 4, 3) → Z2 (3, 4, 4) →
P2 (1, 2, 4) → 8 features → 5 classes``."""
NET_FD = S.ConvNetConfig(
    input_shape=(5, 6, 1),
    channels=(2, 3),
    f=3,
    stride=1,
    pad=1,
    pool_f=2,
    pool_stride=2,
    pool_mode="max",
    n_y=4,
)
"""A smaller net for central differences (93 parameters, two forward passes each)."""
NET_PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def net_inputs(config: S.ConvNetConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Parameters (He, with non-zero biases), images and one-hot labels ``Y (n_y, m)``."""
    params = S.initialize_convnet(config, rng)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) if k[0] == "b" else v for k, v in params.items()}
    X = rng.standard_normal((NET_M, *config.input_shape))
    return {**params, "X": X, "Y": one_hot(rng.integers(0, config.n_y, NET_M), config.n_y)}


def _net_params(kw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: kw[k] for k in NET_PARAMS}


def net_cost(*, config: S.ConvNetConfig, form: str = "vectorized", **kw) -> np.floating:
    return softmax_cross_entropy(S.convnet_forward(kw["X"], _net_params(kw), config, form)[0], kw["Y"])


def net_grads(*, config: S.ConvNetConfig, form: str = "vectorized", **kw) -> dict[str, np.ndarray]:
    return S.propagate(_net_params(kw), kw["X"], kw["Y"], config, form)[1]


def convnet_proba(
    params: dict[str, np.ndarray], X: np.ndarray, *, config: S.ConvNetConfig, form: str = "vectorized"
) -> np.ndarray:
    """The convnet's class probabilities ``softmax(Z3)``, ``(n_y, m)``."""
    return softmax(S.convnet_forward(X, params, config, form)[0])


def convnet(config: S.ConvNetConfig, form: str = "vectorized") -> Model:
    """The convnet as a :class:`~parity_tests.registry.Model`: scratch's ``propagate`` (either
    form) against :class:`torch_ref.cnn.ConvNet` and its own ``loss``; images ``X`` in
    ``IMAGES`` (NHWC ⇄ NCHW), one-hot ``Y (n_y, m)`` and the probabilities in ``COLUMNS``."""
    return Model(
        propagate=partial(S.propagate, config=config, form=form),
        forward=partial(convnet_proba, config=config, form=form),
        make_module=partial(T.ConvNet.from_config, config),
        param_spec=T.param_spec(config.flat_shape),
        loss_method="loss",
        output_method="predict_proba",
        x_layout=IMAGES,
    )


for _mode, _config in NETS.items():
    for _form in S.FORMS:
        _fd = (convnet(NET_FD), partial(net_inputs, NET_FD))  # the others: test_cnn.py
        register_model(
            "cnn",
            f"net-{_mode}-{_form}",
            convnet(_config, _form),
            partial(net_inputs, _config),
            output_case=f"net-{_mode}" if _form == "vectorized" else None,
            fd=_fd if (_mode, _form) == ("max", "vectorized") else False,
        )


# --- trajectory on the digits ---------------------------------------------------------------
DIGITS_CONFIG = S.ConvNetConfig(
    input_shape=(8, 8, 1),
    channels=(8, 12),
    f=3,
    stride=1,
    pad=1,
    pool_f=2,
    pool_stride=2,
    pool_mode="max",
    n_y=10,
)
"""``(8, 8, 1) → conv 3×3 same, 8 → max pool 2 → (4, 4, 8) → conv 3×3 same, 12 → max pool 2
→ (2, 2, 12) → 48 features → 10 classes``: 1,446 parameters."""
DIGITS_BATCH, DIGITS_LR, DIGITS_TEST = 32, 0.2, 360
DIGITS_STEPS = 40
"""The registered (report) run: 40 steps of 32 (0.9 epoch, ~1 s per dtype). ``test_cnn.py``
trains 500 steps (~11 epochs) in float64 and asserts >= 97% held-out accuracy on both sides
(98.6% measured).

Float32 trajectories stay in parity for a few hundred steps, not for ever: the network has
switches — a ReLU at ``z ≈ 0``, a pooling window whose two largest entries are within rounding
(~1e-7) of each other — and once a rounding-level difference flips one on one side only, the
two sides route a gradient differently and separate (every parameter at once), which the
policy's ``√t`` growth does not model. Measured on CPU: this configuration stays within 0.01 of
the tolerance for 300 float32 steps (the slow test runs 200); a (6, 12)-channel variant
separated at step 114, an average-pooling one at step 306. Float64 stays at 0.0 of the
tolerance for the 500 steps of the test."""


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits as images ``X (1797, 8, 8, 1)`` in [0, 1], labels ``(1797,)``."""
    X, labels = digits()  # (64, m) scaled to [0, 1], row-major 8×8 pixels per column
    return np.ascontiguousarray(X.T.reshape(-1, 8, 8, 1)), labels


@functools.lru_cache(maxsize=1)
def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed shuffle (seed 0): ``X_train, labels_train, X_test (360), labels_test``."""
    X, labels = digits_images()
    order = np.random.default_rng(0).permutation(len(labels))
    test, train = order[:DIGITS_TEST], order[DIGITS_TEST:]
    return X[train], labels[train], X[test], labels[test]


def heldout_accuracy(config: S.ConvNetConfig, X: np.ndarray, labels: np.ndarray):
    """``metrics(params, model)`` for :func:`~parity_tests.trajectory.check_training`: both
    sides' accuracy on images ``X`` they never trained on."""

    def metrics(params: dict[str, np.ndarray], model: torch.nn.Module) -> dict[str, float]:
        scratch = S.predict(params, X.astype(params["W1"].dtype), config).ravel()
        p = next(model.parameters())
        with torch.no_grad():
            torch_pred = to_numpy(
                model.predict(torch.as_tensor(images_to_torch(X), device=p.device, dtype=p.dtype))
            )
        return {
            "test_accuracy_scratch": float(np.mean(scratch == labels)),
            "test_accuracy_torch": float(np.mean(torch_pred == labels)),
        }

    return metrics


def digits_data(
    steps: int,
    rng: np.random.Generator,
    config: S.ConvNetConfig = DIGITS_CONFIG,
    learning_rate: float = DIGITS_LR,
) -> dict[str, Any]:
    """Both sides from the same He parameters, on the same consecutive batches of 32."""
    X, labels, X_test, labels_test = digits_split()
    per_epoch = len(labels) // DIGITS_BATCH
    batches = []
    for t in range(steps):
        s = slice((t % per_epoch) * DIGITS_BATCH, (t % per_epoch + 1) * DIGITS_BATCH)
        batches.append((X[s], one_hot(labels[s], config.n_y)))  # ((32, 8, 8, 1), (10, 32))
    return {
        "init_params": S.initialize_convnet(config, rng),
        "batches": batches,
        "learning_rate": learning_rate,
        "metrics": heldout_accuracy(config, X_test, labels_test),
    }


def digits_problem(
    steps: int,
    rng: np.random.Generator,
    config: S.ConvNetConfig = DIGITS_CONFIG,
    learning_rate: float = DIGITS_LR,
) -> dict[str, Any]:
    """The keyword arguments of ``check_training`` for ``steps`` steps on the digits (the
    registered run's, completed from :func:`convnet`; ``test_cnn.py`` trains longer)."""
    return model_problem(
        convnet(config), partial(digits_data, steps, config=config, learning_rate=learning_rate)
    )(rng)


register_trajectory(
    "cnn", "digits-max", model_problem(convnet(DIGITS_CONFIG), partial(digits_data, DIGITS_STEPS))
)
