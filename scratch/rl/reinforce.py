"""REINFORCE: a softmax policy network rewarded for good behaviour (policy gradient).

The policy ``π(a | s) = softmax(Z[L])_a`` is :mod:`scratch.deep`'s network read at its logits.
After each episode ``s_0, a_0, R_1, …, s_{T-1}, a_{T-1}, R_T``, with discounted returns
``G_t = Σ_{j>=t} γ^{j-t} R_{j+1}`` and a baseline ``b`` (a running mean of past returns), the
agent descends the cost (``1/T`` as the course's ``J = 1/m Σ L``, one "example" per step)::

    A_t = (G_t − b) / σ                                       advantage; σ = 1 or std_t(G_t − b)
    J   = 1/T Σ_t [ −A_t log π(a_t | s_t) − β H(π(· | s_t)) ],   H(π) = −Σ_a π_a log π_a

whose gradient with respect to the logits of step ``t`` (a column of ``dZ[L] (k, T)``) is::

    dZ[L]_t = A_t (π_t − 1[a_t]) + β π_t ⊙ (log π_t + H_t)

then the deep network's backward gives ``dW[l] = 1/T dZ[l] A[l-1]ᵀ``. The entropy bonus ``β``
keeps the policy exploring; sampling ``a_t`` by inverse CDF from a shared uniform ``u_t`` makes
the agent's choices reproducible on both sides. After the update ``b := b + ρ (mean_t G_t − b)``.

Example:
    >>> import numpy as np
    >>> from scratch.rl.envs import BanditEnv, UniformStream
    >>> agent = ReinforceAgent(ReinforceConfig(layer_dims=(1, 10), learning_rate=0.1), seed=0)
    >>> log = train(agent, BanditEnv(10, seed=3), episodes=50, uniforms=UniformStream(0), seed=1)
    >>> len(log.episode_returns), len(log.actions)
    (50, 50)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scratch.deep import hidden_activations
from scratch.gd import Params
from scratch.init import check_layer_dims
from scratch.rl.common import (
    Optimizer,
    backward,
    check_probability,
    discounted_returns,
    fast_logits,
    forward,
    sample_action,
    softmax_column,
    starting_params,
)
from scratch.rl.envs import as_observation, check_env_fits, check_gamma

ADVANTAGE_EPS = 1e-8
"""Added to ``std_t(G_t − b)`` before dividing (an episode of equal returns has std 0)."""


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyperparameters of :class:`ReinforceAgent` (``torch_ref.rl`` accepts the same).

    Attributes:
        layer_dims: ``[n_x, n[1], …, k]``: observation size, hidden sizes, number of actions.
        activation: hidden activation (``scratch.activations`` names).
        initializer: of the weights (biases are zeros), see ``scratch.init``.
        gamma: discount ``γ`` in ``[0, 1]``.
        learning_rate: ``α``.
        optimizer: ``"sgd"`` (``p := p − α dp``) or ``"adam"``.
        entropy_beta: ``β``, weight of the entropy bonus.
        baseline_rate: ``ρ`` of the running-mean baseline (0 = no baseline).
        normalize: divide the advantages by their standard deviation over the episode.
    """

    layer_dims: tuple[int, ...]
    activation: str = "tanh"
    initializer: str = "xavier"
    gamma: float = 0.99
    learning_rate: float = 0.01
    optimizer: str = "adam"
    entropy_beta: float = 0.01
    baseline_rate: float = 0.05
    normalize: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer_dims", check_layer_dims(self.layer_dims))
        if self.layer_dims[-1] < 2:
            raise ValueError(f"layer_dims: the policy needs k >= 2 actions, got {self.layer_dims[-1]}")
        hidden_activations(self.activation, len(self.layer_dims) - 1)
        check_gamma(self.gamma)
        check_probability("baseline_rate", self.baseline_rate)
        if not self.entropy_beta >= 0:
            raise ValueError(f"entropy_beta: expected a non-negative number, got {self.entropy_beta!r}")
        Optimizer(self.optimizer, self.learning_rate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def advantages(G: np.ndarray, baseline: float, normalize: bool) -> np.ndarray:
    """``A_t = (G_t − b) / σ`` with ``σ = std_t(G_t − b) + ε`` if ``normalize`` else 1 (float64)."""
    A = np.asarray(G, dtype=np.float64) - baseline
    return A / (A.std() + ADVANTAGE_EPS) if normalize else A


def policy_cost(ZL: np.ndarray, actions: np.ndarray, A: np.ndarray, beta: float) -> float:
    """``J = 1/T Σ_t [−A_t log π(a_t|s_t) − β H_t]`` from the logits ``Z[L] (k, T)``."""
    logp = ZL - ZL.max(axis=0, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=0, keepdims=True))  # log π, (k, T)
    T = ZL.shape[1]
    H = -np.sum(np.exp(logp) * logp, axis=0)  # (T,)
    return float(np.mean(-A * logp[actions, np.arange(T)] - beta * H))


