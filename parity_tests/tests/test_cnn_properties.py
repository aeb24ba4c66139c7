"""``cnn`` property-based parity (hypothesis): random valid convolution and pooling
configurations — sizes, channels, ``f``, ``s``, ``p``, strides that do not divide — with forward
and gradient parity against torch in float32 and float64, and loop form == vectorized form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from parity_tests import assert_close, assert_parity, check_forward, check_gradients
from parity_tests.devices import DTYPES
from scratch import cnn as S
from torch_ref.layout import CONV_BIAS, CONV_WEIGHT, IMAGES

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def conv_configs(draw):
    m, n_H, n_W = draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    c_prev, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    f, s, p = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    assume(f <= n_H + 2 * p and f <= n_W + 2 * p)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    inputs = {
        "A_prev": rng.uniform(-3, 3, (m, n_H, n_W, c_prev)),
        "W": rng.uniform(-3, 3, (f, f, c_prev, c)),
        "b": rng.uniform(-3, 3, (1, 1, 1, c)),
    }
    return inputs, s, p


@st.composite
def pool_configs(draw):
    m, n_H, n_W, c = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 9)),
        draw(st.integers(1, 9)),
        draw(st.integers(1, 3)),
    )
    f, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    assume(f <= min(n_H, n_W))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ties = draw(st.booleans())  # small integers: windows of equal maxima
    shape = (m, n_H, n_W, c)
    A_prev = rng.integers(0, 3, shape).astype(float) if ties else rng.uniform(-3, 3, shape)
    return A_prev, f, s, draw(st.sampled_from(S.POOL_MODES))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(config=conv_configs())
def test_conv_parity(dtype: str, config) -> None:
    inputs, s, p = config
    kw = {
        "layouts": {"A_prev": IMAGES, "W": CONV_WEIGHT, "b": CONV_BIAS},
        "output_layout": IMAGES,
        "dtype": dtype,
    }

    def torch_conv(A_prev, W, b):
        return F.conv2d(A_prev, W, b, stride=s, padding=p)

    def scratch_grads(G, A_prev, W, b):
        return S.conv_backward(G, S.conv_forward(A_prev, W, b, s, p)[1])

    # a stride and padding whose windows all fall on the padding give Z = b: then the output is meant
    # not to depend on A_prev or W, and the forward check is told so (it still compares Z)
    constant_in = (
        () if _windows_read_the_input(inputs["A_prev"].shape, inputs["W"].shape[0], s, p) else ("A_prev", "W")
    )
    assert_parity(
        check_forward(
            lambda A_prev, W, b: S.conv_forward(A_prev, W, b, s, p)[0],
            torch_conv,
            inputs,
            constant_in=constant_in,
            **kw,
        )
    )
    assert_parity(check_gradients(scratch_grads, torch_conv, inputs, ["A_prev", "W", "b"], vjp=True, **kw))


def _windows_read_the_input(shape: tuple[int, ...], f: int, s: int, p: int) -> bool:
    """Whether some output window overlaps the unpadded input in both height and width."""

    def overlaps(n: int) -> bool:
        starts = range(0, (n + 2 * p - f) // s * s + 1, s)
        return any(start < p + n and start + f > p for start in starts)

    return overlaps(shape[1]) and overlaps(shape[2])


@SETTINGS
@given(config=conv_configs())
def test_conv_loop_equals_vectorized(config) -> None:
    inputs, s, p = config
    Z, cache = S.conv_forward(**inputs, stride=s, pad=p)
    Z_loop, cache_loop = S.conv_forward_loop(**inputs, stride=s, pad=p)
    assert_close(Z_loop, Z, name="Z")
    G = np.random.default_rng(0).standard_normal(Z.shape)
    for name, a, e in zip(
        ("dA_prev", "dW", "db"), S.conv_backward_loop(G, cache_loop), S.conv_backward(G, cache)
    ):
        assert_close(a, e, level="gradient", name=name)


@pytest.mark.parametrize("form", ["vectorized", "loop"])
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(config=pool_configs())
def test_pool_parity_both_forms(dtype: str, form: str, config) -> None:
    A_prev, f, s, mode = config
    torch_pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    kw = {"layouts": {"A_prev": IMAGES}, "output_layout": IMAGES, "dtype": dtype}
    forward, backward = S.FORMS[form][2:]
    assert_parity(
        check_forward(
            lambda A_prev: forward(A_prev, f, s, mode)[0],
            lambda A_prev: torch_pool(A_prev, f, s),
            {"A_prev": A_prev},
            **kw,
        )
    )
    assert_parity(
        check_gradients(
            lambda G, A_prev: backward(G, forward(A_prev, f, s, mode)[1]),
            lambda A_prev: torch_pool(A_prev, f, s),
            {"A_prev": A_prev},
            ["A_prev"],
            vjp=True,
            **kw,
        )
    )
