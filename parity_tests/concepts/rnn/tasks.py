"""Training trajectories of ``rnn``: both sides trained from the same parameters on the same
batches, loss and every parameter compared at every step (:func:`~parity_tests.trajectory.check_training`).

1. ``recall`` — a memory task: the first of ``T_x`` inputs is one of 4 symbols, the rest are
   blank; the model must name that symbol from its last hidden state. The LSTM learns it, the
   vanilla RNN does not (its gradient vanishes over the steps): see ``test_rnn_training``.
2. ``digits`` — scikit-learn's bundled 8×8 digits read as sequences of 8 rows of 8 pixels,
   classified from the last hidden state; held-out accuracy on both sides.
3. ``charlm`` — a character language model on a bundled public-domain text (the opening of
   *Alice's Adventures in Wonderland*), and sampling: the same uniform numbers give the same
   characters on both sides.

The registered runs are short (the report runs every check in float32 and float64); the tests
train longer, through the same :func:`recall`/:func:`digits`/:func:`charlm`. Each is
``model_problem`` of the sequence model's declaration (:func:`.common.sequence_model`) at the
task's sizes: torch trains ``SequenceModel`` itself — ``nn.RNN``/``nn.LSTM`` parameters, with
``bias_hh`` held at zero (see :mod:`torch_ref.rnn`) — the runner converts through its
:class:`~torch_ref.rnn.CourseConverter`, and on CUDA it runs torch's own RNN kernels (cuDNN's
have their own checks); the functions ``*_data`` give only the data, initial parameters and rate.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from parity_tests import datasets
from parity_tests.compare import compare, group_result
from parity_tests.devices import check_device, parity_mode
from parity_tests.registry import (
    MakeProblem,
    ParityCheck,
    model_problem,
    register,
    register_trajectory,
    seed_for,
)
from parity_tests.tolerances import tolerance
from scratch import rnn as S
from scratch.gd import gd_update
from torch_ref import rnn as T
from torch_ref.layout import numpy_dtype, to_numpy, to_tensor

from .common import SEQUENCE, native_kernels, sequence_model

TEXT_PATH = Path(__file__).resolve().parents[2] / "data" / "alice.txt"


def held_out_accuracy(cell: str, x: np.ndarray, labels: np.ndarray):
    """``metrics(params, model)``: accuracy of both sides on held-out ``x (n_x, m, T_x)``."""

    def metrics(params: dict[str, np.ndarray], model: T.SequenceModel) -> dict[str, float]:
        xs = x.astype(next(iter(params.values())).dtype)
        p0 = next(model.parameters())
        with torch.no_grad(), native_kernels():
            pred = to_numpy(
                model.predict(torch.as_tensor(SEQUENCE.to_torch(xs), device=p0.device, dtype=p0.dtype))
            )
        return {
            "test_accuracy_scratch": float(np.mean(S.predict(params, xs, cell) == labels)),
            "test_accuracy_torch": float(np.mean(pred == labels)),
        }

    return metrics


# --- 1. recall the first symbol ---------------------------------------------------------------
RECALL_K, RECALL_T, RECALL_M = 4, 40, 64
RECALL_LR = {"lstm": 1.0, "rnn": 0.3}
"""Each cell at the largest rate it trains stably at (the vanilla RNN's loss explodes at 1)."""


def recall_batch(rng: np.random.Generator, m: int = RECALL_M, T_x: int = RECALL_T):
    """``x (k, m, T_x)``: one-hot symbol at ``t = 1``, blanks after; ``Y (k, m)`` that symbol."""
    s = rng.integers(0, RECALL_K, m)
    x = np.zeros((RECALL_K, m, T_x))
    x[s, np.arange(m), 0] = 1
    return x, np.eye(RECALL_K)[:, s]


RECALL_N_A = 16


def recall_data(cell: str, steps: int, lr: float, rng: np.random.Generator) -> dict[str, Any]:
    """LSTM: forget gate open (``bf = 5``: ``Γf ≈ 0.993``, ``0.993^40 ≈ 0.76``) and update gate
    mostly shut (``bi = −3``), so a written symbol is neither forgotten nor drowned by what the
    blank steps write; the vanilla RNN gets Xavier weights, ``Waa`` halved (spectral radius
    ~0.5: the gradient to step 1 vanishes like 0.5^40 — with Xavier's ~1 it explodes on some
    seeds, and exploding gradients amplify rounding differences, so no two implementations
    can then agree step for step), and zero bias."""
    init = S.initialize_parameters(
        RECALL_K, RECALL_N_A, RECALL_K, cell, rng, forget_bias=5.0 if cell == "lstm" else 0.0
    )
    if cell == "lstm":
        init["bi"][:] = -3.0
    else:
        init["Waa"] *= 0.5  # contractive: its gradient vanishes (Xavier's ~1 explodes at times)
    batches = [recall_batch(rng) for _ in range(steps)]
    x_test, Y_test = recall_batch(np.random.default_rng(99), 500)
    problem = {
        "init_params": init,
        "batches": batches,
        "learning_rate": lr,
        "metrics": held_out_accuracy(cell, x_test, Y_test.argmax(axis=0)),
    }
    if cell == "rnn":
        problem["verified_by"] = RECALL_RNN_VERIFIED_BY
    return problem


def recall(cell: str, steps: int, lr: float) -> MakeProblem:
    """The recall task's ``make_problem(rng)``: the many-to-one model of ``cell`` with
    ``RECALL_N_A`` units over ``RECALL_K`` symbols, on :func:`recall_data`."""
    return model_problem(
        sequence_model(cell, RECALL_K, RECALL_N_A, RECALL_K, many_to_one=True),
        partial(recall_data, cell, steps, lr),
    )


RECALL_RNN_VERIFIED_BY = {"Wax": "rnn-rnn-cost-last-gradient"}
"""Where the vanilla recall run's ``Wax`` gradient is proven. ``Wax`` reads only the symbol at
``t = 1`` (every later input is blank), so ``dWax`` is that step's error signal carried back
through 39 contractive steps (``Waa`` halved): ~1e-11 per update against ``Wax`` entries of
~0.5, whose float32 ulp is 6e-8 — the update is lost in rounding on both sides, so no float32
trajectory can tell a right ``dWax`` from a wrong one (in float64 the update comparison sees it,
barely: sensitivity 2.4). That is what the task is for (the gradient vanishes by design), so the
trajectory does not claim ``Wax``: the same ``propagate`` (many-to-one cost) is held against
autograd, ``dWax`` included, by ``rnn-rnn-cost-last-gradient`` on inputs where it does not
vanish, in float32 and float64 (``check_training`` checks that this check exists and covers
``Wax`` in the run's dtype, and the result notes it)."""


# --- 2. digits as sequences of rows -------------------------------------------------------------
def digit_sequences() -> tuple[np.ndarray, np.ndarray]:
    """``x (8, 1797, 8)``: pixel column ``c`` of row ``t`` of image ``i`` is ``x[c, i, t]``
    (values in [0, 1]); labels ``(1797,)``."""
    X, labels = datasets.digits()  # X (64, m), pixel r·8 + c
    return np.ascontiguousarray(X.reshape(8, 8, -1).transpose(1, 2, 0)), labels


DIGITS_N_A, DIGITS_BATCH = 32, 128


def digits_data(cell: str, steps: int, lr: float, rng: np.random.Generator) -> dict[str, Any]:
    """Mini-batches of ``batch`` from a fixed 1500-image training split; 297 held out."""
    x, labels = digit_sequences()
    order = np.random.default_rng(0).permutation(labels.size)
    train, test = order[:1500], order[1500:]
    Y = np.eye(10)[:, labels]
    batches = []
    for _ in range(steps):
        idx = rng.choice(train, DIGITS_BATCH, replace=False)
        batches.append((x[:, idx], Y[:, idx]))
    init = S.initialize_parameters(8, DIGITS_N_A, 10, cell, rng, forget_bias=1.0 if cell == "lstm" else 0.0)
    return {
        "init_params": init,
        "batches": batches,
        "learning_rate": lr,
        "metrics": held_out_accuracy(cell, x[:, test], labels[test]),
    }


def digits(cell: str, steps: int, lr: float) -> MakeProblem:
    """The digits task's ``make_problem(rng)``: 8 pixels per step, ``DIGITS_N_A`` units, 10
    classes from the last hidden state, on :func:`digits_data`."""
    return model_problem(
        sequence_model(cell, 8, DIGITS_N_A, 10, many_to_one=True), partial(digits_data, cell, steps, lr)
    )


# --- 3. a character language model ------------------------------------------------------------
def load_text() -> tuple[str, list[str]]:
    """The bundled text and its sorted alphabet."""
    text = TEXT_PATH.read_text(encoding="utf-8")
    return text, sorted(set(text))


def char_batch(
    rng: np.random.Generator, text: str, alphabet: list[str], m: int = 16, T_x: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """``m`` random windows: ``x⟨t⟩`` one-hot of character ``t``, ``y⟨t⟩`` of character ``t+1``."""
    index = {c: i for i, c in enumerate(alphabet)}
    codes = np.array([index[c] for c in text])
    starts = rng.integers(0, codes.size - T_x - 1, m)
    window = codes[starts[:, None] + np.arange(T_x + 1)]  # (m, T_x + 1)
    eye = np.eye(len(alphabet))
    return eye[:, window[:, :-1]], eye[:, window[:, 1:]]  # (V, m, T_x) each


CHARLM_N_A = 32


def charlm_data(steps: int, lr: float, rng: np.random.Generator) -> dict[str, Any]:
    text, alphabet = load_text()
    init = S.initialize_parameters(len(alphabet), CHARLM_N_A, len(alphabet), "rnn", rng)
    batches = [char_batch(rng, text, alphabet) for _ in range(steps)]
    return {"init_params": init, "batches": batches, "learning_rate": lr}


def charlm(steps: int, lr: float) -> MakeProblem:
    """The character model's ``make_problem(rng)``: a vanilla RNN predicting every next
    character (one-hot over the text's alphabet), on :func:`charlm_data`."""
    V = len(load_text()[1])
    return model_problem(sequence_model("rnn", V, CHARLM_N_A, V), partial(charlm_data, steps, lr))


def train_scratch(problem: dict[str, Any]) -> dict[str, np.ndarray]:
    """The scratch side of a problem alone (for sampling from trained parameters)."""
    params = problem["init_params"]
    for X, Y in problem["batches"]:
        params = gd_update(params, problem["scratch_step"](params, X, Y)[1], problem["learning_rate"])
    return params


SAMPLE_STEPS, SAMPLE_LEN = 30, 120


def sampling_check(device: str, dtype: str):
    """Train the char LM's scratch side briefly, load it into torch, and sample ``SAMPLE_LEN``
    characters on both sides with the same uniforms: the symbols must be identical."""
    check_device(device)
    rng = np.random.default_rng(seed_for("rnn", "charlm-sampling"))
    np_dtype = numpy_dtype(dtype)
    problem = charlm(SAMPLE_STEPS, 1.0)(rng)
    params = {k: v.astype(np_dtype) for k, v in train_scratch(problem).items()}
    _, alphabet = load_text()
    uniforms = rng.random(SAMPLE_LEN)
    first = alphabet.index("A")
    ours = S.sample(params, first, uniforms.astype(np_dtype), "rnn")
    with parity_mode(), native_kernels():
        model = T.SequenceModel.from_scratch(params, "rnn", device=device)
        theirs = to_numpy(model.sample(first, to_tensor(uniforms, device, dtype)))
    record = compare("sampled symbols", ours, theirs, tolerance(dtype, "forward"))
    text = "A" + "".join(alphabet[i] for i in ours)
    return group_result(
        "rnn",
        "charlm-sampling",
        "forward",
        device,
        dtype,
        [record],
        {"sample_scratch": text, "metrics": {"same_symbols": float(np.mean(ours == theirs))}},
    )


RECALL_STEPS, DIGITS_STEPS, CHARLM_STEPS = 10, 10, 10  # short registered runs; tests train longer

for _cell in S.CELLS:
    register_trajectory("rnn", f"recall-{_cell}", recall(_cell, RECALL_STEPS, RECALL_LR[_cell]))
register_trajectory("rnn", "digits-rnn", digits("rnn", DIGITS_STEPS, 0.3))
register_trajectory("rnn", "charlm-rnn", charlm(CHARLM_STEPS, 1.0))
register(ParityCheck("rnn", "charlm-sampling", "forward", sampling_check))
