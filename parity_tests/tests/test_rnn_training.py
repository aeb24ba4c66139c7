"""``rnn`` trained longer than the report's short registered runs (``slow``): step-for-step parity
*and* what the training achieves, on both sides.

- recall the first of 40 symbols: identical free-running trajectories over the first steps;
  over 600 steps every step's update identical in lockstep (both sides step from the same
  parameters), and, each side running free, the LSTM learns it (held-out accuracy >= 90% on
  both sides) while the vanilla RNN does not (<= 40%, chance is 25%). Free-running parity
  cannot last the whole run for any two implementations: two *torch* runs 1e-15 apart part
  ways once the LSTM starts escaping its loss plateau (asserted below);
- digits as sequences of rows: held-out accuracy >= 90% on both sides;
- the character language model: a longer identical trajectory, then identical samples.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_parity
from parity_tests.concepts.rnn import tasks as K
from parity_tests.tolerances import tolerance
from parity_tests.trajectory import check_training
from torch_ref.layout import load_scratch_params

pytestmark = pytest.mark.slow

RECALL_PARITY_STEPS = 15  # free-running step-for-step parity, before the plateau escape
RECALL_STEPS = 600  # the LSTM escapes its plateau near step 70-320 depending on rounding


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_recall_trajectories_agree(cell: str, device: str, dtype: str) -> None:
    problem = K.recall(cell, RECALL_PARITY_STEPS, K.RECALL_LR[cell])(np.random.default_rng(11))
    assert_parity(check_training(device=device, dtype=dtype, concept="rnn", case=f"recall-{cell}", **problem))


def _recall_outcome(cell: str, accuracy: float, side: str) -> None:
    if cell == "lstm":
        assert accuracy >= 0.9, f"the LSTM did not learn to recall ({side}: {accuracy:.3f})"
    else:
        assert accuracy <= 0.4, f"the vanilla RNN recalled over 40 steps ({side}: {accuracy:.3f})"


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_recall_whole_run_is_equal_step_for_step_in_lockstep(cell: str, device: str, dtype: str) -> None:
    """The whole 600-step run, step for step: torch reset to the scratch parameters before each
    step, every update compared at the gradient tolerance. The outcome is asserted in float64;
    in float32 the LSTM's plateau escape comes later (75% held-out at step 600 on CPU, where
    float64 reaches 100%): when it escapes depends on rounding, not on the implementation."""
    problem = K.recall(cell, RECALL_STEPS, K.RECALL_LR[cell])(np.random.default_rng(11))
    locked = check_training(
        device=device, dtype=dtype, concept="rnn", case=f"recall-{cell}", lockstep=True, **problem
    )
    assert_parity(locked)
    assert len(locked.extra["scratch_loss"]) == RECALL_STEPS
    if dtype == "float64":
        _recall_outcome(cell, locked.extra["metrics"]["test_accuracy_scratch"], "scratch, lockstep")


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_recall_lstm_learns_and_vanilla_rnn_does_not(cell: str) -> None:
    """Each side running free on the same batches (they part ways after the first steps, see
    below): the outcome is asserted per side."""
    problem = K.recall(cell, RECALL_STEPS, K.RECALL_LR[cell])(np.random.default_rng(11))
    free = check_training(
        device="cpu", dtype="float64", concept="rnn", case=f"recall-{cell}", **problem
    ).extra["metrics"]
    for side in ("scratch", "torch"):
        _recall_outcome(cell, free[f"test_accuracy_{side}"], side)


def test_recall_runs_part_ways_whatever_the_implementation() -> None:
    """Why the long run is compared in lockstep: torch against *itself*, started 1e-15 apart
    (relative, every parameter), stays together for the first steps and then parts by far more
    than the trajectory tolerance once the LSTM's training turns unstable. Free-running parity
    there would demand what no two implementations can give."""
    steps = 140
    problem = K.recall("lstm", steps, K.RECALL_LR["lstm"])(np.random.default_rng(11))
    rng = np.random.default_rng(5)
    runs = []
    for nudge in (0.0, 1e-15):
        model = copy.deepcopy(problem["torch_model"]).double()
        load_scratch_params(
            model,
            {k: v * (1 + nudge * rng.standard_normal(v.shape)) for k, v in problem["init_params"].items()},
        )
        runs.append((model, torch.optim.SGD(model.parameters(), lr=K.RECALL_LR["lstm"])))
    apart = []
    for X, Y in problem["batches"]:
        Xt, Yt = (torch.as_tensor(layout.to_torch(a)) for layout, a in zip(problem["batch_layouts"], (X, Y)))
        for model, opt in runs:
            opt.zero_grad()
            problem["torch_loss"](model, Xt, Yt).backward()
            opt.step()
        a, b = (m.state_dict() for m, _ in runs)
        apart.append(max(float((a[k] - b[k]).abs().max() / a[k].abs().max()) for k in a))
    tol = tolerance("float64", "trajectory", steps - 1).rtol
    assert max(apart[:RECALL_PARITY_STEPS]) < 1e-12, apart[:RECALL_PARITY_STEPS]
    assert apart[-1] > 100 * tol, f"the two torch runs stayed together: {apart[-1]:.2e}"


DIGITS_STEPS = 200  # vanilla RNN, 32 units, batches of 128, α = 0.3: ~94% held-out (91% at step 100)


def test_digits_as_row_sequences_reach_90_percent(device: str, dtype: str) -> None:
    problem = K.digits("rnn", DIGITS_STEPS, 0.3)(np.random.default_rng(5))
    result = check_training(device=device, dtype=dtype, concept="rnn", case="digits-rnn", **problem)
    assert_parity(result)
    for side in ("scratch", "torch"):
        assert result.extra["metrics"][f"test_accuracy_{side}"] >= 0.9, result.extra["metrics"]


CHARLM_STEPS = 200


def test_char_lm_trains_identically_and_samples_the_same_text(device: str, dtype: str) -> None:
    problem = K.charlm(CHARLM_STEPS, 1.0)(np.random.default_rng(7))
    result = check_training(device=device, dtype=dtype, concept="rnn", case="charlm-rnn", **problem)
    assert_parity(result)
    losses = result.extra["scratch_loss"]
    assert losses[-1] < losses[0] - 1.0, f"the language model did not learn: {losses[0]} -> {losses[-1]}"
    sampled = K.sampling_check(device, dtype)
    assert_parity(sampled)
    assert sampled.extra["metrics"]["same_symbols"] == 1.0
