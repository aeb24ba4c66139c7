"""Parity mode: TF32 off and deterministic algorithms on, restored afterwards."""

from __future__ import annotations

import torch

from parity_tests.devices import available_devices, cudnn_enabled, parity_mode


def test_parity_mode_sets_and_restores() -> None:
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.fp32_precision,
    )
    with parity_mode():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.allow_tf32 is False  # conv and RNN together
        assert torch.backends.cudnn.conv.fp32_precision != "tf32"
        assert torch.backends.cudnn.rnn.fp32_precision != "tf32"
        with parity_mode():  # nested: still off, and the outer state comes back
            pass
        assert torch.backends.cudnn.allow_tf32 is False
    assert (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.fp32_precision,
    ) == before


def test_torch_export_works_inside_parity_mode() -> None:
    """torch.export reads cuDNN's legacy TF32 flag; parity mode must leave it readable."""
    model = torch.nn.Linear(3, 2)
    with parity_mode():
        torch.export.export(model, (torch.zeros(4, 3),))


def test_available_devices() -> None:
    devices = available_devices()
    assert devices[0] == "cpu"
    assert ("cuda" in devices) == torch.cuda.is_available()


def test_cudnn_enabled_toggles_only_cudnn_and_restores() -> None:
    """Unlike torch.backends.cudnn.flags, it must not reset TF32/determinism under parity mode."""
    before = torch.backends.cudnn.enabled
    with parity_mode():
        with cudnn_enabled(not before):
            assert torch.backends.cudnn.enabled is (not before)
            assert torch.backends.cudnn.allow_tf32 is False
            assert torch.backends.cudnn.deterministic is True
        assert torch.backends.cudnn.enabled is before
    try:
        with cudnn_enabled(False):
            raise KeyError("boom")
    except KeyError:
        pass
    assert torch.backends.cudnn.enabled is before
