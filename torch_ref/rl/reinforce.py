"""REINFORCE in torch: a softmax policy (:class:`~torch_ref.deep.DeepNetwork`) with a running-mean
baseline and an entropy bonus, trained by autograd.

After an episode with returns ``G_t`` and advantages ``A_t = (G_t − b) / σ``::

    J = mean_t [ −A_t log π(a_t | s_t) − β H(π(· | s_t)) ]      then  b := b + ρ (mean_t G_t − b)

exactly as ``scratch.rl.reinforce`` (which writes the gradient by hand).
"""

from __future__ import annotations

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
    discounted_returns,
    getter,
    make_optimizer,
    param_spec,
    sample_action,
)

ADVANTAGE_EPS = 1e-8


def policy_loss(z: torch.Tensor, actions: torch.Tensor, A: torch.Tensor, beta: float) -> torch.Tensor:
    """``mean_t [−A_t log π(a_t|s_t) − β H_t]`` from logits ``z (T, k)``, ``actions (T,)``,
    ``A (T,)``."""
    logp = F.log_softmax(z, dim=1)  # log π, (T, k)
    H = -(logp.exp() * logp).sum(dim=1)  # (T,)
    chosen = logp.gather(1, actions.reshape(-1, 1)).squeeze(1)  # log π(a_t | s_t)
    return (-A * chosen - beta * H).mean()


class ReinforceAgent(ScratchAgent, nn.Module):
    """``π(a | s) = softmax(policy(s))_a``, trained on whole episodes.

    Args:
        config: a ``scratch.rl.ReinforceConfig`` or a dict with its fields.
        generator: the ``torch.Generator`` :meth:`reset_parameters` draws from.
        device, dtype: where and in which float type the parameters live.

    Shape:
        - :meth:`forward`: states ``(m, n_x)`` -> logits ``(m, k)``.

    Attributes:
        policy: the :class:`~torch_ref.deep.DeepNetwork` ``[n_x, …, k]``.
        baseline: ``b``, a Python float (host side, like the rewards).

    Example:
        >>> agent = ReinforceAgent({"layer_dims": (4, 8, 2), "activation": "tanh",
        ...     "initializer": "xavier", "gamma": 0.99, "learning_rate": 0.01, "optimizer": "adam",
        ...     "entropy_beta": 0.01, "baseline_rate": 0.05, "normalize": True})
        >>> agent(torch.zeros(3, 4)).shape
        torch.Size([3, 2])
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
        self.layer_dims = tuple(get("layer_dims"))
        self.activation = get("activation")
        self.gamma = check_gamma(get("gamma"))
        self.entropy_beta = float(get("entropy_beta"))
        self.baseline_rate = float(get("baseline_rate"))
        self.normalize = bool(get("normalize"))
        self.policy = DeepNetwork(
            self.layer_dims, self.activation, "softmax", get("initializer"), generator, **factory_kwargs
        )
        self.optimizer = make_optimizer(get("optimizer"), self.parameters(), get("learning_rate"))
        self.baseline = 0.0

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        self.policy.reset_parameters(generator)
        self.baseline = 0.0

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.policy(s)  # logits z[L], (m, k)

    @torch.no_grad()
    def act(self, s: torch.Tensor, u: float) -> int:
        """``a ~ π(· | s)`` for one state ``s (1, n_x)`` by inverse CDF of ``u ~ U[0, 1)``."""
        return sample_action(torch.softmax(self(s), dim=1), u)

    def loss(self, S: torch.Tensor, actions: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """``J = mean_t [−A_t log π(a_t|s_t) − β H_t]`` for ``S (T, n_x)``, ``actions (T,)``,
        advantages ``A (T,)``."""
        return policy_loss(self(S), actions, A, self.entropy_beta)

    def advantages(self, G: torch.Tensor) -> torch.Tensor:
        """``(G − b) / (std(G − b) + ε)`` (or without the division), float64."""
        A = G - self.baseline
        return A / (A.std(unbiased=False) + ADVANTAGE_EPS) if self.normalize else A

    def update(self, states: list[torch.Tensor], actions: list[int], rewards: list[float]) -> float:
        """One optimizer step on the episode; returns ``J``; then moves the baseline."""
        w = self.policy.layers[0].weight
        G = discounted_returns(rewards, self.gamma, torch.float64, w.device)  # (T,)
        A = self.advantages(G).to(w.dtype)
        a = torch.tensor(actions, device=w.device)
        self.optimizer.zero_grad(set_to_none=True)
        J = self.loss(torch.cat(states), a, A)
        J.backward()
        self.optimizer.step()
        self.baseline += self.baseline_rate * (G.mean().item() - self.baseline)
        return J.item()

    def extra_repr(self) -> str:
        return (
            f"gamma={self.gamma}, entropy_beta={self.entropy_beta}, "
            f"baseline_rate={self.baseline_rate}, normalize={self.normalize}"
        )

    @property
    def param_spec(self) -> ParamSpec:
        return param_spec(len(self.layer_dims) - 1, "policy")


def state_of(obs: Any, n_x: int, like: torch.Tensor) -> torch.Tensor:
    """An observation as a batch-first row ``(1, n_x)`` on ``like``'s device and dtype."""
    s = torch.as_tensor(obs, dtype=torch.float64).to(device=like.device, dtype=like.dtype)
    if s.numel() != n_x:
        raise ValueError(f"obs: expected shape (n_x,) = ({n_x},), got {tuple(s.shape)}")
    return s.reshape(1, n_x)


def train(
    agent: ReinforceAgent,
    env: Any,
    episodes: int,
    uniforms: Callable[[], float],
    seed: int = 0,
    record_params: bool = False,
    stop: Callable[[list[float]], bool] | None = None,
) -> dict[str, list]:
    """Play ``episodes`` episodes, one update after each (as ``scratch.rl.reinforce.train``).

    Returns ``{"actions", "episode_returns", "episode_lengths", "losses", "params",
    "episode_of_update"}`` (the fields of ``scratch.rl.TrainingLog``);
    ``params`` holds a ``state_dict`` copy after every update when ``record_params``.
    """
    n_x, k = check_env_fits(env, agent.layer_dims)
    like = agent.policy.layers[0].weight
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
        states, actions, rewards = [], [], []
        done = False
        while not done:
            s = state_of(obs, n_x, like)
            a = agent.act(s, uniforms())
            obs, R, terminated, truncated, _ = env.step(a)
            states.append(s)
            actions.append(a)
            rewards.append(float(R))
            done = terminated or truncated
        log["actions"].extend(actions)
        log["episode_returns"].append(float(sum(rewards)))
        log["episode_lengths"].append(len(rewards))
        log["losses"].append(agent.update(states, actions, rewards))
        log["episode_of_update"].append(episode)
        if record_params:
            log["params"].append({n: t.detach().clone() for n, t in agent.state_dict().items()})
        if stop is not None and stop(log["episode_returns"]):
            break
    return log


__all__ = ["ReinforceAgent", "policy_loss", "train", "state_of"]
