"""The public verification API: point it at *your own* NumPy code and a torch reference.

- :func:`check_forward` — outputs equal?
- :func:`check_gradients` — every gradient equal (against ``torch.autograd``)?
- :func:`check_finite_differences` — your backward against central differences (float64,
  no torch involved)?
- :func:`check_training` — a whole gradient-descent trajectory equal, step by step?

Each returns a :class:`~parity_tests.compare.CheckResult`: one
:class:`~parity_tests.compare.Comparison` record per quantity (errors, worst element, both
values, tolerance, verdict, diagnosis). ``print(result)`` explains it;
:func:`~parity_tests.compare.assert_parity` turns it into a pytest assertion.

Your NumPy side speaks the course layout (examples as columns). If the torch reference wants
batch-first tensors, pass ``layouts={"X": COLUMNS, "b": BIAS}`` and ``output_layout=COLUMNS``
(from :mod:`torch_ref.layout`); otherwise everything is handed over as it is. Tolerances come
from the single policy in :mod:`parity_tests.tolerances`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from parity_tests.compare import CheckResult, Comparison, compare, group_result
from parity_tests.devices import check_device, parity_mode
from parity_tests.tolerances import FD_STEP, tolerance
from torch_ref.layout import SAME, Layout, numpy_dtype, to_numpy, to_tensor, torch_dtype

Arrays = Mapping[str, np.ndarray]
_DATA_NAMES = ("X", "A_prev", "A", "Z", "Y_hat", "x")


def _dtype_name(dtype: Any) -> str:
    return str(torch_dtype(dtype)).replace("torch.", "")


def _cast_inputs(inputs: Arrays, dtype: Any) -> dict[str, np.ndarray]:
    """Float inputs in the scratch dtype for this run; integer inputs (labels) unchanged.

    For a float16/bfloat16 run the scratch side computes in float32 on the *half-rounded*
    inputs, so both sides start from identical values and only the arithmetic differs.
    """
    np_dtype = numpy_dtype(dtype)
    half = torch_dtype(dtype) in (torch.float16, torch.bfloat16)
    out = {}
    for k, v in inputs.items():
        a = np.asarray(v)
        if a.dtype.kind == "f":
            a = to_numpy(to_tensor(a, "cpu", dtype)) if half else a
            a = a.astype(np_dtype)
        out[k] = a
    return out


def _to_torch(inputs: Arrays, layouts: Mapping[str, Layout], device: str, dtype: Any,
              wrt: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    out = {}
    for k, a in inputs.items():
        t_layout = layouts.get(k, SAME).to_torch(a)
        if a.dtype.kind == "f":
            out[k] = to_tensor(t_layout, device, dtype, requires_grad=k in wrt)
        else:
            out[k] = torch.as_tensor(t_layout, device=device)
    return out


def _call(fn: Callable[..., Any], values: Mapping[str, Any], *leading: Any) -> Any:
    """Call ``fn(*leading, **values)`` when its signature accepts those names, else positionally
    in the inputs' order (``torch.sigmoid(input)``, ``F.linear(input, weight, bias)``)."""
    try:
        params = list(inspect.signature(fn).parameters.values())[len(leading):]
    except (TypeError, ValueError):  # builtins without an inspectable signature
        return fn(*leading, *values.values())
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if takes_kwargs or set(values) <= names:
        return fn(*leading, **values)
    return fn(*leading, *values.values())


