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
import numpy.typing as npt
import torch

from parity_tests.compare import CheckResult, Comparison, compare, group_result, insensitive
from parity_tests.devices import check_device, parity_mode
from parity_tests.tolerances import FD_STEP, Tolerance, tolerance
from torch_ref.layout import SAME, Layout, numpy_dtype, to_numpy, to_tensor, torch_dtype

Arrays = Mapping[str, np.ndarray]
_DATA_NAMES = ("X", "A_prev", "A", "Z", "Y_hat", "x")


class ReferenceCallError(RuntimeError):
    """The torch reference raised on the inputs it was given (typically a mis-shaped input or a
    wrong layout); the message names every input's course shape and the shape torch received."""


def _shapes(inputs: Arrays, tensors: Mapping[str, Any] | None = None) -> str:
    """``X (3, 5) -> torch (5, 3), b (4, 1) -> torch (4,)``: each input's course shape, and the
    tensor's where a layout changed it."""
    parts = []
    for k, a in inputs.items():
        s = f"{k} {tuple(np.shape(a))}"
        t = (tensors or {}).get(k)
        if isinstance(t, torch.Tensor) and tuple(t.shape) != tuple(np.shape(a)):
            s += f" -> torch {tuple(t.shape)}"
        parts.append(s)
    return ", ".join(parts)


def _check_tol(tol: Any) -> None:
    """``tol``: ``None`` (the policy's) or a :class:`Tolerance` (which refuses negative, NaN and
    infinite bounds itself)."""
    if tol is not None and not isinstance(tol, Tolerance):
        raise TypeError(
            f"tol: expected a parity_tests.tolerances.Tolerance (or None for the "
            f"policy's), got {tol!r} ({type(tol).__name__})"
        )


def _dtype_name(dtype: Any) -> str:
    return str(torch_dtype(dtype)).replace("torch.", "")


def check_finite(name: str, a: np.ndarray) -> None:
    """Refuse NaN/Inf in an input up front, naming the argument and the first bad index (a
    comparison of outputs computed from NaN could only compare NaN with NaN)."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(
            f"{name}: contains {'NaN' if np.isnan(a[idx]) else 'Inf'} at index {idx}; "
            "parity inputs must be finite"
        )


def _cast_inputs(inputs: Arrays, dtype: Any, index_inputs: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The inputs in the scratch dtype of this run, checked: real numbers, finite.

    Integer and boolean inputs (labels written as ``rng.integers(0, 2, (1, m))``) are cast to the
    run's float dtype on both sides, except those named in ``index_inputs`` (class indices that
    must stay integers). For a float16/bfloat16 run the scratch side computes in float32 on the
    *half-rounded* inputs, so both sides start from identical values and only the arithmetic
    differs.
    """
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs: expected a dict {{name: array}}, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError("inputs: empty — nothing to call the functions with")
    np_dtype = numpy_dtype(dtype)
    half = torch_dtype(dtype) in (torch.float16, torch.bfloat16)
    out = {}
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor):
            raise TypeError(
                f"inputs[{k!r}]: expected a NumPy array (the course side), got a torch.Tensor; "
                "the harness makes the tensors itself"
            )
        a = np.asarray(v)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"inputs[{k!r}]: expected real numbers, got dtype {a.dtype}")
        if a.dtype.kind in "iub" and k not in index_inputs:
            a = a.astype(np_dtype)
        check_finite(f"inputs[{k!r}]", a)
        if a.dtype.kind == "f":
            a = to_numpy(to_tensor(a, "cpu", dtype)) if half else a
            a = a.astype(np_dtype)
        out[k] = a
    return out


def _check_wrt(wrt: Any, inputs: Arrays) -> list[str]:
    """``wrt`` as a list of input names: a list/tuple of strings, each an input."""
    if isinstance(wrt, str):
        hint = f" (did you mean {list(wrt)}?)" if all(c in inputs for c in wrt) and len(wrt) > 1 else ""
        raise TypeError(
            f"wrt: expected a list of input names such as [{wrt!r}], got the string {wrt!r}{hint}"
        )
    if not isinstance(wrt, Sequence) or not all(isinstance(k, str) for k in wrt):
        raise TypeError(f"wrt: expected a list of input names, got {wrt!r}")
    if not wrt:
        raise ValueError(f"wrt: empty — name the inputs to differentiate, from {sorted(inputs)}")
    missing = [k for k in wrt if k not in inputs]
    if missing:
        raise ValueError(f"wrt: {missing} are not among the inputs {sorted(inputs)}")
    not_float = [k for k in wrt if np.asarray(inputs[k]).dtype.kind != "f"]
    if not_float:
        raise ValueError(
            f"wrt: {not_float} are integer inputs (index_inputs); only float inputs have gradients"
        )
    return list(wrt)


