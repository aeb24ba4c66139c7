"""torch weights to and from ``.safetensors`` files (no pickle), in either layout.

=============================  ==================  =======================================
file                           layout (metadata)   read / write here
=============================  ==================  =======================================
a module's ``state_dict``      ``"torch"``         :func:`load_state_dict_file` /
                                                   :func:`save_state_dict_file`
scratch parameters             ``"course"``        :func:`load_scratch_file` /
                                                   :func:`save_scratch_file`
a legacy ``.pt`` state_dict    (pickle)            :func:`load_pt_state_dict` —
                                                   ``torch.load(weights_only=True)`` only
=============================  ==================  =======================================

A course-layout file (``scratch._safetensors.save_params``: NumPy-trained parameters) goes into
a module through the module's ``ParamSpec`` with ``torch_ref.layout.load_scratch_params`` — the
converters' errors name missing, unexpected and mis-shaped tensors. Nothing is cast on load: a
tensor whose dtype differs from the module's parameter is refused (``TypeError``), so a module
loaded from a file is bit-identical to one loaded from the same arrays in memory.

``safetensors`` is imported lazily (the ``onnx`` extra).

Example:
    >>> import tempfile, pathlib
    >>> from torch_ref.dense import Dense
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dense.safetensors"
    >>> layer = Dense(3, 4, dtype=torch.float64)
    >>> _ = save_state_dict_file(layer, path)
    >>> clone = load_state_dict_file(Dense(3, 4, dtype=torch.float64), path)
    >>> torch.equal(clone.weight, layer.weight)
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from torch_ref.layout import ParamSpec, load_scratch_params, module_spec, state_dict_to_params

LAYOUT_KEY = "dlparity.layout"
"""Metadata key naming the layout of a file's tensors (the same key as ``scratch._safetensors``)."""
TORCH, COURSE = "torch", "course"

PathLike = str | os.PathLike


def _import(framework: str) -> ModuleType:
    try:
        if framework == "torch":
            import safetensors.torch as module
        else:
            import safetensors.numpy as module
    except ImportError:
        raise ImportError("safetensors is not installed: pip install 'dlparity[onnx]' "
                          "(or pip install safetensors)") from None
    return module


def _read(path: PathLike, framework: str) -> tuple[dict, dict[str, str]]:
    """``(tensors, metadata)`` of a file, with a ``ValueError`` naming a file that is not one."""
    module = _import(framework)
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt" if framework == "torch" else "np") as f:
            meta = dict(f.metadata() or {})
        return module.load_file(str(path)), meta
    except SafetensorError as err:
        raise ValueError(f"path: {str(path)!r} is not a readable .safetensors file ({err})") from None


def _state_dict(module_or_sd: torch.nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    sd = module_or_sd.state_dict() if isinstance(module_or_sd, torch.nn.Module) else module_or_sd
    if not isinstance(sd, Mapping) or not sd:
        raise TypeError(f"module_or_state_dict: expected an nn.Module or a non-empty dict of tensors, "
                        f"got {type(module_or_sd).__name__}")
    bad = sorted(k for k, t in sd.items() if not isinstance(t, torch.Tensor))
    if bad:
        raise TypeError(f"state_dict: entries {bad} are not tensors")
    return dict(sd)


def save_state_dict_file(module_or_sd: torch.nn.Module | Mapping[str, torch.Tensor], path: PathLike,
                         metadata: Mapping[str, str] | None = None) -> Path:
    """Write a module's ``state_dict`` (torch layout) to ``path`` — copied to the CPU,
    contiguous, dtypes kept; ``metadata`` is added to ``{"dlparity.layout": "torch"}``."""
    sd = {k: t.detach().to("cpu").contiguous().clone() for k, t in _state_dict(module_or_sd).items()}
    path = Path(path)
    _import("torch").save_file(sd, str(path), metadata={LAYOUT_KEY: TORCH, **dict(metadata or {})})
    return path


def check_against(state_dict: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor],
                  source: str) -> None:
    """Raise unless ``state_dict`` has exactly ``own``'s keys, dtypes and shapes (strict
    ``load_state_dict``, plus the dtype, which ``load_state_dict`` would silently cast)."""
    missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise ValueError(f"{source}: missing keys {missing}, unexpected keys {unexpected}; "
                         f"expected {sorted(own)}")
    for key, want in own.items():
        got = state_dict[key]
        if got.dtype != want.dtype:
            raise TypeError(f"{source}[{key!r}]: dtype {got.dtype}, but the module's {key} is "
                            f"{want.dtype}; build the module with dtype={got.dtype} or cast the file")
        if tuple(got.shape) != tuple(want.shape):
            raise ValueError(f"{source}[{key!r}]: shape {tuple(got.shape)}, but the module's {key} "
                             f"has shape {tuple(want.shape)}")


