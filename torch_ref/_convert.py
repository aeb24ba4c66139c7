"""Scratch parameter dicts ⇄ ``state_dict``, one generic set for every module.

A module declares which scratch name is which ``state_dict`` key in which layout (a
``ParamSpec``, nanoGPT's ``from_pretrained`` style); :func:`params_to_state_dict`,
:func:`state_dict_to_params`, :func:`load_scratch_params`, :func:`scratch_params` and the
:class:`FromScratch` mixin do the rest, as strict as ``load_state_dict(strict=True)``: missing
and unexpected keys are named, and a dtype or shape error names the parameter. Import these
from ``torch_ref.layout``.

Example:
    >>> import numpy as np
    >>> from torch_ref.layout import BIAS, SAME
    >>> spec = {"W": ("weight", SAME), "b": ("bias", BIAS)}
    >>> sd = params_to_state_dict({"W": np.ones((2, 3)), "b": np.zeros((2, 1))}, spec)
    >>> tuple(sd["bias"].shape), sorted(state_dict_to_params(sd, spec))
    ((2,), ['W', 'b'])
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from torch_ref.layout import BIAS, SAME, Layout, to_numpy, torch_dtype

__all__ = ["ParamSpec", "Converter", "layer_param_spec", "module_spec", "params_to_state_dict",
           "state_dict_to_params", "load_scratch_params", "scratch_params", "weight_shape",
           "layer_dims_of", "FromScratch"]

ParamSpec = dict[str, tuple[str, Layout]]
"""``{scratch name: (state_dict key, layout)}`` — each module declares one (nanoGPT's
``from_pretrained`` style: which tensors need a transform, shapes asserted before each copy)."""


@runtime_checkable
class Converter(Protocol):
    """A conversion a ``ParamSpec`` cannot write (one scratch array split over several keys or
    several arrays stacked in one, as torch's LSTM stacks its four gates): an object with the
    two directions. Every function here accepts one wherever it takes a spec, and holds it to the
    same rule: missing or unexpected names are an error that names them."""

    def to_state_dict(self, params: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """Scratch parameters (course layout) -> ``state_dict`` (CPU tensors)."""
        ...

    def to_params(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """``state_dict`` (any device) -> scratch parameters (course layout)."""
        ...


def layer_param_spec(num_layers: int, container: str = "layers") -> ParamSpec:
    """The spec of a stack of ``nn.Linear`` in an ``nn.ModuleList`` named ``container``: scratch
    ``W{l}`` *is* ``{container}.{l-1}.weight``; ``b{l} (n[l], 1)`` is ``{container}.{l-1}.bias``."""
    if isinstance(num_layers, bool) or int(num_layers) != num_layers or num_layers < 1:
        raise ValueError(f"num_layers: expected a positive integer, got {num_layers!r}")
    spec: ParamSpec = {}
    for layer in range(1, int(num_layers) + 1):
        spec[f"W{layer}"] = (f"{container}.{layer - 1}.weight", SAME)
        spec[f"b{layer}"] = (f"{container}.{layer - 1}.bias", BIAS)
    return spec


def module_spec(module: torch.nn.Module) -> ParamSpec | Converter:
    """``module.param_spec`` (a property: a spec or a :class:`Converter`), or the ``PARAM_SPEC``
    of the module that defines its class."""
    spec = getattr(module, "param_spec", None)
    if spec is None:
        spec = getattr(sys.modules.get(type(module).__module__), "PARAM_SPEC", None)
    if not isinstance(spec, (dict, Converter)):
        raise TypeError(f"{type(module).__name__}: declares no parameter spec (a param_spec property "
                        "or a module-level PARAM_SPEC); pass spec= explicitly")
    return spec


def _scope(spec: ParamSpec) -> tuple[set[str], set[str]]:
    """The keys a spec names, and the submodules it converts (first component of dotted keys)."""
    keys = {key for key, _ in spec.values()}
    return keys, {key.split(".", 1)[0] for key in keys if "." in key}


def _unconverted(keys: Iterable[str], spec: ParamSpec) -> list[str]:
    """Keys inside the spec's submodules that the spec does not name (``load_state_dict``'s
    "unexpected keys"). Entries of other submodules and unnamed top-level buffers are not this
    spec's parameters — a DQN's ``target.*`` network, a detector's threshold ``epsilon`` — and pass."""
    named, submodules = _scope(spec)
    return sorted(k for k in keys if k not in named and k.split(".", 1)[0] in submodules)