def _to_torch(
    inputs: Arrays, layouts: Mapping[str, Layout], device: str, dtype: Any, wrt: Sequence[str] = ()
) -> dict[str, torch.Tensor]:
    out = {}
    for k, a in inputs.items():
        layout = layouts.get(k, SAME)
        try:
            t_layout = layout.to_torch(a)
        except ValueError as exc:  # the layout's own ndim/shape check, which names its argument
            raise ValueError(
                f"inputs[{k!r}]: shape {a.shape} does not fit layouts[{k!r}] = {layout.name} ({exc})"
            ) from None
        if a.dtype.kind == "f":
            out[k] = to_tensor(t_layout, device, dtype, requires_grad=k in wrt)
        else:
            out[k] = torch.as_tensor(t_layout, device=device)
    return out


def _call(
    fn: Callable[..., Any],
    values: Mapping[str, Any],
    *leading: Any,
    role: str = "fn",
    shapes: str | None = None,
) -> Any:
    """Call ``fn`` with the inputs, by one documented rule.

    ``fn(*leading, **values)`` when ``fn``'s signature names every input (or takes
    ``**kwargs``); otherwise positionally in the inputs' order, ``fn(*leading, *values)`` —
    which is how ``torch.sigmoid(input)`` or ``F.linear(input, weight, bias)`` are called.
    ``leading`` is the upstream gradient ``G`` of a vector–Jacobian check. A function whose
    signature fits neither gets a ``TypeError`` that names its parameters and the inputs.
    With ``shapes`` (the torch reference's calls), an exception raised inside ``fn`` is
    re-raised as :class:`ReferenceCallError` naming ``shapes``.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without an inspectable signature
        return _invoke(fn, (*leading, *values.values()), {}, role, shapes)
    params = list(sig.parameters.values())[len(leading) :]
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    args, kwargs = (
        (leading, dict(values))
        if takes_kwargs or set(values) <= names
        else ((*leading, *values.values()), {})
    )
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        got = (["G (the upstream gradient)"] if leading else []) + list(values)
        hint = ""
        dict_params = [p for p in ("params", "parameters") if p in sig.parameters]
        if dict_params:
            others = [k for k in values if k not in sig.parameters]
            hint = (
                f" It takes a parameter dict {dict_params[0]!r}: wrap it so that each input is "
                f"a keyword, e.g. lambda {', '.join(values)}: {getattr(fn, '__name__', 'fn')}("
                + "{"
                + ", ".join(f"{k!r}: {k}" for k in others)
                + "}, ...)"
            )
        raise TypeError(
            f"{role}: {getattr(fn, '__name__', fn)!s}{sig} cannot take the inputs {got} "
            f"({exc}). dlparity passes the inputs as keyword arguments named like the "
            f"keys of inputs, or positionally in their order.{hint}"
        ) from None
    return _invoke(fn, args, kwargs, role, shapes)


def _invoke(
    fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], role: str, shapes: str | None
) -> Any:
    if shapes is None:
        return fn(*args, **kwargs)
    try:
        return fn(*args, **kwargs)
    except ReferenceCallError:
        raise
    except Exception as exc:
        raise ReferenceCallError(
            f"{role}: {getattr(fn, '__name__', fn)!s} raised {type(exc).__name__}: "
            f"{str(exc).strip()} — on the inputs {shapes}; check their shapes (course layout: "
            "examples as columns) and the layouts that convert them for torch"
        ) from exc


def _torch_value(name: str, value: Any) -> torch.Tensor:
    """One torch output as a tensor: tensors as they are; Python numbers and NumPy arrays are
    accepted in a forward check (they carry no autograd graph, see :func:`_objective`)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (int, float, np.ndarray, np.generic)) and np.asarray(value).dtype.kind in "fiub":
        return torch.as_tensor(np.asarray(value))
    raise TypeError(
        f"torch_fn: output {name!r} is a {type(value).__name__}; expected a torch.Tensor "
        "(or a number/NumPy array in a forward check)"
    )


