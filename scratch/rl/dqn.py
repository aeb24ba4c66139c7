"""DQN: a Q-network that learns from replayed past data and explores ε-greedily.

``Q(s, ·) = Z[L]`` is :mod:`scratch.deep`'s network read at its logits, ``(k, m)`` for states
``S (n_x, m)``. Each environment step the agent acts ε-greedily (``ε`` decays linearly), stores
``(s, a, R, s', terminated)`` in a replay buffer and, once the buffer holds ``learn_start``
transitions, every ``train_freq`` steps samples a minibatch of ``m`` of them and descends the TD
cost::

    y_i = R_i + γ (1 − terminated_i) max_a' Q_target(s'_i, a')      (no gradient through y)
    y_i = R_i + γ (1 − terminated_i) Q_target(s'_i, argmax_a' Q(s'_i, a'))   (double DQN)
    δ_i = Q(s_i, a_i) − y_i
    J   = 1/m Σ_i ℓ(δ_i),   ℓ(δ) = ½δ² (squared)  or  ½δ² if |δ| <= 1 else |δ| − ½ (Huber)
    dZ[L]_{a_i, i} = ℓ'(δ_i) = δ_i (squared) or clip(δ_i, −1, 1) (Huber), 0 elsewhere

(the course's ½ is in ``ℓ``: torch's ``mse_loss`` lacks it, ``smooth_l1_loss`` with ``beta=1``
is exactly Huber). The gradient may be clipped to a global norm (``max_grad_norm``, as
``torch.nn.utils.clip_grad_norm_``) before the optimizer step. Every ``target_sync`` steps the
target network moves towards the online one, ``θ_target := θ_target + τ (θ − θ_target)`` (``τ = 1``:
a copy). Only ``terminated`` (the pole fell) stops the bootstrap: an episode *truncated* at its
time limit still has ``y = R + γ max Q_target(s', ·)``. Every step draws two uniforms (``ε`` draw,
random action) and every update ``m`` (replay indices ``⌊u·size⌋``), whichever branch is taken,
so both sides of a parity run stay on the same stream.

Example:
    >>> from scratch.rl.envs import BanditEnv, UniformStream
    >>> cfg = DQNConfig(layer_dims=(1, 8, 3), batch_size=4, learn_start=4, buffer_size=16)
    >>> log = train(DQNAgent(cfg, seed=0), BanditEnv(3, seed=0), episodes=10, uniforms=UniformStream(0))
    >>> len(log.actions), len(log.losses)
    (10, 7)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scratch.deep import hidden_activations
from scratch.gd import Params
from scratch.init import check_layer_dims
from scratch.rl.common import (
    FastNet,
    Optimizer,
    backward,
    check_positive_int,
    check_probability,
    clip_grad_norm,
    fast_logits,
    forward,
    linear_epsilon,
    starting_params,
)
from scratch.rl.envs import as_observation, check_env_fits, check_gamma, observation_size
from scratch.rl.reinforce import TrainingLog

LOSSES = ("huber", "squared")


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of :class:`DQNAgent` (``torch_ref.rl`` accepts the same).

    Attributes:
        layer_dims: ``[n_x, n[1], …, k]``. activation, initializer: as ``scratch.deep``.
        gamma: ``γ`` in ``[0, 1]``. learning_rate, optimizer: ``α`` and ``"sgd"``/``"adam"``.
        loss: ``"huber"`` or ``"squared"`` TD loss.
        buffer_size: replay capacity (oldest transitions overwritten).
        batch_size: ``m`` transitions per update. learn_start: transitions stored before the
            first update. target_sync: steps between copies online -> target network.
        epsilon_start, epsilon_end, epsilon_decay_steps: the linear ε schedule.
        double: double DQN targets (the online network picks ``a'``, the target values it).
        max_grad_norm: clip the gradient's global norm to this before each step (``None``: no).
        tau: ``τ`` in ``(0, 1]`` of the target update every ``target_sync`` steps (1: a copy).
        train_freq: environment steps per update.
    """

    layer_dims: tuple[int, ...]
    activation: str = "relu"
    initializer: str = "he"
    gamma: float = 0.99
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    loss: str = "huber"
    buffer_size: int = 50_000
    batch_size: int = 64
    learn_start: int = 1000
    target_sync: int = 500
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 10_000
    double: bool = False
    max_grad_norm: float | None = None
    tau: float = 1.0
    train_freq: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer_dims", check_layer_dims(self.layer_dims))
        if self.layer_dims[-1] < 2:
            raise ValueError(f"layer_dims: Q needs k >= 2 actions, got {self.layer_dims[-1]}")
        hidden_activations(self.activation, len(self.layer_dims) - 1)
        check_gamma(self.gamma)
        if self.loss not in LOSSES:
            raise ValueError(f"loss: expected one of {list(LOSSES)}, got {self.loss!r}")
        check_positive_int(
            buffer_size=self.buffer_size,
            batch_size=self.batch_size,
            learn_start=self.learn_start,
            target_sync=self.target_sync,
        )
        check_probability("epsilon_start", self.epsilon_start)
        check_probability("epsilon_end", self.epsilon_end)
        if isinstance(self.epsilon_decay_steps, bool) or self.epsilon_decay_steps < 0:
            raise ValueError(
                f"epsilon_decay_steps: expected a non-negative integer, got {self.epsilon_decay_steps!r}"
            )
        Optimizer(self.optimizer, self.learning_rate)
        check_positive_int(train_freq=self.train_freq)
        if not isinstance(self.double, bool):
            raise TypeError(f"double: expected a bool, got {self.double!r}")
        if self.max_grad_norm is not None and not (
            isinstance(self.max_grad_norm, (int, float)) and 0 < self.max_grad_norm < float("inf")
        ):
            raise ValueError(
                f"max_grad_norm: expected a positive finite number or None, got {self.max_grad_norm!r}"
            )
        if not (isinstance(self.tau, (int, float)) and 0 < self.tau <= 1):
            raise ValueError(f"tau: expected a number in (0, 1], got {self.tau!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReplayBuffer:
    """The last ``capacity`` transitions, states as course columns ``S (n_x, capacity)``."""

    def __init__(self, capacity: int, n_x: int, dtype: np.dtype = np.float64) -> None:
        check_positive_int(capacity=capacity, n_x=n_x)
        self.capacity, self.size, self.next = int(capacity), 0, 0
        self.S = np.zeros((n_x, capacity), dtype=dtype)  # (n_x, capacity)
        self.S2 = np.zeros((n_x, capacity), dtype=dtype)
        self.A = np.zeros(capacity, dtype=np.int64)
        self.R = np.zeros(capacity, dtype=dtype)
        self.terminated = np.zeros(capacity, dtype=dtype)  # 1.0 where s' is terminal

    def push(self, s: np.ndarray, a: int, R: float, s2: np.ndarray, terminated: bool) -> None:
        i = self.next
        self.S[:, i], self.S2[:, i] = s.reshape(-1), s2.reshape(-1)
        self.A[i], self.R[i], self.terminated[i] = a, R, float(terminated)
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def indices(self, u: np.ndarray) -> np.ndarray:
        """Replay indices ``⌊u_i · size⌋`` for uniforms ``u (m,)`` (sampling with replacement)."""
        if self.size == 0:
            raise ValueError(
                "replay buffer: cannot sample from an empty buffer (size 0); "
                "push transitions first (see learn_start)"
            )
        return np.minimum((np.asarray(u) * self.size).astype(np.int64), self.size - 1)

    def sample(self, u: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(S (n_x, m), A (m,), R (m,), S2 (n_x, m), terminated (m,))`` at :meth:`indices`."""
        idx = self.indices(u)
        return self.S[:, idx], self.A[idx], self.R[idx], self.S2[:, idx], self.terminated[idx]


def td_targets(
    Q_next: np.ndarray,
    R: np.ndarray,
    terminated: np.ndarray,
    gamma: float,
    Q_online_next: np.ndarray | None = None,
) -> np.ndarray:
    """``y = R + γ (1 − terminated) max_a' Q_target(s', a')`` from ``Q_next (k, m)``; with
    ``Q_online_next (k, m)`` the double DQN target ``Q_target(s', argmax_a' Q(s', a'))``."""
    ty = Q_next.dtype.type
    if Q_online_next is None:
        v = Q_next.max(axis=0)  # (m,)
    else:
        v = Q_next[Q_online_next.argmax(axis=0), np.arange(Q_next.shape[1])]  # (m,), first max
    return R + ty(gamma) * (1 - terminated) * v


def td_loss(delta: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """``(1/m Σ ℓ(δ_i), ℓ'(δ))`` for the Huber or squared TD loss."""
    if loss == "huber":
        absd = np.abs(delta)
        return float(np.mean(np.where(absd <= 1, 0.5 * delta * delta, absd - 0.5))), np.clip(delta, -1, 1)
    return float(np.mean(0.5 * delta * delta)), delta


def td_cost_and_grads(
    params: Mapping[str, np.ndarray],
    S: np.ndarray,
    A: np.ndarray,
    y: np.ndarray,
    activation: str,
    loss: str = "huber",
) -> tuple[float, Params]:
    """``J = 1/m Σ ℓ(Q(s_i, a_i) − y_i)`` and ``{dW1, db1, …}`` (``y`` held constant)."""
    ZL, caches = forward(params, S, activation)  # Q(s, ·), (k, m)
    m = S.shape[1]
    J, d_delta = td_loss(ZL[A, np.arange(m)] - y, loss)  # δ = Q(s_i, a_i) − y_i, (m,)
    dZL = np.zeros_like(ZL)
    dZL[A, np.arange(m)] = d_delta  # only the chosen action's Q gets a gradient
    return J, backward(dZL, caches)


class DQNAgent:
    """Online and target Q-networks, a replay buffer and an ε-greedy policy.

    Args:
        config: a :class:`DQNConfig`. seed: seeds the initializer (unless ``params`` given).
        params: starting ``{W1, b1, …}`` (copied; the target starts as a copy too).
        dtype: float32 or float64 (taken from ``params`` when given).
    """

    def __init__(
        self,
        config: DQNConfig,
        seed: int = 0,
        params: Mapping[str, np.ndarray] | None = None,
        dtype: np.dtype = np.float64,
    ) -> None:
        if not isinstance(config, DQNConfig):
            raise TypeError(f"config: expected DQNConfig, got {type(config).__name__}")
        self.config = c = config
        self.params: Params = starting_params(c.layer_dims, c.initializer, seed, params, dtype)
        self.dtype = self.params["W1"].dtype
        self.target = {k: v.copy() for k, v in self.params.items()}
        self.buffer = ReplayBuffer(c.buffer_size, c.layer_dims[0], self.dtype)
        self.optimizer = Optimizer(c.optimizer, c.learning_rate)
        self.steps = 0
        self.net = FastNet(c.layer_dims, c.batch_size, self.dtype, c.activation)

    def epsilon(self) -> float:
        c = self.config
        return linear_epsilon(self.steps, c.epsilon_start, c.epsilon_end, c.epsilon_decay_steps)

    def act(self, s: np.ndarray, u_explore: float, u_action: float) -> int:
        """Random ``⌊u_action · k⌋`` if ``u_explore < ε``, else ``argmax_a Q(s, a)``."""
        k = self.config.layer_dims[-1]
        if u_explore < self.epsilon():
            return min(int(u_action * k), k - 1)
        return int(np.argmax(fast_logits(self.params, s, self.config.activation)))

    def update(self, u: np.ndarray) -> float:
        """One TD step on a minibatch drawn by uniforms ``u (m,)``; returns ``J``."""
        c = self.config
        S, A, R, S2, term = self.buffer.sample(u)
        Q_online_next = fast_logits(self.params, S2, c.activation) if c.double else None
        y = td_targets(fast_logits(self.target, S2, c.activation), R, term, c.gamma, Q_online_next)  # (m,)
        ZL = self.net.forward(self.params, S)  # Q(s, ·), (k, m); as td_cost_and_grads, fast
        cols = np.arange(c.batch_size)
        J, d_delta = td_loss(ZL[A, cols] - y, c.loss)
        dZL = np.zeros_like(ZL)
        dZL[A, cols] = d_delta
        grads = self.net.backward(self.params, dZL)
        if c.max_grad_norm is not None:
            clip_grad_norm(grads, c.max_grad_norm)
        self.optimizer.step(self.params, grads)
        return J

    def sync_target(self, tau: float = 1.0) -> None:
        """``θ_target := θ_target + τ (θ − θ_target)``, as ``torch.lerp`` computes it (``τ = 1``:
        a copy)."""
        for k, v in self.params.items():
            t = self.target[k]
            if tau == 1:
                t[...] = v
            elif tau < 0.5:
                t += t.dtype.type(tau) * (v - t)
            else:
                t[...] = v - (v - t) * t.dtype.type(1 - tau)


def train(
    agent: DQNAgent,
    env: Any,
    episodes: int,
    uniforms: Callable[..., Any],
    seed: int = 0,
    record_params: bool = False,
    stop: Callable[[list[float]], bool] | None = None,
) -> TrainingLog:
    """Play ``episodes`` episodes: act, store, learn every step after ``learn_start``, sync
    the target every ``target_sync`` steps. ``uniforms()``/``uniforms(m)`` as
    :class:`~scratch.rl.envs.UniformStream`; the rest as ``scratch.rl.reinforce.train``."""
    c = agent.config
    n_x, k = check_env_fits(env, c.layer_dims)
    log = TrainingLog()
    obs, _ = env.reset(seed=seed)
    for episode in range(int(episodes)):
        if episode:
            obs, _ = env.reset()
        done, total, length = False, 0.0, 0
        while not done:
            s = as_observation(obs, n_x, agent.dtype)
            a = agent.act(s, uniforms(), uniforms())
            obs, R, terminated, truncated, _ = env.step(a)
            agent.buffer.push(s, a, float(R), as_observation(obs, n_x, agent.dtype), terminated)
            agent.steps += 1
            if agent.buffer.size >= c.learn_start and agent.steps % c.train_freq == 0:
                log.losses.append(agent.update(uniforms(c.batch_size)))
                log.episode_of_update.append(episode)
                if record_params:
                    log.params.append({k_: v.copy() for k_, v in agent.params.items()})
            if agent.steps % c.target_sync == 0:
                agent.sync_target(c.tau)
            log.actions.append(a)
            total, length = total + float(R), length + 1
            done = terminated or truncated
        log.episode_returns.append(total)
        log.episode_lengths.append(length)
        if stop is not None and stop(log.episode_returns):
            break
    return log


def evaluate(agent: DQNAgent, env: Any, episodes: int, seed: int = 0) -> list[float]:
    """Returns of ``episodes`` greedy episodes, ``a = argmax_a Q(s, a)`` (no ε, no learning);
    ``env.reset(seed=seed)`` once at the start."""
    n_x, activation = observation_size(env), agent.config.activation
    returns = []
    obs, _ = env.reset(seed=seed)
    for episode in range(int(episodes)):
        if episode:
            obs, _ = env.reset()
        done, total = False, 0.0
        while not done:
            Q = fast_logits(agent.params, as_observation(obs, n_x, agent.dtype), activation)  # (k, 1)
            obs, R, terminated, truncated, _ = env.step(int(np.argmax(Q)))
            total, done = total + float(R), terminated or truncated
        returns.append(total)
    return returns


__all__ = [
    "DQNConfig",
    "DQNAgent",
    "ReplayBuffer",
    "td_targets",
    "td_loss",
    "td_cost_and_grads",
    "train",
    "evaluate",
    "LOSSES",
]