def policy_dZ(ZL: np.ndarray, actions: np.ndarray, A: np.ndarray, beta: float) -> np.ndarray:
    """``dZ[L]_t = A_t (π_t − 1[a_t]) + β π_t ⊙ (log π_t + H_t)``, shape ``(k, T)``."""
    logp = ZL - ZL.max(axis=0, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=0, keepdims=True))  # (k, T)
    pi = np.exp(logp)
    H = -np.sum(pi * logp, axis=0, keepdims=True)  # (1, T)
    onehot = np.zeros_like(pi)
    onehot[actions, np.arange(ZL.shape[1])] = 1
    return A.astype(ZL.dtype) * (pi - onehot) + ZL.dtype.type(beta) * pi * (logp + H)


def cost_and_grads(
    params: Mapping[str, np.ndarray],
    S: np.ndarray,
    actions: np.ndarray,
    A: np.ndarray,
    activation: str,
    beta: float,
) -> tuple[float, Params]:
    """``J`` and ``{dW1, db1, …}`` for one episode: states ``S (n_x, T)``, actions ``(T,)``,
    advantages ``A (T,)``."""
    ZL, caches = forward(params, S, activation)
    A = np.asarray(A).astype(ZL.dtype)
    return policy_cost(ZL, actions, A, beta), backward(policy_dZ(ZL, actions, A, beta), caches)


class ReinforceAgent:
    """A softmax policy network trained by REINFORCE with a baseline and an entropy bonus.

    Args:
        config: a :class:`ReinforceConfig`.
        seed: seeds the initializer (ignored when ``params`` is given).
        params: starting parameters ``{W1, b1, …}`` (copied).
        dtype: float32 or float64 (taken from ``params`` when given).

    Attributes:
        params: ``W[l] (n[l], n[l-1])``, ``b[l] (n[l], 1)``.
        baseline: ``b``, the running mean of the returns.
    """

    def __init__(
        self,
        config: ReinforceConfig,
        seed: int = 0,
        params: Mapping[str, np.ndarray] | None = None,
        dtype: np.dtype = np.float64,
    ) -> None:
        if not isinstance(config, ReinforceConfig):
            raise TypeError(f"config: expected ReinforceConfig, got {type(config).__name__}")
        self.config = c = config
        self.params: Params = starting_params(c.layer_dims, c.initializer, seed, params, dtype)
        self.dtype = self.params["W1"].dtype
        self.optimizer = Optimizer(c.optimizer, c.learning_rate)
        self.baseline = 0.0

    def policy(self, s: np.ndarray) -> np.ndarray:
        """``π(· | s) (k, 1)`` for one state column ``s (n_x, 1)``."""
        return softmax_column(fast_logits(self.params, s, self.config.activation))

    def act(self, s: np.ndarray, u: float) -> int:
        """``a ~ π(· | s)`` by inverse CDF of ``u ~ U[0, 1)``."""
        return sample_action(self.policy(s), u)

    def update(self, states: list[np.ndarray], actions: list[int], rewards: list[float]) -> float:
        """One gradient step on the episode; returns ``J``; then moves the baseline."""
        c = self.config
        G = discounted_returns(rewards, c.gamma)  # (T,)
        A = advantages(G, self.baseline, c.normalize)
        S = np.concatenate(states, axis=1)  # (n_x, T)
        J, grads = cost_and_grads(self.params, S, np.asarray(actions), A, c.activation, c.entropy_beta)
        self.optimizer.step(self.params, grads)
        self.baseline += c.baseline_rate * (float(G.mean()) - self.baseline)
        return J


@dataclass
class TrainingLog:
    """What one training run did, step by step (both sides fill the same fields)."""

    actions: list[int] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    params: list[dict[str, np.ndarray]] = field(default_factory=list)  # after each update
    episode_of_update: list[int] = field(default_factory=list)


def train(
    agent: ReinforceAgent,
    env: Any,
    episodes: int,
    uniforms: Callable[[], float],
    seed: int = 0,
    record_params: bool = False,
    stop: Callable[[list[float]], bool] | None = None,
) -> TrainingLog:
    """Play ``episodes`` episodes, updating after each; ``env.reset(seed=seed)`` once at the start.

    ``uniforms()`` supplies one ``U[0, 1)`` per action. ``record_params`` keeps a copy of the
    parameters after every update (for parity); ``stop(returns)`` ends training early.
    """
    n_x, k = check_env_fits(env, agent.config.layer_dims)
    log = TrainingLog()
    obs, _ = env.reset(seed=seed)
    for episode in range(int(episodes)):
        if episode:
            obs, _ = env.reset()
        states, actions, rewards = [], [], []
        done = False
        while not done:
            s = as_observation(obs, n_x, agent.dtype)  # (n_x, 1)
            a = agent.act(s, uniforms())
            obs, R, terminated, truncated, _ = env.step(a)
            states.append(s)
            actions.append(a)
            rewards.append(float(R))
            done = terminated or truncated
        log.actions.extend(actions)
        log.episode_returns.append(float(sum(rewards)))
        log.episode_lengths.append(len(rewards))
        log.losses.append(agent.update(states, actions, rewards))
        log.episode_of_update.append(episode)
        if record_params:
            log.params.append({k_: v.copy() for k_, v in agent.params.items()})
        if stop is not None and stop(log.episode_returns):
            break
    return log


__all__ = [
    "ReinforceConfig",
    "ReinforceAgent",
    "advantages",
    "policy_cost",
    "policy_dZ",
    "cost_and_grads",
    "train",
    "TrainingLog",
    "ADVANTAGE_EPS",
]