def _named(value: Any, names: Sequence[str] | None, default: str, role: str) -> dict[str, Any]:
    """Outputs as ``{name: value}`` from a dict, a tuple/list (with ``names``) or a single value."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list)):
        names = names or [f"{default}{i}" for i in range(len(value))]
        if len(names) != len(value):
            raise ValueError(
                f"{role}: returned {len(value)} outputs, output_names has {len(names)}: {list(names)}"
            )
        return dict(zip(names, value))
    if value is None:
        raise TypeError(f"{role}: returned None; expected an array (did the function forget to return?)")
    return {names[0] if names else default: value}


def infer_batch_size(X: Any) -> int | None:
    """The number of examples of a course-layout batch: ``X (n_x, m)`` and sequences
    ``x (n_x, m, T_x)`` have ``m`` on axis 1, images ``(m, n_H, n_W, n_C)`` on axis 0."""
    ndim = np.ndim(X)
    if ndim in (2, 3):
        return int(np.shape(X)[1])
    if ndim == 4:
        return int(np.shape(X)[0])
    return None


def _infer_m(inputs: Arrays) -> int | None:
    """The batch size, for diagnoses: from the first data-like input (see :func:`infer_batch_size`)."""
    for k in _DATA_NAMES:
        if k in inputs:
            m = infer_batch_size(inputs[k])
            if m is not None:
                return m
    return None


def _out_layout(output_layout: Layout | Mapping[str, Layout], name: str) -> Layout:
    return output_layout.get(name, SAME) if isinstance(output_layout, Mapping) else output_layout


def _record(
    name: str, actual: Any, expected: np.ndarray, tol: Any, run_dtype: Any, **kwargs: Any
) -> Comparison:
    """:func:`compare`, plus a dtype hint: a scratch result in another float dtype than the run's
    fails at that dtype's rounding, which no formula fix can cure."""
    a = np.asarray(actual) if not isinstance(actual, torch.Tensor) else actual
    if isinstance(a, torch.Tensor):
        raise TypeError(f"{name}: the scratch side returned a torch.Tensor; expected a NumPy array")
    rec = compare(name, a, expected, tol, **kwargs)
    want = numpy_dtype(run_dtype)
    if not rec.passed and a.dtype.kind == "f" and a.dtype != want:
        cause = (
            f"the scratch side returned {a.dtype} in a {_dtype_name(run_dtype)} run, so it "
            f"carries {a.dtype}'s rounding — compute in the inputs' dtype (np.zeros, "
            "np.random and Python floats default to float64; astype/np.float32 narrows)"
        )
        rec.diagnosis = cause if not rec.diagnosis else f"{cause}; {rec.diagnosis}"
    return rec


