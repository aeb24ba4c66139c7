"""The generic half of :mod:`torch_ref.layout`: the :class:`Layout` type, dtypes, and scratch
parameter dicts ⇄ ``state_dict``, one generic set for every module.

A module declares which scratch name is which ``state_dict`` key in which layout (a
``ParamSpec``, nanoGPT's ``from_pretrained`` style); :func:`params_to_state_dict`,
:func:`state_dict_to_params`, :func:`load_scratch_params`, :func:`scratch_params` and the
:class:`FromScratch` mixin do the rest, as strict as ``load_state_dict(strict=True)``: missing
and unexpected keys are named, and a dtype or shape error names the parameter.

The dependency runs one way: :mod:`torch_ref.layout` imports this module (it builds its named
layouts from :class:`Layout` and offers everything here under its own name); this module
imports nothing of it. Import these names from ``torch_ref.layout``.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

__all__ = [
    "Layout",
    "ParamSpec",
    "Converter",
    "module_spec",
    "params_to_state_dict",
    "state_dict_to_params",
    "load_scratch_params",
    "scratch_params",
    "weight_shape",
    "layer_dims_of",
    "FromScratch",
    "check_param_arrays",
    "check_finite",
    "scratch_dtype",
    "PARAM_DTYPES",
    "to_tensor",
    "to_numpy",
    "torch_dtype",
    "numpy_dtype",
]


@dataclass(frozen=True)
class Layout:
    """A named pair of inverse re-indexings between the course layout and torch's (the named
    ones — ``SAME``, ``COLUMNS``, ``BIAS``, … — are in :mod:`torch_ref.layout`)."""

    name: str
    to_torch: Callable[[np.ndarray], np.ndarray]
    to_course: Callable[[np.ndarray], np.ndarray]


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


# --- dtypes and tensors ---------------------------------------------------------------------
_TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def torch_dtype(dtype: str | np.dtype | torch.dtype) -> torch.dtype:
    """``"float32"``/``np.float32``/``torch.float32`` -> ``torch.float32`` (floats only)."""
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise TypeError(f"dtype: expected a floating dtype, got {dtype}")
        return dtype
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    try:
        return _TORCH_DTYPES[name]
    except KeyError:
        raise TypeError(f"dtype: expected one of {sorted(_TORCH_DTYPES)}, got {dtype!r}") from None


def numpy_dtype(dtype: str | np.dtype | torch.dtype) -> np.dtype:
    """The NumPy dtype the scratch side computes in for a parity run at ``dtype``.

    float16/bfloat16 runs (CUDA) are compared against a float32 scratch reference.
    """
    t = torch_dtype(dtype)
    return np.dtype(np.float64) if t == torch.float64 else np.dtype(np.float32)


def to_tensor(
    a: np.ndarray,
    device: str | torch.device = "cpu",
    dtype: str | np.dtype | torch.dtype | None = None,
    requires_grad: bool = False,
) -> torch.Tensor:
    """A NumPy array as a fresh tensor on ``device`` (a copy, so neither side aliases the other)."""
    a = np.asarray(a)
    t = torch.tensor(a, device=device, dtype=torch_dtype(dtype) if dtype is not None else None)
    return t.requires_grad_(requires_grad)


def to_numpy(t: torch.Tensor, dtype: np.dtype | None = None) -> np.ndarray:
    """A tensor as a NumPy array on the CPU (half precision widened to float32)."""
    t = t.detach().cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    a = t.numpy().copy()
    return a if dtype is None else a.astype(dtype)


# --- scratch parameter dict <-> state_dict --------------------------------------------------
PARAM_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
"""The NumPy dtypes a scratch parameter may have: a module computes in one of these."""


def _check_spec(spec: Any) -> None:
    if not isinstance(spec, (dict, Converter)):
        raise TypeError(
            f"spec (param_spec): expected a ParamSpec {{scratch name: (state_dict key, "
            f"layout)}} or a Converter with to_state_dict/to_params, got {spec!r:.80}; "
            "pass the module's own: module.param_spec"
        )


def check_finite(name: str, a: np.ndarray | torch.Tensor) -> None:
    """Raise ``ValueError`` naming ``name``, the count and the first index of NaN/±Inf entries
    of a floating array or tensor (other dtypes pass)."""
    if isinstance(a, torch.Tensor):
        if not a.is_floating_point() or bool(torch.isfinite(a).all()):
            return
        a = to_numpy(a)
    if a.dtype.kind not in "fc" or bool(np.isfinite(a).all()):
        return
    bad = ~np.isfinite(a)
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"{name}: {int(bad.sum())} non-finite value(s) (NaN or Inf), the first at index "
        f"{first}: {a[first]}; a diverged or corrupt parameter set is refused "
        "(pass allow_nonfinite=True to load it anyway)"
    )


def check_param_arrays(
    params: Mapping[str, Any], what: str = "params", allow_nonfinite: bool = True
) -> dict[str, np.ndarray]:
    """``params`` as ``{name: ndarray}``, checked: a non-empty dict with string names, every array
    float16/32/64 (integer, bool and complex arrays are refused — no silent cast, no dropped
    imaginary part) and non-empty, all of one dtype (a network computes in one), and — unless
    ``allow_nonfinite`` — free of NaN/Inf. Errors name ``what``, the key and the dtypes."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{what}: expected a dict of arrays {{name: ndarray}}, got {type(params).__name__}")
    if not params:
        raise ValueError(
            f"{what}: an empty dict holds no parameters; expected {{name: ndarray}} "
            "(e.g. scratch's W1, b1, …)"
        )
    arrays = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"{what}: names must be strings, got {name!r}")
        try:
            a = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{what}[{name!r}]: not an array ({type(value).__name__}: {err})") from None
        kind = {"b": "bool", "i": "integer", "u": "integer", "c": "complex"}.get(a.dtype.kind)
        if kind is not None:
            lost = "; its imaginary part would be lost" if kind == "complex" else ""
            raise TypeError(
                f"{what}[{name!r}]: expected a floating array, got dtype {a.dtype} "
                f"({kind}){lost}; cast explicitly if that is meant"
            )
        if a.dtype not in PARAM_DTYPES:
            raise TypeError(
                f"{what}[{name!r}]: dtype {a.dtype}, expected one of {[d.name for d in PARAM_DTYPES]}"
            )
        if a.size == 0:
            raise ValueError(
                f"{what}[{name!r}]: an empty array of shape {a.shape}; every parameter has at least one entry"
            )
        arrays[name] = a
    dtypes = {name: a.dtype.name for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        raise TypeError(
            f"{what}: mixed dtypes {dtypes}; a network computes in one float dtype, so "
            "one would be silently rounded — cast them all to one dtype first"
        )
    if not allow_nonfinite:
        for name, a in arrays.items():
            check_finite(f"{what}[{name!r}]", a)
    return arrays


def scratch_dtype(params: Mapping[str, np.ndarray], dtype: Any = None) -> torch.dtype:
    """The torch dtype to build a module holding checked ``params`` in: ``dtype`` if given (a
    floating dtype, else ``TypeError``), otherwise the parameters' own."""
    if dtype is not None:
        return torch_dtype(dtype)
    return torch_dtype(np.asarray(next(iter(params.values()))).dtype)


def module_spec(module: torch.nn.Module) -> ParamSpec | Converter:
    """``module.param_spec`` (a property: a spec or a :class:`Converter`), or the ``PARAM_SPEC``
    of the module that defines its class."""
    spec = getattr(module, "param_spec", None)
    if spec is None:
        spec = getattr(sys.modules.get(type(module).__module__), "PARAM_SPEC", None)
    if not isinstance(spec, (dict, Converter)):
        raise TypeError(
            f"{type(module).__name__}: declares no parameter spec (a param_spec property "
            "or a module-level PARAM_SPEC); pass spec= explicitly"
        )
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
        raise ValueError(
            f"{what}: missing keys {missing}, unexpected keys {unexpected}; expected {sorted(expected)}"
        )


def params_to_state_dict(
    params: Mapping[str, np.ndarray], spec: ParamSpec | Converter
) -> dict[str, torch.Tensor]:
    """Scratch parameters (course layout) -> a ``state_dict`` (torch layout, CPU tensors).

    As strict as ``load_state_dict(strict=True)``: missing and unexpected names are listed, and a
    wrong dtype or shape names the parameter. Load the result with ``module.load_state_dict(sd)``
    (which copies into the module's device/dtype), or use :func:`load_scratch_params`. The
    arrays pass :func:`check_param_arrays` (floating, one dtype); values are carried as they are,
    NaN included — the loaders (``from_scratch``, the file loaders) refuse non-finite values.
    """
    _check_spec(spec)
    params = check_param_arrays(params)
    if isinstance(spec, Converter):
        return spec.to_state_dict(params)
    _keys_error("params", sorted(set(spec) - set(params)), sorted(set(params) - set(spec)), spec)
    sd = {}
    for name, (key, layout) in spec.items():
        a = params[name]
        try:
            sd[key] = torch.from_numpy(layout.to_torch(a))
        except ValueError as err:
            raise ValueError(f"params[{name!r}] (for {key!r}): {err}") from None
    return sd


def state_dict_to_params(
    state_dict: Mapping[str, torch.Tensor], spec: ParamSpec | Converter, strict: bool = True
) -> dict[str, np.ndarray]:
    """A ``state_dict`` (any device; half precision widened) -> scratch parameters (course layout).

    Missing keys are always an error; with ``strict``, so are keys inside the spec's submodules
    that it does not convert (a deeper network's ``layers.2.*``). Errors name the key.
    """
    _check_spec(spec)
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict: expected a dict of tensors, got {type(state_dict).__name__}")
    if isinstance(spec, Converter):
        return spec.to_params(state_dict)
    named, _ = _scope(spec)
    _keys_error(
        "state_dict", sorted(named - set(state_dict)), _unconverted(state_dict, spec) if strict else [], named
    )
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


def load_scratch_params(
    module: torch.nn.Module, params: Mapping[str, np.ndarray], spec: ParamSpec | Converter | None = None
) -> torch.nn.Module:
    """Copy scratch parameters into ``module`` in place (its own spec unless ``spec`` is given),
    asserting every key and shape before any copy; returns ``module``. The module's tensors must
    be floating (an integer module would truncate); the arrays are cast to its dtype."""
    spec = module_spec(module) if spec is None else spec
    sd = params_to_state_dict(params, spec)
    own = module.state_dict()
    ints = sorted(k for k in sd if k in own and not own[k].is_floating_point())
    if ints:
        raise TypeError(
            f"{type(module).__name__}: {ints} are {own[ints[0]].dtype}, but scratch "
            "parameters are floating and would be truncated; build the module with a "
            "floating dtype"
        )
    if isinstance(spec, Converter):  # it writes every key: hold it to strict loading
        _keys_error(
            f"{type(module).__name__} state_dict from params",
            sorted(set(own) - set(sd)),
            sorted(set(sd) - set(own)),
            own,
        )
        for key, t in sd.items():
            if tuple(own[key].shape) != tuple(t.shape):
                raise ValueError(
                    f"params: {key} converts to shape {tuple(t.shape)}, but "
                    f"{type(module).__name__}.{key} has shape {tuple(own[key].shape)} "
                    f"({type(module).__name__}({module.extra_repr()}))"
                )
        module.load_state_dict(sd)
        return module
    absent, unloaded = sorted(set(sd) - set(own)), _unconverted(own, spec)
    if absent or unloaded:
        raise ValueError(
            f"{type(module).__name__}: the spec names keys it lacks {absent}, and "
            f"leaves its keys {unloaded} unloaded; it has {sorted(own)}"
        )
    for name, (key, _) in spec.items():
        if tuple(own[key].shape) != tuple(sd[key].shape):
            raise ValueError(
                f"params[{name!r}]: shape {np.asarray(params[name]).shape} converts to "
                f"{tuple(sd[key].shape)}, but {type(module).__name__}.{key} has shape "
                f"{tuple(own[key].shape)}"
            )
    module.load_state_dict(sd, strict=False)
    return module


def scratch_params(
    module: torch.nn.Module, spec: ParamSpec | Converter | None = None
) -> dict[str, np.ndarray]:
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
        raise ValueError(
            f"params: expected 2-D W1, …, WL of shapes (n[l], n[l-1]), got "
            f"{ {f'W{i}': s for i, s in enumerate(Ws, 1)} or sorted(params) }"
        )
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
    def from_scratch(
        cls,
        params: Mapping[str, np.ndarray],
        *args: Any,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        allow_nonfinite: bool = False,
        **kwargs: Any,
    ) -> Any:
        """``cls(*sizes, *args, device=, dtype=, **kwargs)`` holding ``params``; the dtype is the
        parameters' unless given. ``Net.from_scratch(params, "tanh")`` passes ``"tanh"`` on.

        ``params`` must pass :func:`check_param_arrays`: floating, one dtype, and finite unless
        ``allow_nonfinite``; ``dtype`` must be floating."""
        params = check_param_arrays(params, allow_nonfinite=allow_nonfinite)
        module = cls(
            *cls.scratch_sizes(params), *args, device=device, dtype=scratch_dtype(params, dtype), **kwargs
        )
        return load_scratch_params(module, params)

    def scratch_params(self) -> dict[str, np.ndarray]:
        """This module's parameters as a scratch dict (course layout)."""
        return scratch_params(self)
