"""What both agents share: discounted returns, sampling by inverse CDF, ε, Adam, the network.

The networks are :mod:`scratch.deep`'s L-layer network read *before* its output activation:
``Z[L] = W[L] A[L-1] + b[L]`` is the policy's logits (REINFORCE) or ``Q(s, ·)`` (DQN).
:func:`forward`/:func:`backward` run ``scratch.deep``'s ``L_model_forward`` and
``backward_from_output``; :func:`fast_logits` (acting) and :class:`FastNet` (the DQN update)
run the same network through ``scratch._deep_fast``, without checks and with buffers reused —
on these tiny networks the checks are most of the time (a test proves the paths agree).

Example:
    >>> import numpy as np
    >>> discounted_returns([1.0, 1.0, 1.0], 0.5).tolist()
    [1.75, 1.5, 1.0]
    >>> sample_action(np.array([0.2, 0.5, 0.3]), 0.69)
    1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from scratch._deep_fast import FastNetwork, logits
from scratch.deep import (
    L_model_forward,
    LayerCache,
    backward_from_output,
    initialize_parameters_deep,
    num_layers,
)
from scratch.gd import Params
from scratch.rl.envs import check_gamma


def discounted_returns(rewards: Sequence[float], gamma: float) -> np.ndarray:
    """``G_t = Σ_{j>=t} γ^{j-t} R_{j+1}`` for every step, by ``G_t = R_{t+1} + γ G_{t+1}``.

    Computed in float64 from the end of the episode (the rewards come from the environment in
    float64); returns ``(T,)`` float64.
    """
    g = check_gamma(gamma)
    G = np.empty(len(rewards))
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + g * running
        G[t] = running
    return G


def sample_action(pi: np.ndarray, u: float) -> int:
    """Inverse-CDF sampling: the first ``a`` with ``u < Σ_{j<=a} π_j`` (``u ~ U[0, 1)``).

    ``u`` is rounded to ``π``'s dtype first, as torch compares a tensor with a Python float,
    so both sides compare the same numbers. If rounding leaves ``Σ π < 1 <= u``, the last action.
    """
    cdf = np.cumsum(pi.reshape(-1))  # (k,)
    a = int(np.count_nonzero(cdf <= cdf.dtype.type(u)))
    return min(a, cdf.size - 1)


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """``ε`` decaying linearly from ``start`` to ``end`` over ``decay_steps`` steps, then ``end``."""
    if decay_steps <= 0:
        return float(end)
    frac = min(1.0, step / decay_steps)
    return float(start + frac * (end - start))


def check_probability(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return v


def check_positive_int(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name}: expected a positive integer, got {v!r}")


# --- the network: scratch.deep read at its logits ----------------------------------------------
def forward(
    params: Mapping[str, np.ndarray], S: np.ndarray, activation: str
) -> tuple[np.ndarray, list[LayerCache]]:
    """``Z[L] (k, m)`` for states ``S (n_x, m)`` and the caches for :func:`backward`."""
    _, caches = L_model_forward(S, params, activation, "softmax")
    return caches[-1].Z, caches


def backward(dZL: np.ndarray, caches: Sequence[LayerCache]) -> Params:
    """``dW[l] = 1/m dZ[l] A[l-1]ᵀ``, ``db[l] = 1/m Σ dZ[l]`` from a per-example ``dZ[L] (k, m)``."""
    grads = backward_from_output(dZL, caches)
    return {k: v for k, v in grads.items() if not k.startswith("dA")}


def fast_logits(params: Mapping[str, np.ndarray], S: np.ndarray, activation: str) -> np.ndarray:
    """``Z[L] (k, m)`` by the same equations as :func:`forward`, without checks (the hot loop)."""
    return logits(params, S, (activation,) * (num_layers(params) - 1))


class FastNet(FastNetwork):
    """:func:`forward` + :func:`backward` for batches of a fixed ``m``, buffers reused and no
    checks (the DQN update's hot loop; a test proves it equals the reference)::

        Z[l] = W[l] A[l-1] + b[l],  A[l] = g(Z[l])                      forward, l < L
        dW[l] = 1/m dZ[l] A[l-1]ᵀ,  db[l] = 1/m Σ dZ[l],  dZ[l-1] = W[l]ᵀ dZ[l] * g'(Z[l-1])

    ``forward(params, X)`` returns ``Z[L] (k, m)``; ``backward(params, dZL)`` the gradients
    (views of buffers, overwritten by the next call) from a per-example ``dZ[L]``.
    """

    def __init__(self, layer_dims: Sequence[int], m: int, dtype: np.dtype, activation: str) -> None:
        super().__init__(layer_dims, m, dtype, activation, output="linear")


def softmax_column(z: np.ndarray) -> np.ndarray:
    """``π = softmax(z)`` of one column ``z (k, 1)`` (max subtracted first)."""
    e = np.exp(z - z.max())
    return e / e.sum()


def clip_grad_norm(grads: Params, max_norm: float) -> float:
    """Rescale all gradients together when ``‖g‖ = √(Σ_p ‖dp‖²)`` exceeds ``max_norm``, in place::

        g := g · min(1, max_norm / (‖g‖ + 1e-6))

    exactly ``torch.nn.utils.clip_grad_norm_`` (its ``1e-6``, its per-tensor norms first, its
    multiply by the clamped coefficient even when it is 1). Returns ``‖g‖`` before clipping.
    """
    ty = next(iter(grads.values())).dtype.type
    norms = np.array([np.linalg.norm(g.reshape(-1)) for g in grads.values()])  # ‖dp‖ per tensor
    total = ty(np.linalg.norm(norms.astype(ty)))
    coef = min(ty(ty(max_norm) / (total + ty(1e-6))), ty(1))
    for g in grads.values():
        g *= coef
    return float(total)


# --- optimizers: plain gradient descent (the course) or Adam ---------------------------------
OPTIMIZERS = ("sgd", "adam")


class Optimizer:
    """``p := p − α dp`` (``"sgd"``, as ``torch.optim.SGD``) or Adam (``torch.optim.Adam``)::

        m := β₁ m + (1 − β₁) dp          v := β₂ v + (1 − β₂) dp²
        p := p − α/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    in the order torch evaluates it. Updates ``params`` in place.
    """

    def __init__(
        self, name: str, learning_rate: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {list(OPTIMIZERS)}, got {name!r}")
        lr = float(learning_rate)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate: expected a positive finite number, got {learning_rate!r}")
        self.name, self.lr, self.betas, self.eps = name, lr, betas, eps
        self.t = 0
        self.m: Params = {}
        self.v: Params = {}

    def step(self, params: Params, grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for k, p in params.items():
            dp = grads["d" + k]
            ty = p.dtype.type
            if self.name == "sgd":
                p -= ty(self.lr) * dp
                continue
            if k not in self.m:
                self.m[k], self.v[k] = np.zeros_like(p), np.zeros_like(p)
            m, v = self.m[k], self.v[k]
            m += ty(1 - b1) * (dp - m)  # torch's lerp: m + (1 − β₁)(dp − m)
            v *= ty(b2)
            v += ty(1 - b2) * dp * dp
            denom = np.sqrt(v) / ty(math.sqrt(1 - b2**self.t)) + ty(self.eps)
            p -= ty(self.lr / (1 - b1**self.t)) * (m / denom)


__all__ = [
    "discounted_returns",
    "sample_action",
    "linear_epsilon",
    "forward",
    "backward",
    "fast_logits",
    "FastNet",
    "softmax_column",
    "clip_grad_norm",
    "Optimizer",
    "OPTIMIZERS",
    "check_probability",
    "check_positive_int",
]


def starting_params(
    layer_dims: Sequence[int],
    initializer: str,
    seed: int,
    params: Mapping[str, np.ndarray] | None,
    dtype: np.dtype,
) -> Params:
    """An agent's network parameters: a copy of ``params``, or drawn by ``initializer`` from
    ``np.random.default_rng(seed)`` in ``dtype``."""
    if params is None:
        params = initialize_parameters_deep(layer_dims, np.random.default_rng(seed), initializer, dtype)
    return {k: np.array(v, copy=True) for k, v in params.items()}
