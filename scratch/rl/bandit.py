"""Sutton & Barto's 10-armed testbed, vectorized over independent runs (the textbook figures).

Each of ``runs`` bandit problems draws ``q*(a) ~ N(μ, 1)``; every step each run picks an arm and
receives ``R ~ N(q*(a), 1)``. Arrays are ``(runs, k)``; one loop over the ``steps``.

* :func:`epsilon_greedy` — action-value estimates by sample averages
  ``Q(a) := Q(a) + (R − Q(a)) / N(a)`` and ε-greedy choice (ties broken at random): figure 2.2,
  where ε = 0.1 reaches an average reward of about 1.4 (and ~80% optimal actions) by step 1000.
  It is the exploration DQN uses, with a table instead of a network.
* :func:`gradient_bandit` — REINFORCE with a softmax over preferences ``H (runs, k)`` (the policy
  network with no state: its logits are the preferences) and a running-mean baseline ``R̄``::

      H(a) := H(a) + α (R − R̄)(1[a = A] − π(a))

  figure 2.5 (``μ = 4``: with the baseline it finds the best arm, without it much less often).

Example:
    >>> import numpy as np
    >>> curves = epsilon_greedy(50, 20, 0.1, np.random.default_rng(0))
    >>> curves["average_reward"].shape, curves["optimal_action"].shape
    ((20,), (20,))
"""

from __future__ import annotations

import numpy as np

from scratch.rl.common import check_positive_int, check_probability

FINAL_WINDOW = 100
"""Steps at the end of a run over which ``final_reward`` and ``final_optimal`` average."""


def _testbed(runs: int, k: int, mean: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    check_positive_int(runs=runs, k=k)
    q_star = rng.normal(mean, 1.0, (runs, k))  # (runs, k)
    return q_star, q_star.argmax(axis=1)  # the optimal arm of each run, (runs,)


def epsilon_greedy(
    runs: int,
    steps: int,
    epsilon: float,
    rng: np.random.Generator,
    k: int = 10,
    mean: float = 0.0,
    history: bool = False,
) -> dict[str, np.ndarray]:
    """Average reward and fraction of optimal actions at every step, over ``runs`` runs.

    Returns ``{"average_reward": (steps,), "optimal_action": (steps,), "final_reward": (runs,)}``,
    the last being each run's mean reward over its last :data:`FINAL_WINDOW` steps. With
    ``history=True`` also every step's ``"actions" (steps, runs)``, ``"rewards" (steps, runs)``
    and the estimates after its update, ``"Q" (steps, runs, k)`` (the parity checks replay them).
    """
    check_probability("epsilon", epsilon)
    check_positive_int(steps=steps)
    q_star, best = _testbed(runs, k, mean, rng)
    Q = np.zeros((runs, k))  # sample-average estimates
    N = np.zeros((runs, k))  # pulls of each arm
    rows = np.arange(runs)
    reward, optimal = np.empty(steps), np.empty(steps)
    final = np.zeros(runs)
    hist = _history(history, steps, runs, k, "Q")
    for t in range(steps):
        ties = np.where(Q == Q.max(axis=1, keepdims=True), rng.random((runs, k)), -1.0)
        a = np.where(rng.random(runs) < epsilon, rng.integers(0, k, runs), ties.argmax(axis=1))
        R = rng.normal(q_star[rows, a], 1.0)  # (runs,)
        N[rows, a] += 1
        Q[rows, a] += (R - Q[rows, a]) / N[rows, a]
        reward[t], optimal[t] = R.mean(), np.mean(a == best)
        if t >= steps - FINAL_WINDOW:
            final += R / min(steps, FINAL_WINDOW)
        if hist:
            hist["actions"][t], hist["rewards"][t], hist["Q"][t] = a, R, Q
    return {"average_reward": reward, "optimal_action": optimal, "final_reward": final, **hist}


def gradient_bandit(
    runs: int,
    steps: int,
    alpha: float,
    rng: np.random.Generator,
    baseline: bool = True,
    k: int = 10,
    mean: float = 4.0,
    history: bool = False,
) -> dict[str, np.ndarray]:
    """REINFORCE on the testbed; ``R̄`` is the mean of the rewards so far (this one included).

    Actions are drawn by inverse CDF of ``u ~ U[0, 1)``, as the agents do. Returns the curves
    of :func:`epsilon_greedy` and ``"final_optimal" (runs,)``, each run's fraction of optimal
    actions over its last :data:`FINAL_WINDOW` steps; with ``history=True`` also ``"actions"``,
    ``"rewards"`` and, after each step's update, ``"H" (steps, runs, k)`` and ``"R_bar"
    (steps, runs)``.
    """
    check_positive_int(steps=steps)
    q_star, best = _testbed(runs, k, mean, rng)
    H = np.zeros((runs, k))  # preferences = the policy's logits
    R_bar = np.zeros(runs)
    rows = np.arange(runs)
    reward, optimal = np.empty(steps), np.empty(steps)
    final = np.zeros(runs)
    hist = _history(history, steps, runs, k, "H")
    if hist:
        hist["R_bar"] = np.empty((steps, runs))
    for t in range(steps):
        E = np.exp(H - H.max(axis=1, keepdims=True))
        pi = E / E.sum(axis=1, keepdims=True)  # (runs, k)
        cdf = np.cumsum(pi, axis=1)
        a = np.minimum((cdf <= rng.random((runs, 1))).sum(axis=1), k - 1)  # inverse CDF
        R = rng.normal(q_star[rows, a], 1.0)
        if baseline:
            R_bar += (R - R_bar) / (t + 1)
        advantage = (R - R_bar)[:, None]  # (runs, 1)
        H -= alpha * advantage * pi  # −α (R − R̄) π(a) for every arm ...
        H[rows, a] += alpha * advantage[:, 0]  # ... + α (R − R̄) for the chosen one
        reward[t], optimal[t] = R.mean(), np.mean(a == best)
        if t >= steps - FINAL_WINDOW:
            final += (a == best) / min(steps, FINAL_WINDOW)
        if hist:
            hist["actions"][t], hist["rewards"][t], hist["H"][t], hist["R_bar"][t] = a, R, H, R_bar
    return {"average_reward": reward, "optimal_action": optimal, "final_optimal": final, **hist}


def _history(wanted: bool, steps: int, runs: int, k: int, estimates: str) -> dict[str, np.ndarray]:
    """Per-step records of a run (empty unless ``wanted``): actions, rewards, estimates."""
    if not wanted:
        return {}
    return {
        "actions": np.empty((steps, runs), dtype=np.int64),
        "rewards": np.empty((steps, runs)),
        estimates: np.empty((steps, runs, k)),
    }


__all__ = ["epsilon_greedy", "gradient_bandit", "FINAL_WINDOW"]
