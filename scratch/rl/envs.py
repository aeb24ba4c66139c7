"""Environments and the shared random stream of the ``rl`` agents.

* :class:`BanditEnv` — one k-armed bandit of Sutton & Barto's testbed: true values
  ``q*(a) ~ N(0, 1)``, reward ``R ~ N(q*(a), 1)``. Written in the gymnasium interface
  (``reset(seed) -> (obs, info)``, ``step(a) -> (obs, R, terminated, truncated, info)``) with a
  constant observation ``[1.0]`` and episodes of one step, so the same agents that play
  CartPole play it.
* :func:`make_cartpole` — gymnasium's ``CartPole-v1`` (imported lazily: gymnasium is only needed
  here).
* :class:`UniformStream` — the one stream of ``U[0, 1)`` numbers both sides of a parity run
  consume: action sampling by inverse CDF, ε draws, replay indices.

Example:
    >>> env = BanditEnv(k=10, seed=0)
    >>> obs, _ = env.reset(seed=1)
    >>> obs.shape, env.action_space.n
    ((1,), 10)
    >>> _, R, terminated, truncated, _ = env.step(int(env.q_star.argmax()))
    >>> terminated, truncated
    (True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratch._validate import as_float_array


class Discrete:
    """A minimal ``gymnasium.spaces.Discrete`` look-alike: actions ``0 … n-1``."""

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


def num_actions(env: Any) -> int:
    """``k = env.action_space.n``; a ``TypeError`` naming the space unless it is discrete.

    Both agents choose among ``k`` actions (a softmax over them, or ``argmax_a Q(s, a)``), so a
    continuous ``Box`` space is refused here rather than failing deep inside a forward pass.
    """
    space = getattr(env, "action_space", None)
    n = getattr(space, "n", None)
    if space is None or n is None or isinstance(n, bool) or int(n) != n or int(n) < 2:
        raise TypeError(
            f"env.action_space: expected a discrete space with n >= 2 actions "
            f"(gymnasium.spaces.Discrete), got {space!r}"
        )
    return int(n)


def observation_size(env: Any) -> int:
    """``n_x``: the length of the (1-D) observation vector."""
    shape = getattr(getattr(env, "observation_space", None), "shape", None)
    if not shape or len(shape) != 1:
        raise TypeError(
            f"env.observation_space: expected a 1-D Box observation, got "
            f"{getattr(env, 'observation_space', None)!r}"
        )
    return int(shape[0])


class _Box1D:
    def __init__(self, n: int) -> None:
        self.shape = (int(n),)

    def __repr__(self) -> str:
        return f"Box(shape={self.shape})"


class BanditEnv:
    """A k-armed bandit: ``q*(a) ~ N(μ, 1)`` drawn once, each pull returns ``R ~ N(q*(a), 1)``.

    Args:
        k: number of arms (actions).
        seed: seeds the draw of ``q*`` (one bandit problem of the testbed).
        mean: ``μ``, the mean of the true values (Sutton & Barto's figure 2.5 uses 4).

    Each episode is one pull; the observation is the constant ``[1.0]`` (a bandit has no state).
    The reward noise comes from the generator :meth:`reset` seeds, so two runs with the same
    seeds and actions see the same rewards.
    """

    def __init__(self, k: int = 10, seed: int = 0, mean: float = 0.0) -> None:
        if isinstance(k, bool) or int(k) != k or k < 2:
            raise ValueError(f"k: expected an integer number of arms >= 2, got {k!r}")
        self.k = int(k)
        self.q_star = np.random.default_rng(seed).normal(mean, 1.0, self.k)  # (k,)
        self.action_space = Discrete(self.k)
        self.observation_space = _Box1D(1)
        self._rng = np.random.default_rng(seed + 1)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        return np.ones(1), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = int(action)
        if not 0 <= a < self.k or a != action:
            raise ValueError(f"action: expected an integer in [0, {self.k - 1}], got {action!r}")
        R = float(self._rng.normal(self.q_star[a], 1.0))
        return np.ones(1), R, True, False, {"optimal": a == int(np.argmax(self.q_star))}


def make_cartpole(render_mode: str | None = None) -> Any:
    """``gymnasium.make("CartPole-v1")``; an ``ImportError`` saying how to install it if absent.

    Solved (gymnasium's ``spec.reward_threshold``) at a mean return of 475 over 100
    consecutive episodes; episodes are truncated at 500 steps.
    """
    try:
        import gymnasium
    except ImportError as exc:  # pragma: no cover - exercised where gymnasium is missing
        raise ImportError(
            "CartPole-v1 needs gymnasium: pip install 'dlparity[rl]' (or pip install gymnasium)"
        ) from exc
    return gymnasium.make("CartPole-v1", render_mode=render_mode)


class UniformStream:
    """The random numbers an agent consumes, all ``U[0, 1)``, float64, from one generator.

    A parity run gives each side its own ``UniformStream(seed)`` with the *same* seed: the two
    sides then see the same numbers in the same order (one per sampled action for REINFORCE;
    two per step and one per replayed transition for DQN), and choose the same actions as long
    as their probabilities / Q-values agree.

    Example:
        >>> UniformStream(0)(3).round(3).tolist() == UniformStream(0)(3).round(3).tolist()
        True
    """

    def __init__(self, seed: int | np.random.Generator = 0) -> None:
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.drawn = 0

    def __call__(self, n: int | None = None) -> Any:
        """One float (``n=None``) or an array of ``n`` floats in ``[0, 1)``."""
        self.drawn += 1 if n is None else int(n)
        return float(self.rng.random()) if n is None else self.rng.random(int(n))


def check_gamma(gamma: float) -> float:
    """The discount ``γ``, a number in ``[0, 1]``."""
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise TypeError(f"gamma: expected a number in [0, 1], got {gamma!r}") from None
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"gamma: expected a discount in [0, 1], got {gamma!r}")
    return g


def as_observation(obs: Any, n_x: int, dtype: np.dtype) -> np.ndarray:
    """An observation as a course column ``s (n_x, 1)`` in the agent's dtype."""
    s = as_float_array("obs", np.asarray(obs, dtype=np.float64).astype(dtype), dtype)
    if s.shape != (n_x,) and s.shape != (n_x, 1):
        raise ValueError(f"obs: expected shape (n_x,) = ({n_x},), got {s.shape}")
    return s.reshape(n_x, 1)


__all__ = [
    "Discrete",
    "BanditEnv",
    "make_cartpole",
    "UniformStream",
    "num_actions",
    "observation_size",
    "check_gamma",
    "as_observation",
]


def check_env_fits(env: Any, layer_dims: Sequence[int]) -> tuple[int, int]:
    """``(n_x, k)`` of ``env``, refused unless the network ``layer_dims`` reads ``n_x``
    observations and scores ``k`` actions."""
    k, n_x = num_actions(env), observation_size(env)
    if (n_x, k) != (layer_dims[0], layer_dims[-1]):
        raise ValueError(
            f"env: observations of size {n_x} and {k} actions do not fit layer_dims {list(layer_dims)}"
        )
    return n_x, k
