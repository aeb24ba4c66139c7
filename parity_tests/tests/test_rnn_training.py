"""``rnn`` trained longer than the report's short registered runs (``slow``): step-for-step parity
*and* what the training achieves, on both sides.

- recall the first of 40 symbols: identical trajectories over the first steps; over 600 steps
  the LSTM learns it (held-out accuracy >= 90% on both sides), the vanilla RNN does not (<= 40%,
  chance is 25%);
- digits as sequences of rows: held-out accuracy >= 90% on both sides;
- the character language model: a longer identical trajectory, then identical samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.compare import assert_parity
from parity_tests.concepts.rnn import tasks as K
from parity_tests.trajectory import check_training

pytestmark = pytest.mark.slow

RECALL_PARITY_STEPS = 15  # step-for-step parity holds while the training is stable (see below)
RECALL_STEPS = 600  # the LSTM escapes its plateau near step 70-320 depending on rounding


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_recall_trajectories_agree(cell: str, device: str, dtype: str) -> None:
    problem = K.recall_problem(cell, RECALL_PARITY_STEPS, K.RECALL_LR[cell], np.random.default_rng(11))
    assert_parity(check_training(device=device, dtype=dtype, concept="rnn", case=f"recall-{cell}",
                                 **problem))


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_recall_lstm_learns_and_vanilla_rnn_does_not(cell: str) -> None:
    """Both sides trained on the same batches. Not step for step: the LSTM's escape from its
    loss plateau and the vanilla RNN's exploding gradients amplify rounding differences (1e-16
    -> 1e-8 in float64 within ~80 steps), so the runs part ways there; each side's outcome is
    asserted instead."""
    problem = K.recall_problem(cell, RECALL_STEPS, K.RECALL_LR[cell], np.random.default_rng(11))
    metrics = check_training(device="cpu", dtype="float64", concept="rnn", case=f"recall-{cell}",
                             **problem).extra["metrics"]
    for side in ("scratch", "torch"):
        accuracy = metrics[f"test_accuracy_{side}"]
        if cell == "lstm":
            assert accuracy >= 0.9, f"the LSTM did not learn to recall ({side}: {accuracy:.3f})"
        else:
            assert accuracy <= 0.4, f"the vanilla RNN recalled over 40 steps ({side}: {accuracy:.3f})"


DIGITS_STEPS = 200  # vanilla RNN, 32 units, batches of 128, α = 0.3: ~94% held-out (91% at step 100)


def test_digits_as_row_sequences_reach_90_percent(device: str, dtype: str) -> None:
    problem = K.digits_problem("rnn", DIGITS_STEPS, 0.3, np.random.default_rng(5))
    result = check_training(device=device, dtype=dtype, concept="rnn", case="digits-rnn", **problem)
    assert_parity(result)
    for side in ("scratch", "torch"):
        assert result.extra["metrics"][f"test_accuracy_{side}"] >= 0.9, result.extra["metrics"]


CHARLM_STEPS = 200


def test_char_lm_trains_identically_and_samples_the_same_text(device: str, dtype: str) -> None:
    problem = K.charlm_problem(CHARLM_STEPS, 1.0, np.random.default_rng(7))
    result = check_training(device=device, dtype=dtype, concept="rnn", case="charlm-rnn", **problem)
    assert_parity(result)
    losses = result.extra["scratch_loss"]
    assert losses[-1] < losses[0] - 1.0, f"the language model did not learn: {losses[0]} -> {losses[-1]}"
    sampled = K.sampling_check(device, dtype)
    assert_parity(sampled)
    assert sampled.extra["metrics"]["same_symbols"] == 1.0
