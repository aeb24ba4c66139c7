"""``rl``: the pieces the registered checks rely on, bad input, and that a divergence is named.

The registered checks (``parity_tests/concepts/rl.py``) prove the two agents equal step by step;
here: the fast paths equal the reference, sampling by inverse CDF agrees on both sides at the CDF's
edges, scratch Adam is ``torch.optim.Adam``, the vectorized gradient bandit is the REINFORCE step,
caller mistakes are refused by name, and a run that diverges fails with its first divergence named.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_close
from parity_tests.concepts import rl as C
from scratch.rl import bandit, common
from scratch.rl import dqn as SD
from scratch.rl import reinforce as SR
from scratch.rl.envs import BanditEnv, UniformStream, check_gamma, num_actions
from torch_ref import rl as T
from torch_ref.layout import load_scratch_params, state_dict_to_params
from torch_ref.rl import common as TC
from torch_ref.rl import dqn as TD
from torch_ref.rl.dqn import ReplayBuffer as TorchReplayBuffer


class _Box:
    shape = (2,)

    def __repr__(self) -> str:
        return "Box(-1.0, 1.0, (2,), float32)"


class _ContinuousEnv(BanditEnv):
    def __init__(self) -> None:
        super().__init__(10)
        self.action_space = _Box()


# --- the pieces ------------------------------------------------------------------------------
def test_discounted_returns_match_the_definition() -> None:
    R = np.random.default_rng(0).standard_normal(9)
    gamma = 0.9
    expected = np.array([sum(gamma ** (j - t) * R[j] for j in range(t, 9)) for t in range(9)])
    assert_close(common.discounted_returns(R, gamma), expected, level="forward")
    assert_close(TC.discounted_returns(R.tolist(), gamma).numpy(), expected, level="forward")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inverse_cdf_sampling_agrees_at_the_edges(dtype: str) -> None:
    pi = np.array([0.125, 0.0, 0.375, 0.5], dtype=dtype)  # exact in binary: edges at 1/8, 1/2
    cdf = np.cumsum(pi)
    grid = [0.0, 0.1249999, 0.125, 0.3, 0.5, 0.75, 0.9999999999]
    s = [common.sample_action(pi, u) for u in grid]
    t = [TC.sample_action(torch.from_numpy(pi), u) for u in grid]
    assert s == t == [0, 0, 2, 2, 3, 3, 3]
    u_dt = [cdf.dtype.type(u) for u in grid]  # both sides compare u rounded to π's dtype
    assert all(cdf[a] > u or a == 3 for a, u in zip(s, u_dt))  # u < F(a): the definition
    assert all(a == 0 or cdf[a - 1] <= u for a, u in zip(s, u_dt))  # ... and a is the first
    assert common.sample_action(np.array([0.5, 0.4999], dtype=dtype), 0.99995) == 1  # Σπ < u: last


@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu", "sigmoid"])
@pytest.mark.parametrize("dims", [(3, 6, 4), (3, 6, 5, 4)])
def test_fast_logits_and_fast_net_equal_the_reference_network(activation: str, dims: tuple) -> None:
    rng = np.random.default_rng(1)
    params = {
        k: v + rng.standard_normal(v.shape) * 0.3  # non-zero biases too
        for k, v in common.starting_params(dims, "xavier", 1, None, np.float64).items()
    }
    S = rng.standard_normal((3, 5))
    ZL, caches = common.forward(params, S, activation)
    assert_close(common.fast_logits(params, S, activation), ZL, level="forward")
    net = common.FastNet(dims, 5, np.float64, activation)
    assert_close(net.forward(params, S), ZL, level="forward")
    dZL = rng.standard_normal(ZL.shape)
    fast, ref = net.backward(params, dZL), common.backward(dZL, caches)
    assert sorted(fast) == sorted(ref)
    for k in ref:
        assert_close(fast[k], ref[k], level="gradient", name=k)


def test_scratch_adam_is_torch_adam() -> None:
    rng = np.random.default_rng(2)
    p = {"W1": rng.standard_normal((4, 3))}
    w = torch.nn.Parameter(torch.from_numpy(p["W1"].copy()))
    ours, theirs = common.Optimizer("adam", 0.01), torch.optim.Adam([w], lr=0.01)
    for t in range(20):
        g = rng.standard_normal((4, 3))
        ours.step(p, {"dW1": g})
        w.grad = torch.from_numpy(g.copy())
        theirs.step()
        assert_close(p["W1"], w.detach().numpy(), level="trajectory", step=t)


def test_gradient_bandit_step_is_the_reinforce_step() -> None:
    """One step of the vectorized testbed's ``H += α (R − R̄)(1[a] − π)`` is ``−α dZ[L]`` of
    :func:`scratch.rl.reinforce.policy_dZ` with ``β = 0``, one step, advantage ``R − R̄``."""
    rng = np.random.default_rng(3)
    H = rng.standard_normal((10, 1))
    pi = common.softmax_column(H)
    a, A, alpha = 4, 0.7, 0.1
    testbed = H[:, 0] - alpha * A * pi[:, 0]
    testbed[a] += alpha * A
    reinforce = H - alpha * SR.policy_dZ(H, np.array([a]), np.array([A]), 0.0)
    assert_close(testbed, reinforce[:, 0], level="forward")


def test_uniform_stream_is_one_reproducible_stream() -> None:
    a, b = UniformStream(5), UniformStream(5)
    assert [a(), *a(3).tolist()] == [b(), *b(3).tolist()] and a.drawn == 4


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("check", [num_actions, TC.num_actions])
def test_a_continuous_action_space_is_refused_by_name(check) -> None:
    with pytest.raises(TypeError, match=r"env.action_space: expected a discrete space .* got Box"):
        check(_ContinuousEnv())


@pytest.mark.parametrize("train", [SR.train, T.train_reinforce])
def test_training_on_a_continuous_env_is_refused(train) -> None:
    agent = (
        SR.ReinforceAgent(C.POLICY) if train is SR.train else T.ReinforceAgent(C.POLICY, dtype=torch.float64)
    )
    with pytest.raises(TypeError, match="env.action_space"):
        train(agent, _ContinuousEnv(), 1, UniformStream(0))


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan")])
@pytest.mark.parametrize("check", [check_gamma, TC.check_gamma])
def test_gamma_outside_0_1_is_refused(check, gamma: float) -> None:
    with pytest.raises(ValueError, match=r"gamma: expected a discount in \[0, 1\]"):
        check(gamma)


@pytest.mark.parametrize("make", [SR.ReinforceConfig, SD.DQNConfig])
def test_configs_refuse_bad_gamma(make) -> None:
    with pytest.raises(ValueError, match="gamma"):
        make(layer_dims=(4, 8, 2), gamma=1.01)
    with pytest.raises(TypeError, match="gamma"):
        make(layer_dims=(4, 8, 2), gamma="high")


def test_torch_agents_refuse_bad_gamma() -> None:
    for agent, cfg in ((T.ReinforceAgent, C.POLICY), (T.DQNAgent, C.QNET["huber"])):
        with pytest.raises(ValueError, match="gamma"):
            agent({**cfg.to_dict(), "gamma": 2.0})


@pytest.mark.parametrize("buffer", [SD.ReplayBuffer(8, 3), TorchReplayBuffer(8, 3)])
def test_sampling_an_empty_buffer_is_refused(buffer) -> None:
    with pytest.raises(ValueError, match=r"cannot sample from an empty buffer \(size 0\)"):
        buffer.sample(np.array([0.5, 0.1]))


def test_config_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="loss: expected one of"):
        SD.DQNConfig(layer_dims=(4, 2), loss="l1")
    with pytest.raises(ValueError, match="epsilon_end: expected a number in"):
        SD.DQNConfig(layer_dims=(4, 2), epsilon_end=1.5)
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        SR.ReinforceConfig(layer_dims=(4, 2), optimizer="rmsprop")
    with pytest.raises(ValueError, match="layer_dims: the policy needs k >= 2"):
        SR.ReinforceConfig(layer_dims=(4, 1))
    with pytest.raises(ValueError, match="batch_size: expected a positive integer"):
        SD.DQNConfig(layer_dims=(4, 2), batch_size=0)


@pytest.mark.parametrize("side", ["scratch", "torch"])
def test_an_env_that_does_not_fit_the_network_is_refused(side: str) -> None:
    cfg = SR.ReinforceConfig(layer_dims=(1, 4, 3))  # 3 actions; the bandit below has 10
    agent = SR.ReinforceAgent(cfg) if side == "scratch" else T.ReinforceAgent(cfg)
    train = SR.train if side == "scratch" else T.train_reinforce
    with pytest.raises(ValueError, match=r"env: observations of size 1 and 10 actions do not fit"):
        train(agent, BanditEnv(10), 1, UniformStream(0))


def test_bandit_refuses_bad_arms_and_actions() -> None:
    with pytest.raises(ValueError, match="k: expected an integer number of arms >= 2"):
        BanditEnv(1)
    with pytest.raises(ValueError, match=r"action: expected an integer in \[0, 9\], got 10"):
        BanditEnv(10).step(10)


# --- a divergence fails, and is named --------------------------------------------------------
def test_a_run_on_other_uniforms_fails_naming_the_first_divergent_action() -> None:
    run = C.RUNS["reinforce-cartpole"]
    s_log, t_log, extra = C.run_both("reinforce", "cartpole", run["config"], 4, seed=3)
    other = SR.train(
        SR.ReinforceAgent(run["config"], seed=3),
        C._env("cartpole"),
        4,
        UniformStream(99),
        seed=3,
        record_params=True,
    )
    records, diagnosis = C.compare_runs(other, t_log, extra["params"], "float64")
    assert not all(r.passed for r in records)
    assert diagnosis.startswith("first diverges at the actions differ first at environment step")
    records, diagnosis = C.compare_runs(s_log, t_log, extra["params"], "float64")
    assert all(r.passed for r in records) and diagnosis is None


def test_a_perturbed_update_is_named_by_update_episode_and_parameter() -> None:
    run = C.RUNS["dqn-bandit"]
    s_log, t_log, extra = C.run_both("dqn", "bandit", run["config"], 20, seed=1)
    extra["params"][5]["b2"] = extra["params"][5]["b2"] + 1e-6
    records, diagnosis = C.compare_runs(s_log, t_log, extra["params"], "float64")
    bad = [r for r in records if not r.passed]
    assert [r.name for r in bad] == ["b2"] and bad[0].step == 5
    assert diagnosis == f"first diverges at update 5 (episode {s_log.episode_of_update[5]}) in b2"


def test_testbed_curves_have_the_book_shape() -> None:
    curves = bandit.epsilon_greedy(100, 300, 0.1, np.random.default_rng(0))
    assert curves["average_reward"][:20].mean() < curves["average_reward"][-50:].mean()
    assert curves["final_reward"].shape == (100,)


# --- DQN's stabilizers: double targets, gradient clipping, soft sync, truncation -------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("max_norm", [0.3, 1e3])  # clips / leaves alone (coefficient 1)
def test_clip_grad_norm_is_torchs(dtype: str, max_norm: float) -> None:
    rng = np.random.default_rng(4)
    grads = {
        "dW1": rng.standard_normal((5, 3)),
        "db1": rng.standard_normal((5, 1)),
        "dW2": rng.standard_normal((2, 5)),
    }
    grads = {k: v.astype(dtype) for k, v in grads.items()}
    ps = [torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, dtype))) for g in grads.values()]
    for p, g in zip(ps, grads.values()):
        p.grad = torch.from_numpy(g.copy())
    expected_norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    norm = common.clip_grad_norm(grads, max_norm)
    assert_close(np.array(norm), expected_norm.double().numpy(), level="forward", name="‖g‖")
    for (k, g), p in zip(grads.items(), ps):
        assert_close(g, p.grad.numpy(), level="forward", name=k)
    total = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
    assert total <= max_norm * (1 + 1e-5) if max_norm < 1 else total == pytest.approx(norm, rel=1e-6)


def test_double_dqn_target_lets_the_online_network_pick_and_the_target_value() -> None:
    Q_target = np.array([[1.0, 5.0, 2.0], [3.0, 4.0, 2.0]])  # (k=2, m=3)
    Q_online = np.array([[9.0, 0.0, 7.0], [0.0, 1.0, 7.0]])  # picks a' = 0, 1, 0 (tie: first)
    R, term = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0])
    y = SD.td_targets(Q_target, R, term, 0.5, Q_online)
    assert y.tolist() == [1.0 + 0.5 * 1.0, 2.0 + 0.5 * 4.0, 3.0]
    assert SD.td_targets(Q_target, R, term, 0.5).tolist() == [2.5, 4.5, 3.0]  # max: 3, 5
    agent = T.DQNAgent(
        {**C.QNET["huber"].to_dict(), "layer_dims": (2, 2), "double": True, "gamma": 0.5}, dtype=torch.float64
    )
    with torch.no_grad():  # the torch side: Q(s) = W s with s' = e_i, so Q(s', ·) = W's column i
        agent.q.layers[0].weight.copy_(torch.from_numpy(Q_online[:, :2]))
        agent.target.layers[0].weight.copy_(torch.from_numpy(Q_target[:, :2]))
        agent.q.layers[0].bias.zero_()
        agent.target.layers[0].bias.zero_()
    S2 = torch.eye(2, dtype=torch.float64)
    loss = agent.td_loss(S2, torch.tensor([0, 1]), torch.tensor(R[:2]), S2, torch.tensor(term[:2]))
    q = torch.from_numpy(Q_online[:, :2]).T.gather(1, torch.tensor([[0], [1]])).squeeze(1)
    expected = torch.nn.functional.smooth_l1_loss(q, torch.tensor(y[:2]))
    assert_close(loss.detach().numpy(), expected.numpy(), level="forward")


@pytest.mark.parametrize("tau", [0.3, 0.7, 1.0])
def test_soft_target_sync_is_torch_lerp(tau: float) -> None:
    cfg = SD.DQNConfig(layer_dims=(3, 6, 4), tau=tau)
    s_agent = SD.DQNAgent(cfg, seed=1)
    t_agent = T.DQNAgent(cfg, dtype=torch.float64)
    spec = T.PARAM_SPEC["dqn"](2)
    load_scratch_params(t_agent, s_agent.params, spec)
    t_agent.sync_target()
    new = C._params((3, 6, 4), np.random.default_rng(5))
    s_agent.params = {k: v.copy() for k, v in new.items()}
    load_scratch_params(t_agent, new, spec)
    s_agent.sync_target(tau)
    t_agent.sync_target(tau)
    t_target = state_dict_to_params(
        {k.replace("target.", "q."): v for k, v in t_agent.state_dict().items() if k.startswith("target.")},
        spec,
    )
    for k, v in s_agent.target.items():
        assert_close(v, t_target[k], level="forward", name=k)
    if tau == 1.0:
        assert all(np.array_equal(s_agent.target[k], new[k]) for k in new)


class _TruncatingEnv(BanditEnv):
    """Episodes of 3 steps: the first ends terminated, the second truncated (a time limit)."""

    def __init__(self) -> None:
        super().__init__(2)
        self.t, self.episode = 0, -1

    def reset(self, seed: int | None = None):
        self.t, self.episode = 0, self.episode + 1
        return super().reset(seed)

    def step(self, action: int):
        obs, R, _, _, info = super().step(action)
        self.t += 1
        end = self.t == 3
        return obs, R, end and self.episode == 0, end and self.episode == 1, info


@pytest.mark.parametrize("side", ["scratch", "torch"])
def test_truncation_still_bootstraps_only_termination_stops_it(side: str) -> None:
    cfg = SD.DQNConfig(layer_dims=(1, 4, 2), batch_size=2, learn_start=100)
    agent = SD.DQNAgent(cfg) if side == "scratch" else T.DQNAgent(cfg, dtype=torch.float64)
    train = SD.train if side == "scratch" else T.train_dqn
    log = train(agent, _TruncatingEnv(), 2, UniformStream(0))
    lengths = log["episode_lengths"] if isinstance(log, dict) else log.episode_lengths
    assert lengths == [3, 3]
    terminated = np.asarray(agent.buffer.terminated[:6]).tolist()
    assert terminated == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("field", "value", "error", "match"),
    [
        ("tau", 0.0, ValueError, r"tau: expected a number in \(0, 1\]"),
        ("tau", 1.5, ValueError, r"tau: expected a number in \(0, 1\]"),
        ("max_grad_norm", -1.0, ValueError, "max_grad_norm: expected a positive finite number or None"),
        ("max_grad_norm", float("inf"), ValueError, "max_grad_norm: expected a positive finite"),
        ("train_freq", 0, ValueError, "train_freq: expected a positive integer"),
        ("double", "yes", TypeError, "double: expected a bool, got 'yes'"),
    ],
)
def test_dqn_stabilizer_settings_are_checked_by_name(field: str, value, error, match: str) -> None:
    with pytest.raises(error, match=match):
        SD.DQNConfig(layer_dims=(4, 8, 2), **{field: value})


def test_greedy_evaluation_plays_the_same_episodes_on_both_sides() -> None:
    pytest.importorskip("gymnasium", reason="CartPole-v1 needs gymnasium")
    cfg = SD.DQNConfig(layer_dims=(4, 12, 2))
    s_agent = SD.DQNAgent(cfg, seed=2)
    t_agent = T.DQNAgent(cfg, dtype=torch.float64)
    load_scratch_params(t_agent, s_agent.params, T.PARAM_SPEC["dqn"](2))
    s_returns = SD.evaluate(s_agent, C._env("cartpole"), 4, seed=9)
    t_returns = TD.evaluate(t_agent, C._env("cartpole"), 4, seed=9)
    assert s_returns == t_returns and len(s_returns) == 4 and min(s_returns) >= 1
