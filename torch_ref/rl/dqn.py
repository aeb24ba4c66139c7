"""DQN in torch: online and target :class:`~torch_ref.deep.DeepNetwork` Q-networks, a replay
buffer of tensors, ε-greedy exploration with a linearly decaying ε, the Huber or squared TD loss::

    y = R + γ (1 − terminated) max_a' Q_target(s', a')     δ = Q(s, a) − y
    y = R + γ (1 − terminated) Q_target(s', argmax_a' Q(s', a'))           (double DQN)
    J = F.smooth_l1_loss(Q(s, a), y)      (Huber, β = 1)   or   ½ F.mse_loss(Q(s, a), y)

then ``clip_grad_norm_`` (optional) and the optimizer step; every ``target_sync`` steps
``θ_target.lerp_(θ, τ)``. Exactly as ``scratch.rl.dqn`` (the course's ½ written out: ``mse_loss``
lacks it). ``terminated`` alone stops the bootstrap; a truncated episode still bootstraps.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from torch_ref.deep import DeepNetwork
from torch_ref.layout import ParamSpec
from torch_ref.rl.common import (
    ScratchAgent,
    check_env_fits,
    check_gamma,
    getter,
    linear_epsilon,
    make_optimizer,
    observation_size,
    param_spec,
)
from torch_ref.rl.reinforce import state_of

LOSSES = ("huber", "squared")


def td_loss(q: torch.Tensor, y: torch.Tensor, loss: str = "huber") -> torch.Tensor:
    """``mean_i ℓ(q_i − y_i)``: Huber = ``smooth_l1_loss(beta=1)``, squared = ``½ mse_loss``."""
    if loss == "huber":
        return F.smooth_l1_loss(q, y, beta=1.0)
    return 0.5 * F.mse_loss(q, y)  # the course's ½, which mse_loss lacks


class ReplayBuffer:
    """The last ``capacity`` transitions as batch-first tensors ``S (capacity, n_x)``."""

    def __init__(
        self,
        capacity: int,
        n_x: int,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if isinstance(capacity, bool) or int(capacity) != capacity or capacity < 1:
            raise ValueError(f"capacity: expected a positive integer, got {capacity!r}")
        kw = {"device": device, "dtype": dtype}
        self.capacity, self.size, self.next = int(capacity), 0, 0
        self.S = torch.zeros(capacity, n_x, **kw)  # (capacity, n_x)
        self.S2 = torch.zeros(capacity, n_x, **kw)
        self.A = torch.zeros(capacity, dtype=torch.long, device=device)
        self.R = torch.zeros(capacity, **kw)
        self.terminated = torch.zeros(capacity, **kw)

    def push(self, s: torch.Tensor, a: int, R: float, s2: torch.Tensor, terminated: bool) -> None:
        i = self.next
        self.S[i], self.S2[i] = s.reshape(-1), s2.reshape(-1)
        self.A[i], self.R[i], self.terminated[i] = a, R, float(terminated)
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, u: Any) -> tuple[torch.Tensor, ...]:
        """``(S, A, R, S2, terminated)`` at indices ``⌊u_i · size⌋`` for uniforms ``u (m,)``."""
        if self.size == 0:
            raise ValueError(
                "replay buffer: cannot sample from an empty buffer (size 0); "
                "push transitions first (see learn_start)"
            )
        u = torch.as_tensor(u, dtype=torch.float64)
        idx = (u * self.size).long().clamp_(max=self.size - 1).to(self.S.device)
        return self.S[idx], self.A[idx], self.R[idx], self.S2[idx], self.terminated[idx]


class DQNAgent(ScratchAgent, nn.Module):
    """Online Q-network ``q``, target ``target`` (a frozen copy), replay buffer, ε-greedy policy.

    Args:
        config: a ``scratch.rl.DQNConfig`` or a dict with its fields.
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.
        device, dtype: where and in which float type the parameters and the buffer live.

    Shape:
        - :meth:`forward`: states ``(m, n_x)`` -> ``Q(s, ·) (m, k)``.

    Example:
        >>> from scratch.rl.dqn import DQNConfig
        >>> agent = DQNAgent(DQNConfig(layer_dims=(4, 8, 2)), dtype=torch.float64)
        >>> agent(torch.zeros(5, 4, dtype=torch.float64)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        config: Any,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        get = getter(config)
        self.config = config
        self.layer_dims = tuple(get("layer_dims"))
        self.gamma = check_gamma(get("gamma"))
        self.loss_name = get("loss")
        if self.loss_name not in LOSSES:
            raise ValueError(f"loss: expected one of {list(LOSSES)}, got {self.loss_name!r}")
        self.batch_size, self.learn_start = int(get("batch_size")), int(get("learn_start"))
        self.target_sync, self.train_freq = int(get("target_sync")), int(get("train_freq"))
        self.double, self.tau = bool(get("double")), float(get("tau"))
        self.max_grad_norm = get("max_grad_norm")
        self.schedule = (get("epsilon_start"), get("epsilon_end"), get("epsilon_decay_steps"))
        self.q = DeepNetwork(
            self.layer_dims, get("activation"), "softmax", get("initializer"), generator, **factory_kwargs
        )
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        self.buffer = ReplayBuffer(get("buffer_size"), self.layer_dims[0], **factory_kwargs)
        self.optimizer = make_optimizer(get("optimizer"), self.q.parameters(), get("learning_rate"))
        self.steps = 0

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        self.q.reset_parameters(generator)
        self.sync_target()

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.q(s)  # Q(s, ·), (m, k)

    def epsilon(self) -> float:
        return linear_epsilon(self.steps, *self.schedule)

    @torch.no_grad()
    def act(self, s: torch.Tensor, u_explore: float, u_action: float) -> int:
        """Random ``⌊u_action · k⌋`` if ``u_explore < ε``, else ``argmax_a Q(s, a)``."""
        k = self.layer_dims[-1]
        if u_explore < self.epsilon():
            return min(int(u_action * k), k - 1)
        return int(self(s).argmax(dim=1))

    def td_loss(
        self, S: torch.Tensor, A: torch.Tensor, R: torch.Tensor, S2: torch.Tensor, terminated: torch.Tensor
    ) -> torch.Tensor:
        """``J = mean_i ℓ(Q(s_i, a_i) − y_i)``, ``y`` from the target network, no gradient."""
        with torch.no_grad():
            Q_next = self.target(S2)  # (m, k)
            if self.double:  # the online network picks a', the target network values it
                v = Q_next.gather(1, self(S2).argmax(dim=1, keepdim=True)).squeeze(1)
            else:
                v = Q_next.max(dim=1).values  # (m,)
            y = R + self.gamma * (1 - terminated) * v
        return self.q_loss(S, A, y)

    def q_loss(self, S: torch.Tensor, A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``mean_i ℓ(Q(s_i, a_i) − y_i)`` for states ``S (m, n_x)``, actions ``A (m,)`` and
        fixed targets ``y (m,)``."""
        return td_loss(self(S).gather(1, A.reshape(-1, 1)).squeeze(1), y, self.loss_name)

    def update(self, u: Any) -> float:
        """One TD step on the minibatch that uniforms ``u (m,)`` pick; returns ``J``."""
        self.optimizer.zero_grad(set_to_none=True)
        J = self.td_loss(*self.buffer.sample(u))
        J.backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.q.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return J.item()

    @torch.no_grad()
    def loaded(self) -> None:
        """The scratch weights are in place: the target network starts as a copy."""
        self.sync_target()

    def sync_target(self, tau: float = 1.0) -> None:
        """``θ_target := θ_target + τ (θ − θ_target)`` (``torch.lerp``; ``τ = 1``: a copy)."""
        if tau == 1:
            self.target.load_state_dict(self.q.state_dict())
            return
        for t, p in zip(self.target.parameters(), self.q.parameters()):
            t.lerp_(p, tau)

    def extra_repr(self) -> str:
        return (
            f"gamma={self.gamma}, loss={self.loss_name!r}, double={self.double}, "
            f"batch_size={self.batch_size}, train_freq={self.train_freq}, "
            f"target_sync={self.target_sync}, tau={self.tau}, "
            f"max_grad_norm={self.max_grad_norm}, epsilon={self.schedule}"
        )

    @property
    def param_spec(self) -> ParamSpec:
        return param_spec(len(self.layer_dims) - 1, "q")


def train(
    agent: DQNAgent,
    env: Any,
    episodes: int,
    uniforms: Callable[..., Any],
    seed: int = 0,
    record_params: bool = False,
    stop: Callable[[list[float]], bool] | None = None,
) -> dict[str, list]:
    """As ``scratch.rl.dqn.train``: act, store, learn every step once ``learn_start``
    transitions are stored, sync the target every ``target_sync`` steps."""
    n_x, k = check_env_fits(env, agent.layer_dims)
    like = agent.q.layers[0].weight
    log: dict[str, list] = {
        "actions": [],
        "episode_returns": [],
        "episode_lengths": [],
        "losses": [],
        "params": [],
        "episode_of_update": [],
    }
    obs, _ = env.reset(seed=seed)
    for episode in range(int(episodes)):
        if episode:
            obs, _ = env.reset()
        done, total, length = False, 0.0, 0
        while not done:
            s = state_of(obs, n_x, like)
            a = agent.act(s, uniforms(), uniforms())
            obs, R, terminated, truncated, _ = env.step(a)
            agent.buffer.push(s, a, float(R), state_of(obs, n_x, like), terminated)
            agent.steps += 1
            if agent.buffer.size >= agent.learn_start and agent.steps % agent.train_freq == 0:
                log["losses"].append(agent.update(uniforms(agent.batch_size)))
                log["episode_of_update"].append(episode)
                if record_params:
                    log["params"].append({n: t.detach().clone() for n, t in agent.state_dict().items()})
            if agent.steps % agent.target_sync == 0:
                agent.sync_target(agent.tau)
            log["actions"].append(a)
            total, length = total + float(R), length + 1
            done = terminated or truncated
        log["episode_returns"].append(total)
        log["episode_lengths"].append(length)
        if stop is not None and stop(log["episode_returns"]):
            break
    return log


@torch.no_grad()
def evaluate(agent: DQNAgent, env: Any, episodes: int, seed: int = 0) -> list[float]:
    """Returns of ``episodes`` greedy episodes, ``a = argmax_a Q(s, a)`` (as
    ``scratch.rl.dqn.evaluate``)."""
    n_x, like = observation_size(env), agent.q.layers[0].weight
    returns = []
    obs, _ = env.reset(seed=seed)
    for episode in range(int(episodes)):
        if episode:
            obs, _ = env.reset()
        done, total = False, 0.0
        while not done:
            obs, R, terminated, truncated, _ = env.step(int(agent(state_of(obs, n_x, like)).argmax(dim=1)))
            total, done = total + float(R), terminated or truncated
        returns.append(total)
    return returns


__all__ = ["DQNAgent", "ReplayBuffer", "td_loss", "train", "evaluate", "LOSSES"]
