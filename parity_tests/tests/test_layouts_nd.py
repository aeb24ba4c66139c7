"""N-D layouts (images, conv filters and biases, sequences): each pair round-trips exactly, agrees
with what torch's own modules expect, and refuses arrays of the wrong rank by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from torch_ref.layout import (
    CONV_BIAS,
    CONV_WEIGHT,
    IMAGES,
    SEQUENCE,
    SEQUENCE_BATCH_FIRST,
    STATE,
    Layout,
)

RNG = np.random.default_rng(0)
CASES = [  # (layout, a course-layout array with pairwise distinct sides, its torch shape)
    (IMAGES, RNG.standard_normal((2, 5, 6, 3)), (2, 3, 5, 6)),
    (CONV_WEIGHT, RNG.standard_normal((3, 3, 2, 4)), (4, 2, 3, 3)),
    (CONV_BIAS, RNG.standard_normal((1, 1, 1, 4)), (4,)),
    (SEQUENCE, RNG.standard_normal((3, 2, 7)), (7, 2, 3)),
    (SEQUENCE_BATCH_FIRST, RNG.standard_normal((3, 2, 7)), (2, 7, 3)),
    (STATE, RNG.standard_normal((5, 2)), (1, 2, 5)),
]


@pytest.mark.parametrize("layout, course, torch_shape", CASES, ids=[c[0].name for c in CASES])
def test_round_trip_is_exact(layout: Layout, course: np.ndarray, torch_shape: tuple[int, ...]) -> None:
    t = layout.to_torch(course)
    assert t.shape == torch_shape and t.flags["C_CONTIGUOUS"]
    back = layout.to_course(t)
    assert back.shape == course.shape and np.array_equal(back, course)
    assert not np.shares_memory(back, course)


@pytest.mark.parametrize("layout, course, _", CASES, ids=[c[0].name for c in CASES])
def test_wrong_rank_is_refused_by_name(layout: Layout, course: np.ndarray, _) -> None:
    with pytest.raises(ValueError, match=r"expected a .*got shape|expected a course conv bias"):
        layout.to_torch(course.reshape(-1))


def test_images_and_filters_agree_with_conv2d() -> None:
    """The course's convolution of one output position, Σ A_slice ⊙ W[..., c] + b, equals
    F.conv2d on the converted arrays."""
    A = RNG.standard_normal((2, 5, 6, 3))  # (m, n_H, n_W, n_C_prev)
    W = RNG.standard_normal((3, 3, 3, 4))  # (f, f, n_C_prev, n_C)
    b = RNG.standard_normal((1, 1, 1, 4))
    Z = F.conv2d(
        torch.from_numpy(IMAGES.to_torch(A)),
        torch.from_numpy(CONV_WEIGHT.to_torch(W)),
        torch.from_numpy(CONV_BIAS.to_torch(b)),
    )
    Z = IMAGES.to_course(Z.numpy())  # (m, 3, 4, n_C)
    i, h, w, c = 1, 2, 3, 2
    expected = np.sum(A[i, h : h + 3, w : w + 3, :] * W[..., c]) + b[0, 0, 0, c]
    assert Z.shape == (2, 3, 4, 4) and abs(Z[i, h, w, c] - expected) < 1e-12


def test_sequences_agree_with_nn_rnn() -> None:
    """x⟨t⟩ of the course is x[:, :, t]; nn.RNN reads it at [t] (time first) or [:, t] (batch first)."""
    x = RNG.standard_normal((3, 2, 7))  # (n_x, m, T_x)
    t = 4
    assert np.array_equal(SEQUENCE.to_torch(x)[t], x[:, :, t].T)
    assert np.array_equal(SEQUENCE_BATCH_FIRST.to_torch(x)[:, t], x[:, :, t].T)