def load_state_dict_file(module: torch.nn.Module, path: PathLike) -> torch.nn.Module:
    """Load a file written by :func:`save_state_dict_file` into ``module`` (on its device),
    every key, dtype and shape checked first; returns ``module``."""
    sd, meta = _read(path, "torch")
    layout = meta.get(LAYOUT_KEY, TORCH)
    if layout != TORCH:
        raise ValueError(f"path: {str(path)!r} holds tensors in the {layout!r} layout; load it with "
                         "load_scratch_file(module, path), which converts through the module's spec")
    check_against(sd, module.state_dict(), str(path))
    module.load_state_dict(sd, strict=True)
    return module


def load_scratch_file(module: torch.nn.Module, path: PathLike,
                      spec: ParamSpec | None = None) -> torch.nn.Module:
    """Load scratch parameters saved by ``scratch._safetensors.save_params`` into ``module``.

    The arrays convert through ``spec`` (default: the module's own) with
    ``torch_ref.layout.load_scratch_params``, which names missing, unexpected and mis-shaped
    tensors; a dtype other than the module's parameters' is a ``TypeError``. Returns ``module``.
    """
    params, meta = _read(path, "numpy")
    layout = meta.get(LAYOUT_KEY, COURSE)
    if layout != COURSE:
        raise ValueError(f"path: {str(path)!r} holds a torch state_dict ({layout!r} layout); load it "
                         "with load_state_dict_file(module, path)")
    spec = module_spec(module) if spec is None else spec
    own = module.state_dict()
    for name, (key, _) in spec.items():
        if name in params and key in own and params[name].dtype != _numpy_dtype(own[key].dtype):
            raise TypeError(f"{path}[{name!r}]: dtype {params[name].dtype}, but "
                            f"{type(module).__name__}.{key} is {own[key].dtype}; build the module "
                            f"with the file's dtype, or cast the parameters before saving")
    return load_scratch_params(module, params, spec)


def _numpy_dtype(dtype: torch.dtype) -> np.dtype | None:
    return {torch.float64: np.dtype(np.float64), torch.float32: np.dtype(np.float32),
            torch.float16: np.dtype(np.float16)}.get(dtype)


def save_scratch_file(module: torch.nn.Module, path: PathLike, spec: ParamSpec | None = None,
                      metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``module``'s parameters as a *course-layout* file (``W1 (n[1], n_x)``, ``b1 (n[1], 1)``,
    …), readable by ``scratch._safetensors.load_params`` without torch: train in torch, continue in
    NumPy."""
    params = state_dict_to_params(module.state_dict(), module_spec(module) if spec is None else spec)
    path = Path(path)
    arrays = {k: np.ascontiguousarray(v) for k, v in params.items()}
    _import("numpy").save_file(arrays, str(path), metadata={LAYOUT_KEY: COURSE, **dict(metadata or {})})
    return path


def load_pt_state_dict(path: PathLike) -> dict[str, torch.Tensor]:
    """A legacy ``.pt`` state_dict, read with ``torch.load(weights_only=True)`` (no arbitrary
    unpickling) onto the CPU; convert it with :func:`save_state_dict_file`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle.UnpicklingError for anything but plain tensors
        raise ValueError(f"path: {str(path)!r} is not a weights-only .pt state_dict ({err})") from None
    return _state_dict(sd)


__all__ = ["LAYOUT_KEY", "save_state_dict_file", "load_state_dict_file", "load_scratch_file",
           "save_scratch_file", "load_pt_state_dict", "check_against"]
