"""``rl``, the long runs (``pytest -m slow``): the agents actually learn, and parity holds for
longer than the report's runs.

* the 10-armed testbed at the book's size, 2000 runs × 1000 steps (figures 2.2 and 2.5);
* REINFORCE solves CartPole-v1 (mean return >= 475 over the last 100 training episodes) on
  each side within :data:`benchmarks.rl.SOLVE_EPISODES` episodes;
* DQN solves CartPole-v1 on each side: trained ε-greedily (:data:`benchmarks.rl.SOLVE_DQN`)
  until its last :data:`benchmarks.rl.DQN_READY` training episodes average 475, within
  :data:`benchmarks.rl.DQN_EPISODES` episodes, then gymnasium's criterion — mean return >= 475 —
  over 100 consecutive *greedy* evaluation episodes (not over training episodes: see
  :func:`benchmarks.rl.solve_dqn`);
* 60 CartPole episodes of REINFORCE in parity, float64 and float32.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import rl as B
from parity_tests.concepts import rl as C
from parity_tests.tolerances import MOMENT_SE
from scratch.rl import bandit

pytestmark = pytest.mark.slow
gymnasium = pytest.importorskip("gymnasium", reason="CartPole-v1 needs gymnasium")


def test_testbed_at_the_books_size_reproduces_figures_2_2_and_2_5() -> None:
    rng = np.random.default_rng(0)
    eps = {e: bandit.epsilon_greedy(2000, 1000, e, rng) for e in (0.0, 0.01, 0.1)}
    final = eps[0.1]["final_reward"]
    assert abs(final.mean() - C.BOOK_EPSILON_REWARD) <= MOMENT_SE * final.std() / np.sqrt(final.size)
    optimal = [eps[e]["optimal_action"][-100:].mean() for e in (0.1, 0.01, 0.0)]
    assert optimal[0] > optimal[1] > optimal[2] and optimal[0] > 0.75
    rewards = [eps[e]["final_reward"].mean() for e in (0.1, 0.01, 0.0)]
    assert rewards[0] > rewards[1] > rewards[2]
    grad = {
        b: bandit.gradient_bandit(2000, 1000, 0.1, rng, baseline=b)["final_optimal"].mean()
        for b in (True, False)
    }
    assert grad[True] > 0.75 and grad[True] > grad[False] + 0.2


@pytest.mark.parametrize("side", ["numpy", "torch"])
def test_reinforce_solves_cartpole(side: str) -> None:
    result = B.solve("reinforce", B.SOLVE_REINFORCE, seed=0, side=side)
    assert result["solved"], (
        f"{side}: mean of the last 100 returns "
        f"{np.mean(result['returns'][-100:]):.1f} after {result['episodes']}"
    )


@pytest.mark.parametrize("side", ["numpy", "torch"])
def test_dqn_solves_cartpole_judged_on_100_greedy_episodes(side: str) -> None:
    """Gymnasium's criterion (mean return >= 475 over 100 consecutive episodes) on 100 greedy
    evaluation episodes after ε-greedy training that stops once the last
    :data:`~benchmarks.rl.DQN_READY` training episodes average 475."""
    result = B.solve_dqn(B.SOLVE_DQN, seed=B.DQN_SEED, side=side)
    assert result["solved"], (
        f"{side}: {result['episodes']} training episodes (last "
        f"{B.DQN_READY}: {np.mean(result['returns'][-B.DQN_READY :]):.1f}); "
        f"greedy mean {result['greedy mean']:.1f}, min {result['greedy min']:.0f}"
    )
    assert len(result["greedy"]) == 100


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reinforce_cartpole_parity_for_60_episodes(dtype: str) -> None:
    config = C.RUNS["reinforce-cartpole"]["config"]
    s_log, t_log, extra = C.run_both("reinforce", "cartpole", config, 60, seed=11, dtype=dtype)
    records, diagnosis = C.compare_runs(s_log, t_log, extra["params"], dtype)
    assert all(r.passed for r in records), diagnosis
    assert len(s_log.losses) == 60
