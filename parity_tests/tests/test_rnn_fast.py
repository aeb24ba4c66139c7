"""``scratch.rnn._lstm_fast`` is :mod:`scratch.rnn.lstm`: the same states, caches' results and
every gradient, float32 and float64, odd sizes, saturated gates; its buffers carry nothing from
one call into the next; it refuses what the reference refuses.

The vanilla RNN has no fast path: its readable layer already meets its target (``rnn``
benchmark, NumPy/torch <= 1), so there is nothing to prove for it here."""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.compare import assert_close
from scratch import rnn as S
from scratch.rnn._lstm_fast import FastLSTM, lstm_backward_fast, lstm_forward_fast

GRADIENTS = ("dx", "da0", "dc0", "da_total", *(f"d{k}{g}" for g in S.GATES for k in "Wb"))
SIZES = [  # (n_x, n_a, m, T_x): pairwise distinct, odd, and the degenerate ones
    (3, 4, 5, 6),
    (7, 5, 3, 11),
    (1, 1, 1, 1),
    (2, 9, 1, 4),
    (5, 3, 8, 1),
]


def _case(n_x: int, n_a: int, m: int, T_x: int, dtype: type, seed: int = 0, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    p = {
        k: (scale * (v + rng.standard_normal(v.shape) * 0.3)).astype(dtype)
        for k, v in S.initialize_parameters(n_x, n_a, 2, "lstm", rng, dtype).items()
        if k not in S.HEAD["lstm"]
    }
    x = rng.standard_normal((n_x, m, T_x)).astype(dtype)
    a0, c0, dc_last = (rng.standard_normal((n_a, m)).astype(dtype) for _ in range(3))
    da = rng.standard_normal((n_a, m, T_x)).astype(dtype)  # a random upstream gradient, not .sum()
    return p, x, a0, c0, da, dc_last


def _assert_same(fast: tuple, ref: tuple, tag: str) -> None:
    (a, c, grads), (a_r, c_r, grads_r) = fast, ref
    assert a.dtype == a_r.dtype and c.dtype == c_r.dtype, f"{tag}: dtype {a.dtype} vs {a_r.dtype}"
    assert_close(a, a_r, level="forward", name=f"{tag} a")
    assert_close(c, c_r, level="forward", name=f"{tag} c")
    assert sorted(grads) == sorted(grads_r) == sorted(GRADIENTS)
    for k in GRADIENTS:
        assert grads[k].dtype == grads_r[k].dtype, f"{tag} {k}: dtype {grads[k].dtype} vs {grads_r[k].dtype}"
        assert_close(grads[k], grads_r[k], level="gradient", name=f"{tag} {k}")


def _reference(p, x, a0, c0, da, dc_last) -> tuple:
    a, c, cache = S.lstm_forward(x, a0, c0, p)
    return a, c, S.lstm_backward(da, cache, dc_last)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("with_dc_last", [True, False])
def test_fast_lstm_equals_the_reference(sizes: tuple, dtype: type, with_dc_last: bool) -> None:
    p, x, a0, c0, da, dc_last = _case(*sizes, dtype)
    dc_last = dc_last if with_dc_last else None
    a, c, cache = lstm_forward_fast(x, a0, c0, p)
    fast = (a, c, lstm_backward_fast(da, cache, dc_last))
    _assert_same(fast, _reference(p, x, a0, c0, da, dc_last), f"{sizes} {np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_lstm_equals_the_reference_with_saturated_gates(dtype: type) -> None:
    """Biases of ±20: pre-activations in the sigmoids' and tanh's flat tails, where
    ``½ + ½ tanh(z/2)`` and ``1 / (1 + e^{−z})`` round differently in relative terms. (Large
    biases, not large weights: weights ×8 make float32 itself lose the gradients to 1e-3 —
    the reference's float32 differs from its float64 by more than the fast path does.)"""
    p, x, a0, c0, da, dc_last = _case(4, 6, 5, 7, dtype, seed=3)
    signs = np.array([[1], [-1], [1], [-1], [-1], [1]])  # every gate saturated both ways
    p.update({f"b{g}": (20 * signs * (k + 1) / 2).astype(dtype) for k, g in enumerate(S.GATES)})
    a, c, cache = lstm_forward_fast(x, a0, c0, p)
    assert np.isclose(np.abs(cache.G).max(), 1) and np.abs(cache.G).min() < 1e-8  # saturated both ways
    _assert_same(
        (a, c, lstm_backward_fast(da, cache, dc_last)),
        _reference(p, x, a0, c0, da, dc_last),
        f"saturated {np.dtype(dtype).name}",
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_buffers_carry_nothing_into_the_next_call(dtype: type) -> None:
    """One :class:`FastLSTM`, two different calls (the second without ``dc_last``): the second's
    results are the reference's, not the first's leftovers."""
    sizes = (3, 4, 5, 6)
    lstm = FastLSTM(*sizes, dtype=dtype)
    for seed, with_dc_last in ((0, True), (1, False), (2, True)):
        p, x, a0, c0, da, dc_last = _case(*sizes, dtype, seed=seed)
        dc_last = dc_last if with_dc_last else None
        a, c = lstm.forward(x, a0, c0, p)
        fast = (a.copy(), c.copy(), {k: v.copy() for k, v in lstm.backward(da, dc_last).items()})
        _assert_same(fast, _reference(p, x, a0, c0, da, dc_last), f"call {seed}")


def test_states_are_read_only_views() -> None:
    p, x, a0, c0, _, _ = _case(3, 4, 5, 6, np.float64)
    a, c, _ = lstm_forward_fast(x, a0, c0, p)
    for name, arr in (("a", a), ("c", c)):
        with pytest.raises(ValueError, match="read-only"):
            arr[0, 0, 0] = 1.0
        assert not arr.flags.writeable, name


def test_bad_input_is_refused_like_the_reference() -> None:
    p, x, a0, c0, da, _ = _case(3, 4, 5, 6, np.float64)
    with pytest.raises(ValueError, match="time-first"):
        lstm_forward_fast(x.transpose(2, 1, 0), a0, c0, p)
    with pytest.raises(ValueError, match=r"c0: expected shape"):
        lstm_forward_fast(x, a0, c0[:, :-1], p)
    with pytest.raises(ValueError, match="missing 'Wo'"):
        lstm_forward_fast(x, a0, c0, {k: v for k, v in p.items() if k != "Wo"})
    _, _, cache = lstm_forward_fast(x, a0, c0, p)
    with pytest.raises(ValueError, match=r"da: expected shape"):
        lstm_backward_fast(da[..., :-1], cache)
    with pytest.raises(ValueError, match=r"dc_last: expected shape"):
        lstm_backward_fast(da, cache, a0.T)


def test_a_fast_lstm_refuses_another_shape() -> None:
    p, x, a0, c0, _, _ = _case(3, 4, 5, 6, np.float64)
    lstm = FastLSTM(3, 4, 5, 7, np.float64)
    with pytest.raises(ValueError, match=r"FastLSTM built for \(n_x, n_a, m, T_x, dtype\) = \(3, 4, 5, 7"):
        lstm.forward(x, a0, c0, p)
