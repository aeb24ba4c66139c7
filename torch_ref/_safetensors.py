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

A course-layout file (``scratch.safetensors_io.save_params``: NumPy-trained parameters) goes into
a module through the module's ``ParamSpec`` with ``torch_ref.layout.load_scratch_params`` — the
converters' errors name missing, unexpected and mis-shaped tensors. Nothing is cast on load: a
tensor whose dtype differs from the module's parameter is refused (``TypeError``), so a module
loaded from a file is bit-identical to one loaded from the same arrays in memory.

Every loader is strict, and its errors name the file and the tensor: a file with no tensors, a
file in the other layout (``state_dict`` keys such as ``layers.0.weight`` where course names such
as ``W1`` are expected, and vice versa — told by the ``dlparity.layout`` metadata, or by the keys
when a file has none), mixed or non-floating dtypes, a dtype NumPy lacks (``BF16``, ``F8_*``) in
a course-layout file, and NaN/±Inf values (``allow_nonfinite=True`` loads them anyway) are all
refused (``ValueError``/``TypeError``).

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

import json
import os
import re
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from torch_ref.layout import (
    ParamSpec,
    check_finite,
    check_param_arrays,
    load_scratch_params,
    module_spec,
    state_dict_to_params,
)

LAYOUT_KEY = "dlparity.layout"
"""Metadata key naming the layout of a file's tensors (the same key as ``scratch.safetensors_io``)."""
TORCH, COURSE = "torch", "course"

PathLike = str | os.PathLike

NUMPY_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64"}
"""The safetensors dtypes a course-layout (NumPy) file may hold: the floats NumPy has."""


def _import(framework: str) -> ModuleType:
    try:
        if framework == "torch":
            import safetensors.torch as module
        else:
            import safetensors.numpy as module
    except ImportError:
        raise ImportError(
            "safetensors is not installed: pip install 'dlparity[onnx]' (or pip install safetensors)"
        ) from None
    return module


