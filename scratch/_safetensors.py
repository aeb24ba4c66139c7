"""Scratch parameters (NumPy, course layout) to and from ``.safetensors`` files — no pickle.

A file written here holds the dict ``{"W1": (n[1], n_x), "b1": (n[1], 1), …}`` exactly as the
scratch side keeps it: same names, same course layout, same dtype, byte for byte, plus the
metadata ``{"dlparity.layout": "course"}``. ``torch_ref.serving.load_scratch_file`` reads
such a file into a torch module through its ``ParamSpec``; a torch ``state_dict`` file (metadata
``"torch"``) is refused here with the converter to use instead.

Loading checks the names (missing and unexpected tensors listed), and, against a template
``like`` (e.g. freshly initialized parameters), every dtype and shape — the same strictness as
``torch_ref.layout``'s converters. It refuses, naming the file and the tensor: a file with no
tensors; a torch ``state_dict`` (metadata ``"torch"``, or — in a file without metadata — keys
such as ``layer1.weight``); dtypes other than float32/float64 (``BF16``/``F8_*`` have no NumPy
dtype: cast in torch before saving) or mixed; NaN/±Inf unless ``allow_nonfinite=True``. Uses
``safetensors.numpy``, imported lazily: it needs no torch.

Example:
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> params = {"W1": np.ones((4, 3)), "b1": np.zeros((4, 1))}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.safetensors"
    >>> _ = save_params(params, path)
    >>> loaded = load_params(path, like=params)
    >>> {k: v.shape for k, v in loaded.items()}, loaded["W1"].dtype
    ({'W1': (4, 3), 'b1': (4, 1)}, dtype('float64'))
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

from scratch._validate import FLOAT_DTYPES

LAYOUT_KEY = "dlparity.layout"
"""Metadata key naming the layout of the tensors in a file: ``"course"`` or ``"torch"``."""
COURSE = "course"

PathLike = str | os.PathLike

_FILE_DTYPES = {"F32": "float32", "F64": "float64"}
"""The safetensors dtypes of a scratch file (``FLOAT_DTYPES``)."""
_TORCH_KEY = re.compile(r"\.|^(weight|bias)$")
"""A torch ``state_dict`` key (dotted, or a bare ``weight``/``bias``); course names never are."""


def _safetensors_numpy() -> ModuleType:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            "safetensors is not installed: pip install 'dlparity[onnx]' (or pip install safetensors)"
        ) from None
    return safetensors.numpy


def save_params(
    params: Mapping[str, np.ndarray], path: PathLike, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``params`` (course layout, float32/float64, one dtype) to ``path``; returns it.

    Arrays are stored as they are (C order, their own dtype); ``metadata`` (``str -> str``) is
    added to ``{"dlparity.layout": "course"}``.
    """
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"params: expected a non-empty dict of arrays, got {type(params).__name__}")
    arrays = {}
    for name, a in params.items():
        if not isinstance(name, str):
            raise TypeError(f"params: names must be strings, got {name!r}")
        a = np.asarray(a)
        if a.dtype not in FLOAT_DTYPES:
            raise TypeError(f"params[{name!r}]: expected float32 or float64, got dtype {a.dtype}")
        arrays[name] = np.ascontiguousarray(a)
    dtypes = sorted({a.dtype.name for a in arrays.values()})
    if len(dtypes) > 1:
        raise TypeError(f"params: mixed dtypes {dtypes}; a network computes in one float dtype")
    meta = {LAYOUT_KEY: COURSE, **dict(metadata or {})}
    if meta[LAYOUT_KEY] != COURSE:
        raise ValueError(
            f"metadata: {LAYOUT_KEY!r} is {meta[LAYOUT_KEY]!r}; scratch files are {COURSE!r} by definition"
        )
    path = Path(path)
    _safetensors_numpy().save_file(arrays, path, metadata=meta)
    return path


def read_metadata(path: PathLike) -> dict[str, str]:
    """The ``str -> str`` metadata of a ``.safetensors`` file (``{}`` if it has none)."""
    with _opening(path):
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            return dict(f.metadata() or {})


class _opening:
    """Turn a missing file or a file that is not safetensors into a ``ValueError`` naming it."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)

    def __enter__(self) -> None:
        _safetensors_numpy()
        if not self.path.is_file():
            raise FileNotFoundError(f"path: no such file {str(self.path)!r}")

    def __exit__(self, kind: type | None, err: BaseException | None, tb: object) -> bool:
        if err is not None and (
            type(err).__name__ == "SafetensorError"
            or isinstance(err, (struct.error, json.JSONDecodeError, UnicodeDecodeError))
        ):
            raise ValueError(
                f"path: {str(self.path)!r} is not a readable .safetensors file ({err})"
            ) from None
        return False


def _tensor_dtypes(path: PathLike) -> dict[str, str]:
    """``{name: safetensors dtype}`` from the JSON header of a file ``safe_open`` accepted."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k: str(v.get("dtype")) for k, v in header.items() if k != "__metadata__"}


