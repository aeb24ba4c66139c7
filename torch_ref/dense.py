"""The dense layer in torch: ``nn.Linear``, whose ``weight (out, in)`` *is* the course's ``W[l]``.

Only the layout of the activations (``A_prev (n[l-1], m)`` <-> ``x (m, in)``) and of the bias
(``(n, 1)`` <-> ``(n,)``) differ; :data:`PARAM_SPEC` says so, and the two converters use it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from torch_ref._validate import check_size
from torch_ref.layout import (
    BIAS,
    SAME,
    ParamSpec,
    load_scratch_params,
    params_to_state_dict,
    state_dict_to_params,
    torch_dtype,
)

PARAM_SPEC: ParamSpec = {"W": ("weight", SAME), "b": ("bias", BIAS)}


class Dense(nn.Linear):
    """``z = x Wᵀ + b`` on a batch ``x (m, n[l-1])`` — the course's ``Z = W A_prev + b`` transposed.

    A plain ``nn.Linear`` (same parameters, same ``reset_parameters``) that can be built from
    and exported to scratch parameters.

    Args:
        in_features: ``n[l-1]``.  out_features: ``n[l]``.
        device, dtype: where and in which float type the parameters live.

    Attributes:
        weight: ``(n[l], n[l-1])`` = ``W[l]``.  bias: ``(n[l],)`` = ``b[l]`` flattened.

    Example:
        >>> import numpy as np
        >>> layer = Dense.from_scratch({"W": np.ones((4, 3)), "b": np.zeros((4, 1))})
        >>> layer(torch.ones(5, 3, dtype=torch.float64)).shape
        torch.Size([5, 4])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> None:
        check_size(in_features=in_features, out_features=out_features)
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)

    @classmethod
    def from_scratch(cls, params: dict[str, np.ndarray], device: str | torch.device | None = None,
                     dtype: torch.dtype | None = None) -> "Dense":
        """A layer holding scratch ``{"W": (n, n_prev), "b": (n, 1)}`` (dtype taken from ``W``)."""
        W = np.asarray(params["W"])
        if W.ndim != 2:
            raise ValueError(f"W: expected shape (n[l], n[l-1]), got {W.shape}")
        dtype = dtype if dtype is not None else torch_dtype(W.dtype)
        layer = cls(W.shape[1], W.shape[0], device=device, dtype=dtype)
        load_scratch_params(layer, params, PARAM_SPEC)
        return layer


def to_state_dict(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Scratch ``{"W", "b"}`` -> ``nn.Linear`` ``state_dict`` ``{"weight", "bias"}``."""
    return params_to_state_dict(params, PARAM_SPEC)


def from_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """``nn.Linear`` ``state_dict`` -> scratch ``{"W": (n, n_prev), "b": (n, 1)}``."""
    return state_dict_to_params(state_dict, PARAM_SPEC)
