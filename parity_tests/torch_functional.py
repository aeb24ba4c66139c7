"""Use a ``torch_ref`` module as a function of its parameters, so the generic forward and
gradient checks exercise the production module itself (``torch.func.functional_call``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

from torch_ref.layout import SAME, Layout, ParamSpec


class _Method(nn.Module):
    """Calls ``module.<method>`` as its ``forward`` (parameters prefixed ``inner.``)."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.inner = module
        self.method = method

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return getattr(self.inner, self.method)(*args)


def module_function(
    make_module: Callable[[], nn.Module],
    spec: ParamSpec,
    method: str = "forward",
    inputs: Sequence[str] = ("X",),
) -> tuple[Callable[..., torch.Tensor], dict[str, Layout]]:
    """``fn(**tensors)`` that runs ``make_module().<method>(*inputs)`` with the module's
    parameters taken from the arguments (torch layout, keyed by their *scratch* names from
    ``spec``), and the layouts of those parameters — ready for
    :func:`~parity_tests.api.check_forward`/:func:`~parity_tests.api.check_gradients`, so
    gradients with respect to a module's parameters are compared like any other.

    The module's own inputs are the arguments named in ``inputs`` (in that order), or given
    positionally. Build the module on ``device="meta"``: every parameter is replaced per call.

    Example::

        fn, layouts = module_function(lambda: ShallowNetwork(3, 4, device="meta"), PARAM_SPEC)
        check_gradients(my_backward, fn, {"X": X, "W1": W1, ...}, wrt=["W1", ...],
                        layouts={**layouts, "X": COLUMNS}, output_layout=COLUMNS, vjp=True)
    """
    if not isinstance(spec, dict) and not callable(getattr(spec, "to_torch", None)):
        raise TypeError(
            f"spec: expected a ParamSpec dict or a converter with names/to_torch "
            f"(SequenceModel's param_spec), got {spec!r:.80}"
        )
    converter = None if isinstance(spec, dict) else spec  # course-layout tensors, converted inside
    if converter is not None:
        spec = {name: (name, SAME) for name in converter.names}
    wrapper = _Method(make_module(), method)
    input_names = tuple(inputs)

    def fn(*args: torch.Tensor, **tensors: torch.Tensor) -> torch.Tensor:
        unknown = sorted(set(tensors) - set(spec) - set(input_names))
        if unknown:
            raise TypeError(
                f"{type(wrapper.inner).__name__}: unexpected arguments {unknown}; "
                f"parameters are {sorted(spec)}, inputs {list(input_names)}"
            )
        missing = sorted(set(spec) - set(tensors))
        if missing:
            raise ValueError(f"params: missing {missing} for {type(wrapper.inner).__name__}")
        args = args + tuple(tensors[k] for k in input_names if k in tensors)
        params = {f"inner.{key}": tensors[name] for name, (key, _) in spec.items()}
        if converter is not None:
            params = {
                f"inner.{k}": t for k, t in converter.to_torch({name: tensors[name] for name in spec}).items()
            }
        return functional_call(wrapper, params, args)

    return fn, {name: layout for name, (_, layout) in spec.items()}