def check_like(params: Mapping[str, np.ndarray], like: Mapping[str, np.ndarray], source: str) -> None:
    """Raise unless ``params`` has exactly ``like``'s names, dtypes and shapes.

    Missing and unexpected names are listed together (``ValueError``); a dtype mismatch is a
    ``TypeError`` and a shape mismatch a ``ValueError``, each naming the tensor and ``source``.
    """
    missing, unexpected = sorted(set(like) - set(params)), sorted(set(params) - set(like))
    if missing or unexpected:
        raise ValueError(
            f"{source}: missing tensors {missing}, unexpected tensors {unexpected}; expected {sorted(like)}"
        )
    for name, want in like.items():
        got, want = np.asarray(params[name]), np.asarray(want)
        if got.dtype != want.dtype:
            raise TypeError(
                f"{source}[{name!r}]: dtype {got.dtype}, expected {want.dtype}; "
                "cast explicitly before saving so nothing is silently converted"
            )
        if got.shape != want.shape:
            raise ValueError(f"{source}[{name!r}]: shape {got.shape}, expected {want.shape}")


def load_params(
    path: PathLike,
    like: Mapping[str, np.ndarray] | None = None,
    dtype: np.dtype | str | None = None,
    allow_nonfinite: bool = False,
) -> dict[str, np.ndarray]:
    """Read a course-layout file written by :func:`save_params` (or by
    ``torch_ref.serving.save_scratch_file``).

    Args:
        path: the ``.safetensors`` file.
        like: optional template: the file must hold exactly its names, dtypes and shapes.
        dtype: optional: every tensor must have this dtype (``TypeError`` otherwise).
        allow_nonfinite: load NaN/±Inf values instead of refusing them (``ValueError``).

    Returns ``{name: array}`` of writable arrays, float32 or float64, all of one dtype. A file
    with no tensors, or a torch ``state_dict`` file, is a ``ValueError`` naming the file.
    """
    with _opening(path):
        meta = read_metadata(path)
        dtypes = _tensor_dtypes(path)
        if not dtypes:
            raise ValueError(f"path: {str(path)!r} holds no tensors; expected scratch parameters (W1, b1, …)")
        torch_keys = sorted(k for k in dtypes if _TORCH_KEY.search(k))
        layout = meta.get(LAYOUT_KEY) or ("torch" if torch_keys else COURSE)
        if layout != COURSE:
            keys = f" (keys {torch_keys[:4]}…)" if torch_keys else ""
            raise ValueError(
                f"path: {str(path)!r} holds tensors in the {layout!r} layout, not the "
                f"course's{keys}; load it with torch_ref.serving.load_state_dict_file "
                "and convert with torch_ref.layout.state_dict_to_params"
            )
        for name, kind in dtypes.items():
            if kind not in _FILE_DTYPES:
                raise TypeError(
                    f"{path}[{name!r}]: dtype {kind}, expected float32 or float64 (F32/F64); "
                    "NumPy has no bfloat16 or float8 — cast in torch before saving"
                )
        params = {k: np.array(v) for k, v in _safetensors_numpy().load_file(str(path)).items()}
    found = sorted({a.dtype.name for a in params.values()})
    if len(found) > 1:
        raise TypeError(
            f"{path}: mixed dtypes { {k: a.dtype.name for k, a in params.items()} }; "
            "a network computes in one float dtype"
        )
    for name, a in params.items():
        if a.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{path}[{name!r}]: expected float32 or float64, got dtype {a.dtype}")
        if dtype is not None and a.dtype != np.dtype(dtype):
            raise TypeError(f"{path}[{name!r}]: dtype {a.dtype}, expected {np.dtype(dtype)}")
        if not allow_nonfinite and not np.isfinite(a).all():
            bad = ~np.isfinite(a)
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{path}[{name!r}]: {int(bad.sum())} non-finite value(s) (NaN or Inf), "
                f"the first at index {first}: {a[first]}; pass allow_nonfinite=True to "
                "load it anyway"
            )
    if like is not None:
        check_like(params, like, str(path))
    return params


__all__ = ["LAYOUT_KEY", "COURSE", "save_params", "load_params", "read_metadata", "check_like"]