def check_forward(
    scratch_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    inputs: Arrays,
    *,
    layouts: Mapping[str, Layout] | None = None,
    output_layout: Layout | Mapping[str, Layout] = SAME,
    output_names: Sequence[str] | None = None,
    device: str = "cpu",
    dtype: Any = "float64",
    elementwise: bool = False,
    index_inputs: Sequence[str] = (),
    allow_nonfinite: bool = False,
    concept: str = "user",
    case: str = "forward",
    m: int | None = None,
    tol: Tolerance | None = None,
    constant_in: Sequence[str] = (),
) -> CheckResult:
    """Compare ``scratch_fn(**inputs)`` with ``torch_fn(**tensors)`` (outputs in course layout).

    Both functions get the inputs as keyword arguments when their signatures name them, else
    positionally in the order of ``inputs`` (so ``torch.sigmoid`` or ``F.linear`` work as they
    are). Both may return one array, a tuple (named by ``output_names``) or a dict; torch may
    also return Python numbers or NumPy arrays here. ``inputs`` are in the course layout and must
    be finite; integer inputs are cast to the run's float dtype unless named in
    ``index_inputs``. ``layouts[name]`` converts an input for torch, ``output_layout`` converts
    torch's outputs back. ``elementwise=True`` declares a one-input function applied elementwise
    (an activation), so a mismatch confined to negative/zero/positive inputs can be named.
    ``allow_nonfinite=True`` declares identical NaN/Inf on both sides the expected answer.
    ``tol`` replaces the policy's forward tolerance — only with one the policy defines for a
    documented reason (e.g. :func:`~parity_tests.tolerances.kernel_tolerance`); records print it.

    An input whose changes (fresh random values and their negatives, each entry moved at random;
    integer indices rolled) change neither side's output is one that no comparison can fault —
    both sides ignore it, or both forgot it — so it gets an INCONCLUSIVE record
    ``input '<name>'`` and the check does not pass. ``constant_in`` names the inputs an edge case
    is *meant* not to depend on (``x⁰``, a zero-variance vector): those are
    not reported (the check still fails if the constant differs).
    """
    check_device(device)
    _check_tol(tol)
    if isinstance(constant_in, str) or any(k not in inputs for k in constant_in):
        raise ValueError(
            f"constant_in: expected a list of input names from {sorted(inputs)}, got {constant_in!r}"
        )
    layouts = layouts or {}
    inputs = _cast_inputs(inputs, dtype, index_inputs)
    with parity_mode(), torch.no_grad():
        tensors = _to_torch(inputs, layouts, device, dtype)
        expected_raw = _call(torch_fn, tensors, role="torch_fn", shapes=_shapes(inputs, tensors))
    scratch_raw = _call(scratch_fn, inputs, role="scratch_fn")
    actual = _named(scratch_raw, output_names, "out", "scratch_fn")
    expected = _named(expected_raw, output_names, "out", "torch_fn")
    if set(actual) != set(expected):
        raise ValueError(f"outputs: scratch returned {sorted(actual)}, torch returned {sorted(expected)}")
    if not expected:
        raise ValueError("outputs: both functions returned nothing to compare")
    tol = tol or tolerance(_dtype_name(dtype), "forward")
    m = m if m is not None else _infer_m(inputs)
    x = next(iter(inputs.values())) if elementwise and len(inputs) == 1 else None
    records = []
    for name, e in expected.items():
        e_np = _out_layout(output_layout, name).to_course(to_numpy(_torch_value(name, e)))
        records.append(
            _record(name, actual[name], e_np, tol, dtype, m=m, x=x, allow_nonfinite=allow_nonfinite)
        )
    probe = {k: v for k, v in inputs.items() if k not in constant_in}
    records += _unread_records(
        _unread_inputs(
            scratch_fn,
            torch_fn,
            inputs,
            probe,
            layouts,
            device,
            dtype,
            scratch_raw,
            expected_raw,
            index_inputs,
        ),
        index_inputs,
        tol,
    )
    return group_result(concept, case, "forward", device, _dtype_name(dtype), records)


def _unread_records(unread: Sequence[str], index_inputs: Sequence[str], tol: Tolerance) -> list[Comparison]:
    """An INCONCLUSIVE record per input that no side reads (:func:`_unread_inputs`)."""
    return [
        insensitive(
            f"input {k!r}",
            f"could not have failed for it: replacing inputs[{k!r}] by "
            f"{_PERTURBED[k in index_inputs]} changed neither the scratch nor the torch output, so "
            f"this check cannot tell whether {k} is used — drop it from inputs if neither function "
            f"should read it, or both sides forgot it (a missing '+ {k}'?)",
            tol=tol,
        )
        for k in unread
    ]


_PERTURBED = {
    False: "other values (fresh random values, their negatives, and each entry moved at random)",
    True: "its values rolled by one place",
}


def _perturbed(a: np.ndarray, index: bool) -> list[np.ndarray]:
    """Arrays of the same shape and dtype that differ from ``a``, tried in turn: for floats, fresh
    values ``r ~ N(0, 1)`` (out of any saturated region), ``−r`` (the other side of a kink: ReLU
    at 0), and ``a + r·(1 + |a|)`` (each entry moved by its own amount, so no invariance such as
    softmax's common shift hides a read), from a fixed seed; for integer indices the values
    rolled by one place. Empty when no different array results (a constant index array, an
    empty array)."""
    if a.size == 0:
        return []
    if index or a.dtype.kind != "f":
        tries = [np.roll(a.reshape(-1), 1).reshape(a.shape)]
    else:
        r = np.random.default_rng(20261206).standard_normal(a.shape)
        a64 = a.astype(np.float64)
        tries = [b.astype(a.dtype) for b in (r, -r, a64 + r * (1 + np.abs(a64)))]
    return [b for b in tries if not np.array_equal(a, b)]


