"""Parity mode: TF32 off and deterministic algorithms on, restored afterwards."""

from __future__ import annotations

import torch

from parity_tests.devices import available_devices, parity_mode


def test_parity_mode_sets_and_restores() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    with parity_mode():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert torch.are_deterministic_algorithms_enabled() == before


def test_available_devices() -> None:
    devices = available_devices()
    assert devices[0] == "cpu"
    assert ("cuda" in devices) == torch.cuda.is_available()
