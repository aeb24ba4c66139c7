"""What the torch agents share: checks, discounted returns, inverse-CDF sampling, ε, optimizers.

The agents' networks are :class:`torch_ref.deep.DeepNetwork`, whose ``forward`` returns the
logits ``z[L]`` — the policy's logits for REINFORCE, ``Q(s, ·)`` for DQN.

Example:
    >>> import torch
    >>> discounted_returns([1.0, 1.0, 1.0], 0.5, torch.float64).tolist()
    [1.75, 1.5, 1.0]
    >>> sample_action(torch.tensor([[0.2, 0.5, 0.3]]), 0.69)
    1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from torch_ref.gd import make_optimizer as make_sgd
from torch_ref.layout import (
    FromScratch,
    ParamSpec,
    check_param_arrays,
    layer_param_spec,
    load_scratch_params,
    scratch_dtype,
)

OPTIMIZERS = ("sgd", "adam")


def num_actions(env: Any) -> int:
    """``k = env.action_space.n``; a ``TypeError`` naming the space unless it is discrete."""
    space = getattr(env, "action_space", None)
    n = getattr(space, "n", None)
    if space is None or n is None or isinstance(n, bool) or int(n) != n or int(n) < 2:
        raise TypeError(
            f"env.action_space: expected a discrete space with n >= 2 actions "
            f"(gymnasium.spaces.Discrete), got {space!r}"
        )
    return int(n)


def check_env_fits(env: Any, layer_dims: Sequence[int]) -> tuple[int, int]:
    """``(n_x, k)`` of ``env``, refused unless ``layer_dims`` reads ``n_x`` and scores ``k``."""
    k, n_x = num_actions(env), observation_size(env)
    if (n_x, k) != (layer_dims[0], layer_dims[-1]):
        raise ValueError(
            f"env: observations of size {n_x} and {k} actions do not fit layer_dims {list(layer_dims)}"
        )
    return n_x, k


def observation_size(env: Any) -> int:
    """``n_x``, the length of the 1-D observation."""
    shape = getattr(getattr(env, "observation_space", None), "shape", None)
    if not shape or len(shape) != 1:
        raise TypeError(
            f"env.observation_space: expected a 1-D Box observation, got "
            f"{getattr(env, 'observation_space', None)!r}"
        )
    return int(shape[0])


def check_gamma(gamma: float) -> float:
    """The discount ``γ``, a number in ``[0, 1]``."""
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise TypeError(f"gamma: expected a number in [0, 1], got {gamma!r}") from None
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"gamma: expected a discount in [0, 1], got {gamma!r}")
    return g


def discounted_returns(
    rewards: Sequence[float],
    gamma: float,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """``G_t = R_{t+1} + γ G_{t+1}`` from the end of the episode (on the host, float64: the
    rewards come from the environment there), as a ``(T,)`` tensor."""
    g = check_gamma(gamma)
    G = [0.0] * len(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + g * running
        G[t] = running
    return torch.tensor(G, dtype=torch.float64).to(device=device, dtype=dtype)


def sample_action(pi: torch.Tensor, u: float) -> int:
    """Inverse CDF: the first ``a`` with ``u < Σ_{j<=a} π_j``; ``u ~ U[0, 1)`` (compared in
    ``π``'s dtype); the last action if rounding leaves ``Σ π < 1 <= u``."""
    cdf = torch.cumsum(pi.reshape(-1), dim=0)  # (k,)
    return min(int((cdf <= u).sum()), cdf.numel() - 1)


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """``ε`` from ``start`` to ``end`` linearly over ``decay_steps`` steps, then ``end``."""
    if decay_steps <= 0:
        return float(end)
    return float(start + min(1.0, step / decay_steps) * (end - start))


def make_optimizer(
    name: str, parameters: Iterable[torch.nn.Parameter], learning_rate: float
) -> torch.optim.Optimizer:
    """``torch.optim.SGD`` (plain ``p := p − α dp``) or ``torch.optim.Adam`` (defaults)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {list(OPTIMIZERS)}, got {name!r}")
    if name == "sgd":
        return make_sgd(parameters, learning_rate)
    lr = float(learning_rate)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate: expected a positive finite number, got {learning_rate!r}")
    return torch.optim.Adam(parameters, lr=lr)


def param_spec(L: int, network: str) -> ParamSpec:
    """Scratch ``W{l}, b{l}`` <-> ``{network}.layers.{l-1}.weight/bias`` of an agent module."""
    return layer_param_spec(L, container=f"{network}.layers")


class TorchUniforms:
    """``U[0, 1)`` numbers from a ``torch.Generator`` (float64, on the CPU): the production
    default. A parity run passes a ``scratch.rl.UniformStream`` instead, the same on both
    sides; any callable ``uniforms()`` / ``uniforms(n)`` works."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = generator or torch.Generator().manual_seed(0)

    def __call__(self, n: int | None = None) -> Any:
        u = torch.rand(1 if n is None else int(n), generator=self.generator, dtype=torch.float64)
        return float(u) if n is None else u


def getter(config: Any):
    """``get(name)`` for a ``scratch.rl`` config dataclass or a plain dict of its fields."""
    if isinstance(config, dict):
        return config.__getitem__
    return lambda name: getattr(config, name)


__all__ = [
    "num_actions",
    "observation_size",
    "check_gamma",
    "discounted_returns",
    "sample_action",
    "linear_epsilon",
    "make_optimizer",
    "param_spec",
    "TorchUniforms",
    "OPTIMIZERS",
    "getter",
]


class ScratchAgent(FromScratch):
    """An agent whose network converts from scratch ``W1, b1, …, WL, bL`` (see :meth:`from_scratch`)."""

    @classmethod
    def from_scratch(
        cls,
        params: Mapping[str, np.ndarray],
        config: Any,  # type: ignore[override]
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        allow_nonfinite: bool = False,
    ) -> Any:
        """An agent of ``config`` whose network holds scratch ``W1, b1, …, WL, bL`` (dtype theirs
        unless given; floating, one dtype, finite unless ``allow_nonfinite``)."""
        params = check_param_arrays(params, allow_nonfinite=allow_nonfinite)
        agent = cls(config, generator, device=device, dtype=scratch_dtype(params, dtype))
        load_scratch_params(agent, params)
        agent.loaded()
        return agent

    def loaded(self) -> None:
        """Called once the scratch weights are in place (a DQN copies them to its target)."""
