"""The dense layer in torch: ``nn.Linear``, whose ``weight (out, in)`` *is* the course's ``W[l]``.

Only the layout of the activations (``A_prev (n[l-1], m)`` <-> ``x (m, in)``) and of the bias
(``(n, 1)`` <-> ``(n,)``) differ; :data:`PARAM_SPEC` says so, and ``torch_ref.layout``'s
converters use it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from torch_ref._validate import check_size
from torch_ref.layout import BIAS, SAME, FromScratch, ParamSpec, weight_shape

PARAM_SPEC: ParamSpec = {"W": ("weight", SAME), "b": ("bias", BIAS)}


class Dense(FromScratch, nn.Linear):
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

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_size(in_features=in_features, out_features=out_features)
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)

    @classmethod
    def scratch_sizes(cls, params: Mapping[str, np.ndarray]) -> tuple[int, int]:
        """``(in_features, out_features)`` read off scratch ``W (n[l], n[l-1])``."""
        n, n_prev = weight_shape(params, "W", "(n[l], n[l-1])")
        return n_prev, n
