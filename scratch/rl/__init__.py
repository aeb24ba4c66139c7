"""Reinforcement learning (``rl``): agents rewarded for good behaviour, in NumPy.

The notes: "Iterative process of rewarding an agent (network) for good behaviour. Agent relies
on past data and exploration of new tactics." Two agents cover both halves of that sentence:

* :mod:`scratch.rl.reinforce` — REINFORCE (policy gradient) with a softmax policy network, a
  running-mean baseline and an entropy bonus for exploration;
* :mod:`scratch.rl.dqn` — DQN: a Q-network, experience replay ("past data"), a target network
  and ε-greedy exploration with a linearly decaying ε.

Both reuse :mod:`scratch.deep`'s network. Environments (:mod:`scratch.rl.envs`): Sutton &
Barto's k-armed bandit and gymnasium's CartPole-v1; :mod:`scratch.rl.bandit` runs the textbook
testbed vectorized over runs.

Example:
    >>> from scratch.rl import BanditEnv, ReinforceAgent, ReinforceConfig, UniformStream, train_reinforce
    >>> agent = ReinforceAgent(ReinforceConfig(layer_dims=(1, 4)), seed=0)
    >>> log = train_reinforce(agent, BanditEnv(4, seed=0), episodes=3, uniforms=UniformStream(0))
    >>> len(log.actions)
    3
"""

from scratch.rl.common import Optimizer, discounted_returns, linear_epsilon, sample_action
from scratch.rl.dqn import DQNAgent, DQNConfig, ReplayBuffer
from scratch.rl.dqn import train as train_dqn
from scratch.rl.envs import BanditEnv, UniformStream, check_gamma, make_cartpole, num_actions
from scratch.rl.reinforce import ReinforceAgent, ReinforceConfig, TrainingLog
from scratch.rl.reinforce import train as train_reinforce

__all__ = [
    "BanditEnv",
    "UniformStream",
    "check_gamma",
    "make_cartpole",
    "num_actions",
    "Optimizer",
    "discounted_returns",
    "linear_epsilon",
    "sample_action",
    "ReinforceAgent",
    "ReinforceConfig",
    "TrainingLog",
    "train_reinforce",
    "DQNAgent",
    "DQNConfig",
    "ReplayBuffer",
    "train_dqn",
]