def _header(path: Path) -> dict[str, dict]:
    """The tensor entries of a (validated) safetensors header: ``{name: {"dtype", "shape", …}}``."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header


def _read(path: PathLike, framework: str) -> tuple[dict, dict[str, str]]:
    """``(tensors, metadata)`` of a file, with a ``ValueError`` naming a file that is not one, that
    holds no tensors, or (``framework="numpy"``) a ``TypeError`` naming a tensor whose dtype NumPy
    lacks (``BF16``, ``F8_*``) or that is not a float."""
    module = _import(framework)
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt" if framework == "torch" else "np") as f:
            meta = dict(f.metadata() or {})
        header = _header(path)
        if not header:
            raise ValueError(f"path: {str(path)!r} holds no tensors; expected a saved parameter set")
        if framework == "numpy":
            for name, entry in header.items():
                if entry.get("dtype") not in NUMPY_DTYPES:
                    raise TypeError(
                        f"{path}[{name!r}]: dtype {entry.get('dtype')} in a course-layout file; "
                        f"scratch parameters are {'/'.join(NUMPY_DTYPES)} (NumPy has no bfloat16 or "
                        "float8): load the file into a module of that dtype with "
                        "load_state_dict_file, or cast to float32 before saving"
                    )
        return module.load_file(str(path)), meta
    except SafetensorError as err:
        raise ValueError(f"path: {str(path)!r} is not a readable .safetensors file ({err})") from None
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise ValueError(
            f"path: {str(path)!r} is not a readable .safetensors file ({type(err).__name__}: {err})"
        ) from None


def _check_finite_tensors(
    tensors: Mapping[str, np.ndarray | torch.Tensor],
    source: str,
    allow_nonfinite: bool,
    skip_nan: Iterable[str] = (),
) -> None:
    """Refuse NaN/±Inf in any floating tensor, naming ``source[key]`` (keys in ``skip_nan`` may be
    NaN: a detector's threshold ``epsilon`` is NaN until it is chosen)."""
    if allow_nonfinite:
        return
    skip = set(skip_nan)
    for key, t in tensors.items():
        if key in skip and isinstance(t, torch.Tensor) and t.is_floating_point():
            t = torch.nan_to_num(t, nan=0.0, posinf=torch.inf, neginf=-torch.inf)
        check_finite(f"{source}[{key!r}]", t)


_TORCH_KEY = re.compile(r"\.|^(weight|bias)$")
"""A ``state_dict`` key: dotted (``layers.0.weight``), or a bare ``weight``/``bias``. Course
names (``W1``, ``b1``, ``Wax``, ``mu``, ``centroids``) are never either."""


def _layout_of_keys(
    keys: Iterable[str], module: torch.nn.Module | None = None, spec: object = None
) -> str | None:
    """``"torch"`` or ``"course"`` when the names alone tell (a file without metadata), else None."""
    keys = set(keys)
    own = set(module.state_dict()) if module is not None else set()
    names = set(spec) if isinstance(spec, dict) else set(getattr(spec, "names", ()))
    if keys and (keys <= names) and not keys <= own:
        return COURSE
    if any(_TORCH_KEY.search(k) for k in keys) or (own and keys <= own and not keys <= names):
        return TORCH
    return None


def _state_dict(module_or_sd: torch.nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    sd = module_or_sd.state_dict() if isinstance(module_or_sd, torch.nn.Module) else module_or_sd
    if not isinstance(sd, Mapping) or not sd:
        raise TypeError(
            f"module_or_state_dict: expected an nn.Module or a non-empty dict of tensors, "
            f"got {type(module_or_sd).__name__}"
        )
    bad = sorted(k for k, t in sd.items() if not isinstance(t, torch.Tensor))
    if bad:
        raise TypeError(f"state_dict: entries {bad} are not tensors")
    return dict(sd)


def save_state_dict_file(
    module_or_sd: torch.nn.Module | Mapping[str, torch.Tensor],
    path: PathLike,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write a module's ``state_dict`` (torch layout) to ``path`` — copied to the CPU,
    contiguous, dtypes kept; ``metadata`` is added to ``{"dlparity.layout": "torch"}``."""
    sd = {k: t.detach().to("cpu").contiguous().clone() for k, t in _state_dict(module_or_sd).items()}
    path = Path(path)
    _import("torch").save_file(sd, str(path), metadata={LAYOUT_KEY: TORCH, **dict(metadata or {})})
    return path


def check_against(
    state_dict: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor], source: str
) -> None:
    """Raise unless ``state_dict`` has exactly ``own``'s keys, dtypes and shapes (strict
    ``load_state_dict``, plus the dtype, which ``load_state_dict`` would silently cast)."""
    missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"{source}: missing keys {missing}, unexpected keys {unexpected}; expected {sorted(own)}"
        )
    for key, want in own.items():
        got = state_dict[key]
        if got.dtype != want.dtype:
            raise TypeError(
                f"{source}[{key!r}]: dtype {got.dtype}, but the module's {key} is "
                f"{want.dtype}; build the module with dtype={got.dtype} or cast the file"
            )
        if tuple(got.shape) != tuple(want.shape):
            raise ValueError(
                f"{source}[{key!r}]: shape {tuple(got.shape)}, but the module's {key} "
                f"has shape {tuple(want.shape)}"
            )


def load_state_dict_file(
    module: torch.nn.Module, path: PathLike, allow_nonfinite: bool = False
) -> torch.nn.Module:
    """Load a file written by :func:`save_state_dict_file` into ``module`` (on its device),
    every key, dtype and shape checked first, and every value finite unless ``allow_nonfinite``
    (a buffer the module lists in ``unset_buffers`` may be NaN); returns ``module``."""
    sd, meta = _read(path, "torch")
    spec = getattr(module, "param_spec", None)
    layout = meta.get(LAYOUT_KEY) or _layout_of_keys(sd, module, spec) or TORCH
    if layout != TORCH:
        raise ValueError(
            f"path: {str(path)!r} holds tensors in the {layout!r} layout; load it with "
            f"load_scratch_file(module, path), which converts through the module's spec "
            f"(keys {sorted(sd)[:4]}…)"
        )
    check_against(sd, module.state_dict(), str(path))
    _check_finite_tensors(sd, str(path), allow_nonfinite, getattr(module, "unset_buffers", ()))
    module.load_state_dict(sd, strict=True)
    return module


def load_scratch_file(
    module: torch.nn.Module, path: PathLike, spec: ParamSpec | None = None, allow_nonfinite: bool = False
) -> torch.nn.Module:
    """Load scratch parameters saved by ``scratch.safetensors_io.save_params`` into ``module``.

    The arrays convert through ``spec`` (default: the module's own, a ``ParamSpec`` or a
    converter such as ``SequenceModel``'s) with ``torch_ref.layout.load_scratch_params``, which
    names missing, unexpected and mis-shaped tensors; a dtype other than the module's
    parameters' is a ``TypeError``, and NaN/Inf a ``ValueError`` unless ``allow_nonfinite``.
    Returns ``module``.
    """
    params, meta = _read(path, "numpy")
    spec = module_spec(module) if spec is None else spec
    layout = meta.get(LAYOUT_KEY) or _layout_of_keys(params, module, spec) or COURSE
    if layout != COURSE:
        raise ValueError(
            f"path: {str(path)!r} holds a torch state_dict ({layout!r} layout, keys "
            f"{sorted(params)[:4]}…); load it with load_state_dict_file(module, path)"
        )
    params = check_param_arrays(params, str(path), allow_nonfinite)
    own = {k: t for k, t in module.state_dict().items() if t.is_floating_point()}
    want = {_numpy_dtype(t.dtype) for t in own.values()}
    got = next(iter(params.values())).dtype
    if own and got not in want:
        key, t = next(iter(own.items()))
        raise TypeError(
            f"{path}[{next(iter(params))!r}]: dtype {got}, but "
            f"{type(module).__name__}.{key} is {t.dtype}; build the module "
            f"with the file's dtype, or cast the parameters before saving"
        )
    return load_scratch_params(module, params, spec)


def _numpy_dtype(dtype: torch.dtype) -> np.dtype | None:
    return {
        torch.float64: np.dtype(np.float64),
        torch.float32: np.dtype(np.float32),
        torch.float16: np.dtype(np.float16),
    }.get(dtype)


def save_scratch_file(
    module: torch.nn.Module,
    path: PathLike,
    spec: ParamSpec | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``module``'s parameters as a *course-layout* file (``W1 (n[1], n_x)``, ``b1 (n[1], 1)``,
    …), readable by ``scratch.safetensors_io.load_params`` without torch: train in torch, continue in
    NumPy."""
    params = state_dict_to_params(module.state_dict(), module_spec(module) if spec is None else spec)
    path = Path(path)
    arrays = {k: np.ascontiguousarray(v) for k, v in params.items()}
    _import("numpy").save_file(arrays, str(path), metadata={LAYOUT_KEY: COURSE, **dict(metadata or {})})
    return path


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _pt_reason(err: BaseException) -> str:
    """torch's reason for refusing a ``.pt`` file, in one line: ANSI escapes stripped, and without
    its advice to unpickle the file unrestricted (never safe for a file from elsewhere)."""
    text = _ANSI.sub("", str(err))
    found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\.\s|\n\n|$)", text, re.S)
    reason = found.group(1) if found else (text.strip().splitlines() or [""])[0]
    reason = " ".join(reason.split())[:200]
    if not reason or re.search(r"weights_only|safe_globals|trust", reason):
        reason = type(err).__name__
    return reason


def load_pt_state_dict(path: PathLike, allow_nonfinite: bool = False) -> dict[str, torch.Tensor]:
    """A legacy ``.pt`` state_dict, read with ``torch.load(weights_only=True)`` (no arbitrary
    unpickling) onto the CPU; convert it with :func:`save_state_dict_file`. A file holding
    anything but tensors, no tensors, or (unless ``allow_nonfinite``) NaN/Inf is refused."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle.UnpicklingError for anything but plain tensors
        raise ValueError(
            f"path: {str(path)!r} is not a weights-only .pt state_dict "
            f"({_pt_reason(err)}); only plain tensors are read from .pt files, since "
            "unpickling anything else can run code. Convert a checkpoint you trust "
            "to .safetensors where it was made"
        ) from None
    if not isinstance(sd, Mapping):
        raise TypeError(
            f"path: {str(path)!r} holds a {type(sd).__name__}, not a state_dict (a dict of tensors)"
        )
    if not sd:
        raise ValueError(f"path: {str(path)!r} holds an empty state_dict (no tensors)")
    sd = _state_dict(sd)
    _check_finite_tensors(sd, str(path), allow_nonfinite)
    return sd


__all__ = [
    "LAYOUT_KEY",
    "save_state_dict_file",
    "load_state_dict_file",
    "load_scratch_file",
    "save_scratch_file",
    "load_pt_state_dict",
    "check_against",
]