def _named(value: Any, names: Sequence[str] | None, default: str) -> dict[str, Any]:
    """Outputs as ``{name: value}`` from a dict, a tuple/list (with ``names``) or a single value."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list)):
        names = names or [f"{default}{i}" for i in range(len(value))]
        if len(names) != len(value):
            raise ValueError(f"output_names: {len(names)} names for {len(value)} outputs")
        return dict(zip(names, value))
    return {names[0] if names else default: value}


def _infer_m(inputs: Arrays) -> int | None:
    """The batch size, for diagnoses: the column count of the first data-like 2-D input."""
    for k in _DATA_NAMES:
        if k in inputs and np.ndim(inputs[k]) == 2:
            return int(np.shape(inputs[k])[1])
    return None


def _out_layout(output_layout: Layout | Mapping[str, Layout], name: str) -> Layout:
    return output_layout.get(name, SAME) if isinstance(output_layout, Mapping) else output_layout


def check_forward(scratch_fn: Callable[..., Any], torch_fn: Callable[..., Any], inputs: Arrays, *,
                  layouts: Mapping[str, Layout] | None = None,
                  output_layout: Layout | Mapping[str, Layout] = SAME,
                  output_names: Sequence[str] | None = None, device: str = "cpu",
                  dtype: Any = "float64", concept: str = "user", case: str = "forward",
                  m: int | None = None) -> CheckResult:
    """Compare ``scratch_fn(**inputs)`` with ``torch_fn(**tensors)`` (outputs in course layout).

    Both functions get the inputs as keyword arguments when their signatures name them, else
    positionally in the order of ``inputs`` (so ``torch.sigmoid`` or ``F.linear`` work as they
    are). Both may return one array, a tuple (named by ``output_names``) or a dict. ``inputs`` are in
    the course layout; ``layouts[name]`` converts an input for torch, ``output_layout`` converts
    torch's outputs back.
    """
    check_device(device)
    layouts = layouts or {}
    inputs = _cast_inputs(inputs, dtype)
    with parity_mode(), torch.no_grad():
        expected_raw = _call(torch_fn, _to_torch(inputs, layouts, device, dtype))
    actual = _named(_call(scratch_fn, inputs), output_names, "out")
    expected = _named(expected_raw, output_names, "out")
    if set(actual) != set(expected):
        raise ValueError(f"outputs: scratch returned {sorted(actual)}, torch returned {sorted(expected)}")
    tol = tolerance(_dtype_name(dtype), "forward")
    m = m if m is not None else _infer_m(inputs)
    records = []
    for name, e in expected.items():
        e_np = _out_layout(output_layout, name).to_course(to_numpy(torch.as_tensor(e)))
        x = next(iter(inputs.values())) if len(inputs) == 1 else None
        records.append(compare(name, actual[name], e_np, tol, m=m, x=x))
    return group_result(concept, case, "forward", device, _dtype_name(dtype), records)


def _call_grads(scratch_grads: Callable[..., Any], inputs: Arrays, dout: np.ndarray | None,
                wrt: Sequence[str]) -> dict[str, np.ndarray]:
    """Call the user's backward and return ``{input name: gradient}``."""
    raw = _call(scratch_grads, inputs) if dout is None else _call(scratch_grads, inputs, dout)
    if isinstance(raw, Mapping):
        grads = {}
        for k in wrt:
            if "d" + k in raw:
                grads[k] = raw["d" + k]
            elif k in raw:
                grads[k] = raw[k]
            else:
                raise ValueError(f"scratch gradients: no entry for {k!r} (or 'd{k}'); got {sorted(raw)}")
        return grads
    raw = raw if isinstance(raw, (tuple, list)) else (raw,)
    if len(raw) != len(wrt):
        raise ValueError(f"scratch gradients: got {len(raw)} values for wrt={list(wrt)}")
    return dict(zip(wrt, raw))


