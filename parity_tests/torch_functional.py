"""Use a ``torch_ref`` module as a function of its parameters, so the generic forward and
gradient checks exercise the production module itself (``torch.func.functional_call``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from torch_ref.layout import Layout, ParamSpec


class _Method(nn.Module):
    """Calls ``module.<method>`` as its ``forward`` (parameters prefixed ``inner.``)."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.inner = module
        self.method = method

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return getattr(self.inner, self.method)(*args)


def module_function(make_module: Callable[[], nn.Module], spec: ParamSpec, method: str = "forward",
                    ) -> tuple[Callable[..., torch.Tensor], dict[str, Layout]]:
    """``fn(*inputs, **params)`` that runs ``make_module().<method>(*inputs)`` with the given
    parameters (torch layout, keyed by their *scratch* names), and the layouts of those params.

    Build the module on ``device="meta"``: every parameter is replaced at call time.
    """
    wrapper = _Method(make_module(), method)

    def fn(*inputs: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
        missing = sorted(set(spec) - set(params))
        if missing:
            raise ValueError(f"params: missing {missing} for {type(wrapper.inner).__name__}")
        tensors = {f"inner.{key}": params[name] for name, (key, _) in spec.items()}
        return functional_call(wrapper, tensors, inputs)

    return fn, {name: layout for name, (_, layout) in spec.items()}
