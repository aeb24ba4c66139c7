"""Reinforcement learning (``rl``) in torch: the same two agents as ``scratch.rl``.

* :class:`ReinforceAgent` — REINFORCE with a softmax policy network, a running-mean baseline
  and an entropy bonus;
* :class:`DQNAgent` — DQN with experience replay, a target network and ε-greedy exploration.

Both are ``nn.Module``\\ s around :class:`torch_ref.deep.DeepNetwork` and play any environment
with the gymnasium interface and a discrete action space (``scratch.rl.BanditEnv``, gymnasium's
``CartPole-v1``). Their random decisions come from a ``uniforms`` callable — the production
default is :class:`TorchUniforms`; a parity run passes the same stream to both sides.
:data:`PARAM_SPEC` converts scratch parameters ``{W1, b1, …}`` to an agent's ``state_dict``.

Example:
    >>> import torch
    >>> spec = PARAM_SPEC["reinforce"](2)
    >>> spec["W2"][0], spec["b1"][0]
    ('policy.layers.1.weight', 'policy.layers.0.bias')
"""

from functools import partial

from torch_ref.rl.common import TorchUniforms, discounted_returns, param_spec, sample_action
from torch_ref.rl.dqn import DQNAgent, ReplayBuffer
from torch_ref.rl.dqn import train as train_dqn
from torch_ref.rl.reinforce import ReinforceAgent
from torch_ref.rl.reinforce import train as train_reinforce

PARAM_SPEC = {"reinforce": partial(param_spec, network="policy"), "dqn": partial(param_spec, network="q")}
"""``PARAM_SPEC[agent](L)``: the ``ParamSpec`` of an agent with ``L`` layers."""

__all__ = [
    "ReinforceAgent",
    "DQNAgent",
    "ReplayBuffer",
    "TorchUniforms",
    "train_reinforce",
    "train_dqn",
    "discounted_returns",
    "sample_action",
    "param_spec",
    "PARAM_SPEC",
]