def _same_outputs(a: Any, b: Any) -> bool:
    """Whether two raw outputs of one function are identical (NaN equal to NaN here: the question
    is whether the function's result *changed*)."""

    def flat(v: Any) -> list[np.ndarray]:
        if isinstance(v, Mapping):
            return [x for k in sorted(v) for x in flat(v[k])]
        if isinstance(v, (tuple, list)):
            return [x for item in v for x in flat(item)]
        if isinstance(v, torch.Tensor):
            return [
                v.detach().cpu().float().numpy() if v.dtype == torch.bfloat16 else v.detach().cpu().numpy()
            ]
        return [np.asarray(v)]

    fa, fb = flat(a), flat(b)
    return len(fa) == len(fb) and all(
        x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc") for x, y in zip(fa, fb)
    )


def _unread_inputs(
    scratch_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    inputs: Arrays,
    probe: Arrays,
    layouts: Mapping[str, Layout],
    device: str,
    dtype: Any,
    scratch_out: Any,
    torch_out: Any,
    index_inputs: Sequence[str],
) -> list[str]:
    """The inputs whose changes (:func:`_perturbed`) change neither output — an input that no
    side reads, which a comparison can never fault. Usually one extra torch call per input (the
    next change is tried only when one changed nothing), and a scratch call only for an input
    that torch ignores; an error on a changed input counts as reading it. Only the inputs in
    ``probe`` are changed."""

    def reads(values: Arrays) -> bool:
        try:
            with parity_mode(), torch.no_grad(), np.errstate(all="ignore"):
                return not _same_outputs(
                    _call(torch_fn, _to_torch(values, layouts, device, dtype), role="torch_fn"), torch_out
                ) or not _same_outputs(_call(scratch_fn, values, role="scratch_fn"), scratch_out)
        except Exception:  # noqa: BLE001 - refusing the changed value is reading it
            return True

    unread = []
    for k, a in probe.items():
        tries = _perturbed(a, k in index_inputs)
        if tries and not any(reads({**inputs, k: changed}) for changed in tries):
            unread.append(k)
    return unread


_COST_THEN_GRADS = (
    "it looks like (cost, grads) or (grads, cost), the course's propagate: return "
    "the gradients only, e.g. lambda **kw: propagate(**kw)[0]"
)


def _call_grads(
    scratch_grads: Callable[..., Any], inputs: Arrays, dout: np.ndarray | None, wrt: Sequence[str]
) -> dict[str, np.ndarray]:
    """Call the user's backward and return ``{input name: gradient}``, or say what it returned."""
    raw = (
        _call(scratch_grads, inputs, role="scratch_grads")
        if dout is None
        else _call(scratch_grads, inputs, dout, role="scratch_grads")
    )
    if isinstance(raw, Mapping):
        grads = {}
        for k in wrt:
            if "d" + k in raw:
                grads[k] = raw["d" + k]
            elif k in raw:
                grads[k] = raw[k]
            else:
                raise ValueError(
                    f"scratch_grads: no entry for {k!r} (or 'd{k}'); it returned a dict "
                    f"with keys {sorted(raw)}"
                )
    else:
        seq = list(raw) if isinstance(raw, (tuple, list)) else [raw]
        kinds = ", ".join(type(v).__name__ for v in seq)
        if any(isinstance(v, Mapping) for v in seq):
            raise TypeError(
                f"scratch_grads: returned a {type(raw).__name__} of ({kinds}); expected a "
                f"dict {{'d<name>': array}} or one array per wrt={list(wrt)} — " + _COST_THEN_GRADS
            )
        if len(seq) != len(wrt):
            raise ValueError(
                f"scratch_grads: returned {len(seq)} value(s) ({kinds}) for "
                f"wrt={list(wrt)}; expected one gradient per name, in that order"
            )
        grads = dict(zip(wrt, seq))
    for k, g in grads.items():
        if isinstance(g, Mapping) or np.asarray(g).dtype.kind not in "fiub":
            raise TypeError(
                f"scratch_grads: the gradient of {k!r} is a {type(g).__name__}"
                f"{'' if isinstance(g, Mapping) else f' of dtype {np.asarray(g).dtype}'}; "
                "expected a real numeric array"
            )
    return grads