def _upstream(shape: tuple[int, ...], dtype: np.dtype, seed: int) -> np.ndarray:
    """A random upstream gradient ``G`` (never all-ones: ``.sum()`` hides transposes)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_gradients(scratch_grads: Callable[..., Any], torch_fn: Callable[..., Any], inputs: Arrays,
                    wrt: Sequence[str], *, layouts: Mapping[str, Layout] | None = None,
                    output_layout: Layout = SAME, device: str = "cpu", dtype: Any = "float64",
                    grad_scale: Mapping[str, float] | None = None, seed: int = 0,
                    vjp: bool = False, concept: str = "user", case: str = "gradient",
                    m: int | None = None) -> CheckResult:
    """Compare your gradients with ``torch.autograd``'s, for every input named in ``wrt``.

    Two modes, chosen by ``vjp`` and never guessed from a shape:

    - ``vjp=False`` (a cost): ``torch_fn(**tensors)`` returns one number ``J`` (a scalar or any
      single-element tensor, e.g. the course's ``(1, 1)`` cost) and ``scratch_grads(**inputs)``
      returns ``∂J/∂input``.
    - ``vjp=True`` (a vector–Jacobian product): a random upstream gradient ``G`` (course
      layout, the shape of the output) is drawn, autograd differentiates ``Σ out ⊙ G``, and
      ``scratch_grads(G, **inputs)`` returns that product.
    ``scratch_grads`` returns a dict keyed ``"d<name>"`` (or ``"<name>"``) or a tuple in
    ``wrt`` order. ``grad_scale[name]`` multiplies the reference gradient of ``name`` — for
    conventions such as the course's ``dW = 1/m dZ A_prevᵀ`` next to a per-example ``dZ``.
    """
    check_device(device)
    layouts = layouts or {}
    inputs = _cast_inputs(inputs, dtype)
    missing = [k for k in wrt if k not in inputs]
    if missing:
        raise ValueError(f"wrt: {missing} are not among the inputs {sorted(inputs)}")
    with parity_mode():
        tensors = _to_torch(inputs, layouts, device, dtype, wrt)
        out = _call(torch_fn, tensors)
        if not vjp:
            if out.numel() != 1:
                raise ValueError(
                    f"torch_fn: returned shape {tuple(out.shape)}, but a cost (vjp=False) must be "
                    "a single number; to check a vector–Jacobian product with a random upstream "
                    "gradient G passed first to scratch_grads, pass vjp=True")
            G = None
            objective = out.sum()
        else:
            G = _cast_inputs({"G": _upstream(output_layout.to_course(to_numpy(out)).shape,
                                             np.float64, seed)}, dtype)["G"]
            objective = (out * to_tensor(output_layout.to_torch(G), device, dtype)).sum()
        ref = torch.autograd.grad(objective, [tensors[k] for k in wrt], allow_unused=True)
    actual = _call_grads(scratch_grads, inputs, G, wrt)
    tol = tolerance(_dtype_name(dtype), "gradient")
    m = m if m is not None else _infer_m(inputs)
    records = []
    for k, g in zip(wrt, ref):
        g_np = np.zeros_like(inputs[k]) if g is None else layouts.get(k, SAME).to_course(to_numpy(g))
        g_np = g_np * (grad_scale or {}).get(k, 1.0)
        records.append(compare("d" + k, actual[k], g_np, tol, m=m, x=inputs[k]))
    return group_result(concept, case, "gradient", device, _dtype_name(dtype), records)


def numerical_gradients(fn: Callable[..., Any], inputs: Arrays, wrt: Sequence[str],
                        upstream: np.ndarray | None = None, h: float = FD_STEP) -> dict[str, np.ndarray]:
    """Central differences ``(f(x + h e_i) − f(x − h e_i)) / 2h`` of ``Σ fn(**inputs) ⊙ G``.

    Float64 only; ``h`` is relative: ``h · max(1, |x_i|)``. Loops over every entry of every
    ``wrt`` input (this is the test oracle, not a fast path).
    """
    def objective(values: Arrays) -> float:
        out = np.asarray(_call(fn, values), dtype=np.float64)
        return float(np.sum(out * upstream)) if upstream is not None else float(out.reshape(()))

    grads = {}
    for k in wrt:
        x = np.array(inputs[k], dtype=np.float64)
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = h * max(1.0, abs(x[idx]))
            orig = x[idx]
            x[idx] = orig + step
            f_plus = objective({**inputs, k: x})
            x[idx] = orig - step
            f_minus = objective({**inputs, k: x})
            x[idx] = orig
            g[idx] = (f_plus - f_minus) / (2 * step)
        grads[k] = g
    return grads


def check_finite_differences(scratch_fn: Callable[..., Any], scratch_grads: Callable[..., Any],
                             inputs: Arrays, wrt: Sequence[str], *,
                             grad_scale: Mapping[str, float] | None = None, seed: int = 0,
                             vjp: bool = False, concept: str = "user",
                             case: str = "finite-difference", m: int | None = None) -> CheckResult:
    """Your backward against central differences of your own forward — float64, no torch.

    Same calling convention as :func:`check_gradients`: with ``vjp=False`` the single-number
    ``scratch_fn`` (a cost) is differentiated directly; with ``vjp=True`` ``Σ out ⊙ G`` for a
    random ``G`` passed first to ``scratch_grads``.
    """
    inputs = _cast_inputs(inputs, "float64")
    out = np.asarray(_call(scratch_fn, inputs))
    if not vjp and out.size != 1:
        raise ValueError(f"scratch_fn: returned shape {out.shape}, but a cost (vjp=False) must be a "
                         "single number; pass vjp=True for a vector–Jacobian product")
    G = _upstream(out.shape, np.float64, seed) if vjp else None
    numeric = numerical_gradients(scratch_fn, inputs, wrt, G)
    actual = _call_grads(scratch_grads, inputs, G, wrt)
    tol = tolerance("float64", "finite-difference")
    m = m if m is not None else _infer_m(inputs)
    records = [compare("d" + k, actual[k], numeric[k] * (grad_scale or {}).get(k, 1.0), tol, m=m,
                       x=inputs[k]) for k in wrt]
    return group_result(concept, case, "finite-difference", "cpu", "float64", records)


__all__ = ["check_forward", "check_gradients", "check_finite_differences", "numerical_gradients",
           "CheckResult", "Comparison"]
