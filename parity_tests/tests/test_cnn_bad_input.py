"""``cnn`` caller mistakes: each a ``ValueError``/``TypeError`` that names the argument, what was
expected and what arrived — and the likely mix-up (torch's ``NCHW`` images, ``nn.Conv2d``'s
weight layout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch import cnn as S
from torch_ref import cnn as T
from torch_ref.layout import conv_weight_to_torch, images_to_torch

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 7, 10, 3))  # (m, n_H, n_W, n_C)
W = RNG.standard_normal((3, 3, 3, 4))  # (f, f, n_C_prev, n_C)
B = np.zeros((1, 1, 1, 4))
FORMS = ["vectorized", "loop"]


def conv(form: str):
    return S.FORMS[form][0]


def pool(form: str):
    return S.FORMS[form][2]


@pytest.mark.parametrize("form", FORMS)
class TestConv:
    def test_nchw_images_are_named(self, form: str) -> None:
        with pytest.raises(
            ValueError,
            match=r"A_prev: expected \(m, n_H, n_W, n_C\) = \(\*, \*, \*, 3\) "
            r"channels last, got \(2, 3, 7, 10\); it looks channels-first.*"
            r"images_to_course",
        ):
            conv(form)(images_to_torch(A), W, B, 1, 1)

    def test_filter_channels_must_match_the_input(self, form: str) -> None:
        with pytest.raises(ValueError, match=r"W: has n_C_prev = 2 input channels but A_prev has 3"):
            conv(form)(A, W[:, :, :2], B, 1, 1)

    def test_filter_larger_than_the_padded_input(self, form: str) -> None:
        with pytest.raises(
            ValueError,
            match=r"W: window size f=5 is larger than the padded input "
            r"\(n_H_prev \+ 2·pad, n_W_prev \+ 2·pad\) = \(3, 4\)",
        ):
            conv(form)(A[:, :3, :4], RNG.standard_normal((5, 5, 3, 4)), B, 1, 0)

    @pytest.mark.parametrize("stride", [0, -2])
    def test_non_positive_stride(self, form: str, stride: int) -> None:
        with pytest.raises(ValueError, match=rf"stride: expected a positive integer, got {stride}"):
            conv(form)(A, W, B, stride, 1)

    def test_negative_padding(self, form: str) -> None:
        with pytest.raises(ValueError, match=r"pad: expected a non-negative integer, got -1"):
            conv(form)(A, W, B, 1, -1)

    @pytest.mark.parametrize("name, stride, pad", [("stride", 1.5, 0), ("pad", 1, 0.5), ("stride", True, 0)])
    def test_non_integer_hyperparameters(self, form: str, name: str, stride, pad) -> None:
        with pytest.raises(TypeError, match=rf"{name}: expected an integer, got"):
            conv(form)(A, W, B, stride, pad)

    def test_torch_weight_layout_is_named(self, form: str) -> None:
        with pytest.raises(
            ValueError,
            match=r"W: expected square filters \(f, f, n_C_prev, n_C\), got shape "
            r"\(4, 3, 3, 3\); it looks like nn.Conv2d.weight",
        ):
            conv(form)(A, conv_weight_to_torch(W), B, 1, 1)

    def test_torch_bias_layout_is_named(self, form: str) -> None:
        with pytest.raises(
            ValueError,
            match=r"b: expected shape \(1, 1, 1, n_C\) = \(1, 1, 1, 4\) .*got "
            r"\(4,\); reshape with b.reshape\(1, 1, 1, -1\)",
        ):
            conv(form)(A, W, np.zeros(4), 1, 1)

    def test_single_image_without_example_axis(self, form: str) -> None:
        with pytest.raises(
            ValueError,
            match=r"A_prev: expected 4-D images .* got shape \(7, 10, 3\); "
            r"a single image\? add the example axis",
        ):
            conv(form)(A[0], W, B, 1, 1)

    def test_mixed_dtypes_are_refused(self, form: str) -> None:
        with pytest.raises(
            TypeError,
            match=r"A_prev: dtype float32 differs from the other arguments' "
            r"float64",
        ):
            conv(form)(A.astype(np.float32), W, B, 1, 1)

    def test_nan_is_refused(self, form: str) -> None:
        bad = A.copy()
        bad[1, 2, 3, 0] = np.nan
        with pytest.raises(ValueError, match=r"A_prev: contains NaN or Inf \(first at index \(1, 2, 3, 0\)"):
            conv(form)(bad, W, B, 1, 1)

    def test_upstream_gradient_of_the_wrong_shape(self, form: str) -> None:
        Z, cache = conv(form)(A, W, B, 2, 1)
        with pytest.raises(
            ValueError,
            match=r"dZ: expected the forward output's shape "
            r"\(m, n_H, n_W, n_C\) = \(2, 4, 5, 4\), got \(2, 7, 10, 4\)",
        ):
            S.FORMS[form][1](np.zeros((2, 7, 10, 4)), cache)


@pytest.mark.parametrize("form", FORMS)
class TestPool:
    def test_non_integer_f(self, form: str) -> None:
        with pytest.raises(TypeError, match=r"f: expected an integer, got 2.5 \(float\)"):
            pool(form)(A, 2.5, 2)

    def test_non_positive_f_and_stride(self, form: str) -> None:
        with pytest.raises(ValueError, match=r"f: expected a positive integer, got 0"):
            pool(form)(A, 0, 2)
        with pytest.raises(ValueError, match=r"stride: expected a positive integer, got 0"):
            pool(form)(A, 2, 0)

    def test_window_larger_than_the_input(self, form: str) -> None:
        with pytest.raises(ValueError, match=r"f: window size f=8 is larger than the padded input"):
            pool(form)(A, 8, 1)

    def test_unknown_mode(self, form: str) -> None:
        with pytest.raises(ValueError, match=r"mode: expected one of \('max', 'avg'\), got 'mean'"):
            pool(form)(A, 2, 2, "mean")


def test_zero_pad_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"pad: expected a non-negative integer, got -1"):
        S.zero_pad(A, -1)
    assert S.zero_pad(A, 2).shape == (2, 11, 14, 3)


class TestConvNet:
    config = S.ConvNetConfig(input_shape=(8, 8, 1), channels=(4, 6), n_y=3)

    def test_nchw_images_are_named(self) -> None:
        params = S.initialize_convnet(self.config, np.random.default_rng(0))
        with pytest.raises(
            ValueError,
            match=r"X: expected \(m, n_H, n_W, n_C\) = \(\*, \*, \*, 1\) channels "
            r"last, got \(5, 1, 8, 8\); it looks channels-first",
        ):
            S.propagate(params, np.zeros((5, 1, 8, 8)), np.array([0, 1, 2, 0, 1]), self.config)

    def test_wrong_image_size(self) -> None:
        params = S.initialize_convnet(self.config, np.random.default_rng(0))
        with pytest.raises(
            ValueError,
            match=r"X: expected images \(m, n_H, n_W, n_C\) = \(\*, 8, 8, 1\), "
            r"got \(5, 9, 8, 1\)",
        ):
            S.predict(params, np.zeros((5, 9, 8, 1)), self.config)

    def test_wrong_parameter_shape(self) -> None:
        params = S.initialize_convnet(self.config, np.random.default_rng(0))
        params["W2"] = params["W2"][:, :, :3]
        with pytest.raises(ValueError, match=r"params\['W2'\]: expected shape \(3, 3, 4, 6\)"):
            S.predict(params, np.zeros((5, 8, 8, 1)), self.config)

    def test_config_too_small_and_bad_values(self) -> None:
        with pytest.raises(ValueError, match=r"input_shape: \(3, 3, 1\) is too small for two blocks"):
            S.ConvNetConfig(input_shape=(3, 3, 1))
        with pytest.raises(TypeError, match=r"f: expected an integer, got 2.5"):
            S.ConvNetConfig(f=2.5)
        with pytest.raises(ValueError, match=r"pool_mode: expected one of"):
            S.ConvNetConfig(pool_mode="min")

    def test_torch_convnet_arguments(self) -> None:
        with pytest.raises(ValueError, match=r"f: expected a positive integer, got 0"):
            T.ConvNet(f=0)
        with pytest.raises(ValueError, match=r"pad: expected a non-negative integer, got -1"):
            T.ConvNet(pad=-1)
        with pytest.raises(ValueError, match=r"mode: expected one of \('max', 'avg'\), got 'min'"):
            T.ConvNet(pool_mode="min")
        with pytest.raises(ValueError, match=r"input_shape: \(3, 3, 1\) is too small"):
            T.ConvNet(input_shape=(3, 3, 1))

    def test_torch_convnet_names_channels_last_input(self) -> None:
        net = T.ConvNet((8, 8, 1), (4, 6), n_y=3)
        with pytest.raises(
            ValueError,
            match=r"x: expected \(m, C, H, W\) = \(\*, 1, \*, \*\), "
            r"got \(5, 8, 8, 1\); it looks channels-last",
        ):
            net(torch.zeros(5, 8, 8, 1))