def _upstream(shape: tuple[int, ...], dtype: npt.DTypeLike, seed: int) -> np.ndarray:
    """A random upstream gradient ``G`` (never all-ones: ``.sum()`` hides transposes)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _objective_tensor(out: Any) -> torch.Tensor:
    """The torch output that autograd differentiates: a tensor attached to the inputs' graph."""
    if isinstance(out, Mapping) or isinstance(out, (tuple, list)):
        raise TypeError(
            f"torch_fn: returned a {type(out).__name__}; a gradient check needs one "
            "tensor (the cost, or the output a random G is applied to)"
        )
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"torch_fn: returned a {type(out).__name__}; autograd needs a torch.Tensor "
            "computed from the input tensors (no .item(), float(), .numpy() or new tensor)"
        )
    if out.grad_fn is None and not out.requires_grad:
        raise TypeError(
            "torch_fn: returned a tensor that is not attached to the inputs' autograd "
            "graph (.detach(), torch.no_grad(), or a tensor built anew from values?)"
        )
    return out


def check_gradients(
    scratch_grads: Callable[..., Any],
    torch_fn: Callable[..., Any],
    inputs: Arrays,
    wrt: Sequence[str],
    *,
    layouts: Mapping[str, Layout] | None = None,
    output_layout: Layout = SAME,
    device: str = "cpu",
    dtype: Any = "float64",
    grad_scale: Mapping[str, float] | None = None,
    seed: int = 0,
    vjp: bool = False,
    elementwise: bool = False,
    index_inputs: Sequence[str] = (),
    concept: str = "user",
    case: str = "gradient",
    m: int | None = None,
    tol: Tolerance | None = None,
) -> CheckResult:
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
    ``elementwise=True`` declares each gradient elementwise in its input (an activation's
    ``dZ = dA ⊙ g'(Z)``), so a mismatch confined to negative/zero/positive inputs can be named.
    ``tol`` replaces the policy's gradient tolerance, as in :func:`check_forward`.
    """
    check_device(device)
    _check_tol(tol)
    layouts = layouts or {}
    inputs = _cast_inputs(inputs, dtype, index_inputs)
    wrt = _check_wrt(wrt, inputs)
    G, ref = _autograd_reference(torch_fn, inputs, wrt, layouts, output_layout, device, dtype, vjp, seed)
    actual = _call_grads(scratch_grads, inputs, G, wrt)
    tol = tol or tolerance(_dtype_name(dtype), "gradient")
    m = m if m is not None else _infer_m(inputs)
    records = []
    for k, g in zip(wrt, ref):
        g_np = np.zeros_like(inputs[k]) if g is None else layouts.get(k, SAME).to_course(to_numpy(g))
        g_np = g_np * (grad_scale or {}).get(k, 1.0)
        rec = _record("d" + k, actual[k], g_np, tol, dtype, m=m, x=inputs[k] if elementwise else None)
        if g is None:
            _say_unused(rec, k)
        records.append(rec)
    return group_result(concept, case, "gradient", device, _dtype_name(dtype), records)


def _autograd_reference(
    torch_fn: Callable[..., Any],
    inputs: Arrays,
    wrt: Sequence[str],
    layouts: Mapping[str, Layout],
    output_layout: Layout,
    device: str,
    dtype: Any,
    vjp: bool,
    seed: int,
) -> tuple[np.ndarray | None, tuple]:
    """``(G, autograd's gradients of the objective wrt each input in wrt)``: the objective is the
    cost ``J`` (``vjp=False``, ``G`` is ``None``) or ``Σ out ⊙ G`` for a random upstream ``G``."""
    with parity_mode():
        tensors = _to_torch(inputs, layouts, device, dtype, wrt)
        out = _objective_tensor(_call(torch_fn, tensors, role="torch_fn", shapes=_shapes(inputs, tensors)))
        if not vjp:
            if out.numel() != 1:
                raise ValueError(
                    f"torch_fn: returned shape {tuple(out.shape)}, but a cost (vjp=False) must be "
                    "a single number; to check a vector–Jacobian product with a random upstream "
                    "gradient G passed first to scratch_grads, pass vjp=True"
                )
            G = None
            objective = out.sum()
        else:
            G = _cast_inputs(
                {"G": _upstream(output_layout.to_course(to_numpy(out)).shape, np.float64, seed)}, dtype
            )["G"]
            objective = (out * to_tensor(output_layout.to_torch(G), device, dtype)).sum()
        return G, torch.autograd.grad(objective, [tensors[k] for k in wrt], allow_unused=True)


def _say_unused(rec: Comparison, k: str) -> None:
    """Note (or, when the scratch gradient is not 0, diagnose) a reference with no path to ``k``."""
    unused = (
        f"the torch reference does not depend on {k!r}: autograd found no path from "
        f"its output to {k} (a forgotten '+ {k}' or an unused argument in torch_fn?)"
    )
    if rec.passed:
        rec.note = unused + "; the scratch gradient is 0 too"
    else:
        rec.diagnosis = unused + " — so the reference gradient is 0 and the scratch one is not"


def numerical_gradients(
    fn: Callable[..., Any],
    inputs: Arrays,
    wrt: Sequence[str],
    upstream: np.ndarray | None = None,
    h: float = FD_STEP,
) -> dict[str, np.ndarray]:
    """Central differences ``(f(x + h e_i) − f(x − h e_i)) / 2h`` of ``Σ fn(**inputs) ⊙ G``.

    Float64 only; ``h`` is relative: ``h · max(1, |x_i|)``. Loops over every entry of every
    ``wrt`` input (this is the test oracle, not a fast path).
    """

    def objective(values: Arrays) -> float:
        out = np.asarray(_call(fn, values, role="scratch_fn"), dtype=np.float64)
        return float(np.sum(out * upstream)) if upstream is not None else float(out.reshape(()))

    grads = {}
    for k in wrt:
        x = np.array(inputs[k], dtype=np.float64)
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = h * max(1.0, abs(float(x[idx])))
            orig = x[idx]
            x[idx] = orig + step
            f_plus = objective({**inputs, k: x})
            x[idx] = orig - step
            f_minus = objective({**inputs, k: x})
            x[idx] = orig
            g[idx] = (f_plus - f_minus) / (2 * step)
        grads[k] = g
    return grads


def check_finite_differences(
    scratch_fn: Callable[..., Any],
    scratch_grads: Callable[..., Any],
    inputs: Arrays,
    wrt: Sequence[str],
    *,
    grad_scale: Mapping[str, float] | None = None,
    seed: int = 0,
    vjp: bool = False,
    elementwise: bool = False,
    index_inputs: Sequence[str] = (),
    concept: str = "user",
    case: str = "finite-difference",
    m: int | None = None,
) -> CheckResult:
    """Your backward against central differences of your own forward — float64, no torch.

    Same calling convention as :func:`check_gradients`: with ``vjp=False`` the single-number
    ``scratch_fn`` (a cost) is differentiated directly; with ``vjp=True`` ``Σ out ⊙ G`` for a
    random ``G`` passed first to ``scratch_grads``.
    """
    inputs = _cast_inputs(inputs, "float64", index_inputs)
    wrt = _check_wrt(wrt, inputs)
    out = np.asarray(_call(scratch_fn, inputs, role="scratch_fn"))
    if out.dtype.kind not in "fiub":
        raise TypeError(f"scratch_fn: returned dtype {out.dtype}; expected a real numeric array")
    if not vjp and out.size != 1:
        raise ValueError(
            f"scratch_fn: returned shape {out.shape}, but a cost (vjp=False) must be a "
            "single number; pass vjp=True for a vector–Jacobian product"
        )
    G = _upstream(out.shape, np.float64, seed) if vjp else None
    numeric = numerical_gradients(scratch_fn, inputs, wrt, G)
    actual = _call_grads(scratch_grads, inputs, G, wrt)
    tol = tolerance("float64", "finite-difference")
    m = m if m is not None else _infer_m(inputs)
    records = [
        _record(
            "d" + k,
            actual[k],
            numeric[k] * (grad_scale or {}).get(k, 1.0),
            tol,
            "float64",
            m=m,
            x=inputs[k] if elementwise else None,
        )
        for k in wrt
    ]
    return group_result(concept, case, "finite-difference", "cpu", "float64", records)


__all__ = [
    "check_forward",
    "check_gradients",
    "check_finite_differences",
    "numerical_gradients",
    "infer_batch_size",
    "check_finite",
    "CheckResult",
    "Comparison",
    "ReferenceCallError",
]