def _keys_error(what: str, missing: list[str], unexpected: list[str], expected: Iterable[str]) -> None:
    if missing or unexpected:
        raise ValueError(f"{what}: missing keys {missing}, unexpected keys {unexpected}; "
                         f"expected {sorted(expected)}")


def params_to_state_dict(params: Mapping[str, np.ndarray],
                         spec: ParamSpec | Converter) -> dict[str, torch.Tensor]:
    """Scratch parameters (course layout) -> a ``state_dict`` (torch layout, CPU tensors).

    As strict as ``load_state_dict(strict=True)``: missing and unexpected names are listed, and a
    wrong dtype or shape names the parameter. Load the result with ``module.load_state_dict(sd)``
    (which copies into the module's device/dtype), or use :func:`load_scratch_params`.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of arrays, got {type(params).__name__}")
    if isinstance(spec, Converter):
        return spec.to_state_dict(params)
    _keys_error("params", sorted(set(spec) - set(params)), sorted(set(params) - set(spec)), spec)
    sd = {}
    for name, (key, layout) in spec.items():
        a = np.asarray(params[name])
        if a.dtype.kind != "f":
            raise TypeError(f"params[{name!r}]: expected a floating array, got dtype {a.dtype}")
        try:
            sd[key] = torch.from_numpy(layout.to_torch(a))
        except ValueError as err:
            raise ValueError(f"params[{name!r}] (for {key!r}): {err}") from None
    return sd


def state_dict_to_params(state_dict: Mapping[str, torch.Tensor], spec: ParamSpec | Converter,
                         strict: bool = True) -> dict[str, np.ndarray]:
    """A ``state_dict`` (any device; half precision widened) -> scratch parameters (course layout).

    Missing keys are always an error; with ``strict``, so are keys inside the spec's submodules
    that it does not convert (a deeper network's ``layers.2.*``). Errors name the key.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict: expected a dict of tensors, got {type(state_dict).__name__}")
    if isinstance(spec, Converter):
        return spec.to_params(state_dict)
    named, _ = _scope(spec)
    _keys_error("state_dict", sorted(named - set(state_dict)),
                _unconverted(state_dict, spec) if strict else [], named)
    params = {}
    for name, (key, layout) in spec.items():
        t = state_dict[key]
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            what = f"dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"state_dict[{key!r}] (scratch {name!r}): expected a floating tensor, got {what}")
        try:
            params[name] = layout.to_course(to_numpy(t))
        except ValueError as err:
            raise ValueError(f"state_dict[{key!r}] (scratch {name!r}): {err}") from None
    return params


def load_scratch_params(module: torch.nn.Module, params: Mapping[str, np.ndarray],
                        spec: ParamSpec | Converter | None = None) -> torch.nn.Module:
    """Copy scratch parameters into ``module`` in place (its own spec unless ``spec`` is given),
    asserting every key and shape before any copy; returns ``module``."""
    spec = module_spec(module) if spec is None else spec
    sd = params_to_state_dict(params, spec)
    own = module.state_dict()
    if isinstance(spec, Converter):  # it writes every key: hold it to strict loading
        _keys_error(f"{type(module).__name__} state_dict from params", sorted(set(own) - set(sd)),
                    sorted(set(sd) - set(own)), own)
        for key, t in sd.items():
            if tuple(own[key].shape) != tuple(t.shape):
                raise ValueError(f"params: {key} converts to shape {tuple(t.shape)}, but "
                                 f"{type(module).__name__}.{key} has shape {tuple(own[key].shape)} "
                                 f"({type(module).__name__}({module.extra_repr()}))")
        module.load_state_dict(sd)
        return module
    absent, unloaded = sorted(set(sd) - set(own)), _unconverted(own, spec)
    if absent or unloaded:
        raise ValueError(f"{type(module).__name__}: the spec names keys it lacks {absent}, and "
                         f"leaves its keys {unloaded} unloaded; it has {sorted(own)}")
    for name, (key, _) in spec.items():
        if tuple(own[key].shape) != tuple(sd[key].shape):
            raise ValueError(
                f"params[{name!r}]: shape {np.asarray(params[name]).shape} converts to "
                f"{tuple(sd[key].shape)}, but {type(module).__name__}.{key} has shape "
                f"{tuple(own[key].shape)}"
            )
    module.load_state_dict(sd, strict=False)
    return module


def scratch_params(module: torch.nn.Module,
                   spec: ParamSpec | Converter | None = None) -> dict[str, np.ndarray]:
    """``module``'s parameters as a scratch dict (course layout), through its own spec."""
    return state_dict_to_params(module.state_dict(), module_spec(module) if spec is None else spec)


def weight_shape(params: Mapping[str, np.ndarray], name: str, meaning: str) -> tuple[int, int]:
    """The 2-D shape of scratch ``params[name]`` (``meaning`` spells it), or ``ValueError``."""
    shape = np.shape(params.get(name, ()))
    if len(shape) != 2:
        raise ValueError(f"{name}: expected shape {meaning}, got {shape} (params {sorted(params)})")
    return shape


def layer_dims_of(params: Mapping[str, np.ndarray]) -> list[int]:
    """``[n_x, n[1], …, n[L]]`` read off scratch ``W1 (n[1], n_x)``, …, ``WL (n[L], n[L-1])``."""
    L = sum(1 for k in params if k[:1] == "W" and k[1:].isdigit())
    Ws = [np.shape(params.get(f"W{layer}", ())) for layer in range(1, L + 1)]
    if L == 0 or any(len(s) != 2 for s in Ws):
        raise ValueError(f"params: expected 2-D W1, …, WL of shapes (n[l], n[l-1]), got "
                         f"{ {f'W{i}': s for i, s in enumerate(Ws, 1)} or sorted(params)}")
    return [Ws[0][1], *(s[0] for s in Ws)]


class FromScratch:
    """Mixin for a module built from scratch parameters (``class Net(FromScratch, nn.Module)``).

    The class declares its spec (a module-level ``PARAM_SPEC``, which :attr:`param_spec` then
    returns, or its own ``param_spec`` property) and ``scratch_sizes(params) -> tuple``: its
    leading constructor arguments read off the parameter shapes. :meth:`from_scratch` is then
    the same for every module.
    """

    @property
    def param_spec(self) -> ParamSpec:
        """``{scratch name: (state_dict key, layout)}``: the defining module's ``PARAM_SPEC``."""
        return sys.modules[type(self).__module__].PARAM_SPEC

    @classmethod
    def scratch_sizes(cls, params: Mapping[str, np.ndarray]) -> tuple:
        raise NotImplementedError(f"{cls.__name__}.scratch_sizes")

    @classmethod
    def from_scratch(cls, params: Mapping[str, np.ndarray], *args: Any,
                     device: str | torch.device | None = None,
                     dtype: torch.dtype | None = None, **kwargs: Any) -> Any:
        """``cls(*sizes, *args, device=, dtype=, **kwargs)`` holding ``params``; the dtype is the
        parameters' unless given. ``Net.from_scratch(params, "tanh")`` passes ``"tanh"`` on."""
        if not isinstance(params, Mapping) or not params:
            raise TypeError(f"params: expected a non-empty dict of arrays, got {params!r:.80}")
        if dtype is None:
            dtype = torch_dtype(np.asarray(next(iter(params.values()))).dtype)
        module = cls(*cls.scratch_sizes(params), *args, device=device, dtype=dtype, **kwargs)
        return load_scratch_params(module, params)

    def scratch_params(self) -> dict[str, np.ndarray]:
        """This module's parameters as a scratch dict (course layout)."""
        return scratch_params(self)
