"""Course part ``charlm`` (course 5 week 1, *Character level language model – Dinosaurus Island*):
``clip``, ``sample``, ``optimize`` and ``model``, checked against torch — ``nn.RNN`` with its head
(:class:`torch_ref.rnn.SequenceModel`), autograd, ``torch.nn.utils.clip_grad_value_`` and
``torch.optim.SGD``.

The course's contracts: parameters ``Wax (n_a, n_x)``, ``Waa``, ``Wya (n_y, n_a)``, ``b (n_a, 1)``
(the course's name for ``ba``), ``by``; gradients ``dWax, dWaa, dWya, db, dby``. One name is one
example: ``X = [None] + indices`` (``None``: a zero input), ``Y = X[1:] + [index of "\\n"]``, the
loss the *sum* of the steps' cross-entropies. ``optimize`` runs the course's ``rnn_forward`` →
``rnn_backward`` → ``clip(gradients, 5)`` → ``update_parameters`` (in place) and returns ``(loss,
gradients, a[len(X) − 1])``. ``sample`` seeds ``np.random.seed(counter + seed)`` before each draw
(``seed`` and ``counter`` both step by one, so the seeds are ``seed, seed + 2, …``) and draws
``np.random.choice(range(vocab_size), p=y.ravel())`` — inverse-CDF sampling of one uniform, the
protocol of dlparity's own sampler (:meth:`SequenceModel.sample`), which therefore must give the
same indices; it stops after ``"\\n"`` or 50 characters (then appending ``"\\n"``).

**Versions.** 2018–2020: ``clip`` clips the arrays it is given in place (``np.clip(gradient,
-maxValue, maxValue, out=gradient)``), ``model(data, …)`` reads ``dinos.txt`` itself and returns
``parameters``. 2021 on: ``clip`` starts with ``gradients = copy.deepcopy(gradients)`` (the input is
left as it was), ``model(data_x, …, verbose=False)`` takes the names and returns ``(parameters,
last_dino_name)``. Each is accepted where the file follows it (:func:`version`).

``model`` is checked as a trajectory on a small built-in list of dinosaur names (:data:`NAMES`;
the course's ``dinos.txt`` is not needed: for the 2018 contract one is written to a temporary
folder the call runs in).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from parity_tests.compare import compare
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    array,
    entry,
    kind,
    matches,
    name_slip,
    names_used,
    not_implemented,
    number,
    records,
    shape_str,
    tol,
    unpack,
)
from parity_tests.devices import parity_mode
from parity_tests.registry import seed_for
from torch_ref import rnn as T
from torch_ref.gd import make_optimizer
from torch_ref.layout import to_numpy

VOCAB = ["\n", *"abcdefghijklmnopqrstuvwxyz"]  # the course's 27 characters, sorted
CHAR_TO_IX = {c: i for i, c in enumerate(VOCAB)}
IX_TO_CHAR = dict(enumerate(VOCAB))
NEWLINE = CHAR_TO_IX["\n"]
NAMES = [
    "aardonyx",
    "abelisaurus",
    "bambiraptor",
    "coelophysis",
    "diplodocus",
    "iguanodon",
    "minmi",
    "stegosaurus",
    "troodon",
]
"""The built-in training names (dinosaur genera) :func:`check_model` trains on."""
KEYS = ("Wax", "Waa", "Wya", "b", "by")
GRAD_KEYS = tuple("d" + k for k in KEYS)
CLIP = 5.0  # optimize's clip(gradients, 5)
COURSE_LR = 0.01  # model's optimize(…, learning_rate=0.01)
MAX_CHARS = 50  # sample stops after 50 characters


def _t(a: Any, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _course_params(p: Mapping[str, Any]) -> dict[str, Any]:
    """The course's ``b`` under :class:`~torch_ref.rnn.CourseConverter`'s name ``ba``."""
    return {"Wax": p["Wax"], "Waa": p["Waa"], "ba": p["b"], "Wya": p["Wya"], "by": p["by"]}


def params(rng: np.random.Generator, n_a: int, scale: float = 0.6) -> dict[str, np.ndarray]:
    n = len(VOCAB)
    return {
        "Wax": rng.normal(0.0, scale, (n_a, n)),
        "Waa": rng.normal(0.0, scale, (n_a, n_a)),
        "Wya": rng.normal(0.0, scale, (n, n_a)),
        "b": rng.normal(0.0, 0.3, (n_a, 1)),
        "by": rng.normal(0.0, 0.3, (n, 1)),
    }


def example(name: str) -> tuple[list, list]:
    """``X = [None] + indices``, ``Y = X[1:] + [newline]`` (the course's)."""
    X = [None] + [CHAR_TO_IX[c] for c in name]
    return X, X[1:] + [NEWLINE]


# --- the torch reference -----------------------------------------------------------------------------
def step(
    p: Mapping[str, np.ndarray], X: list, Y: list, a_prev: np.ndarray, lr: float, max_value: float = CLIP
) -> dict[str, Any]:
    """One course iteration by torch: the summed cross-entropy of the name from ``a_prev``, its
    gradients by autograd (``grads``), clipped by ``clip_grad_value_`` (``clipped``), one SGD step
    (``params``), and the last hidden state ``a_last (n_a, 1)``."""
    n_a = np.shape(p["Waa"])[0]
    model = T.SequenceModel(len(VOCAB), n_a, len(VOCAB), "rnn", device="meta")
    pt = {k: _t(p[k], True) for k in KEYS}
    sd = T.course_to_torch(_course_params(pt), "rnn")
    x = torch.zeros(len(X), 1, len(VOCAB), dtype=torch.float64)  # (T, m = 1, n_x); X[0] = None: zeros
    for t, ix in enumerate(X):
        if ix is not None:
            x[t, 0, ix] = 1.0
    with parity_mode():
        out, h = functional_call(
            model.rnn,
            {k.removeprefix("rnn."): v for k, v in sd.items() if k.startswith("rnn.")},
            (x, _t(np.asarray(a_prev).T[None])),
        )
        z = functional_call(model.head, {"weight": sd["head.weight"], "bias": sd["head.bias"]}, (out[:, 0],))
        loss = F.cross_entropy(z, torch.tensor(Y), reduction="sum")
        grads = torch.autograd.grad(loss, list(pt.values()))
        for t_, g in zip(pt.values(), grads):
            t_.grad = g.clone()
        torch.nn.utils.clip_grad_value_(list(pt.values()), max_value)
        make_optimizer(list(pt.values()), lr).step()
    return {
        "loss": loss.item(),
        "grads": {"d" + k: to_numpy(g) for k, g in zip(KEYS, grads)},
        "clipped": {"d" + k: to_numpy(t_.grad) for k, t_ in pt.items()},
        "params": {k: to_numpy(t_.detach()) for k, t_ in pt.items()},
        "a_last": to_numpy(h[0].detach()).T,
    }


def clipped(grads: Mapping[str, np.ndarray], max_value: float) -> dict[str, np.ndarray]:
    """``torch.nn.utils.clip_grad_value_`` on each gradient."""
    ts = {k: _t(v, True) for k, v in grads.items()}
    for t_, v in zip(ts.values(), grads.values()):
        t_.grad = _t(v)
    torch.nn.utils.clip_grad_value_(list(ts.values()), max_value)
    return {k: to_numpy(t_.grad) for k, t_ in ts.items()}


def course_uniforms(seed: int) -> np.ndarray:
    """The uniform the course's ``np.random.choice`` draws at step ``k`` after
    ``np.random.seed(counter + seed)`` (both stepped by one: the seed ``seed + 2k``)."""
    return np.array([np.random.RandomState(seed + 2 * k).random_sample() for k in range(MAX_CHARS)])


def sampled(p: Mapping[str, np.ndarray], seed: int, uniforms: np.ndarray | None = None) -> list[int]:
    """The course's ``sample`` by :meth:`SequenceModel.sample` on :func:`course_uniforms` (or the
    ``uniforms`` given, to name a slip); the zero first input is an extra input symbol whose
    ``Wax`` column is 0. Cut after ``"\\n"``, or 50 characters and ``"\\n"``."""
    uniforms = course_uniforms(seed) if uniforms is None else uniforms
    n_a = np.shape(p["Waa"])[0]
    course = _course_params(p)
    course["Wax"] = np.concatenate([p["Wax"], np.zeros((n_a, 1))], axis=1)  # the zero input: symbol n_x
    with parity_mode():
        model = T.SequenceModel.from_scratch(
            {k: np.asarray(v, dtype=np.float64) for k, v in course.items()}, "rnn", dtype=torch.float64
        )
        symbols = [int(s) for s in model.sample(len(VOCAB), torch.tensor(uniforms, dtype=torch.float64))]
    if NEWLINE in symbols:
        return symbols[: symbols.index(NEWLINE) + 1]
    return symbols + [NEWLINE]


# --- versions -------------------------------------------------------------------------------------------


def _params(fn: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def signals(functions: Mapping[str, Callable[..., Any]]) -> list[tuple[frozenset[str], str]]:
    """The contracts that tell the version (``catalogue.course_version``'s signals)."""
    out = []
    if "model" in functions:
        ps = _params(functions["model"])
        if "verbose" in ps or ps[:1] == ["data_x"]:
            out.append((frozenset({"2021"}), "model(data_x, …, verbose)"))
        elif ps[:1] == ["data"]:
            out.append((frozenset({"2018"}), "model(data, …)"))
    if "clip" in functions and "deepcopy" in names_used(
        getattr(functions["clip"], "__code__", None) or compile("", "", "exec")
    ):
        out.append((frozenset({"2021"}), "clip copies its input (copy.deepcopy)"))
    return out


def version(learner: Learner) -> str | None:
    """``"2018"``, ``"2021"`` or ``None`` (nothing tells) for the learner's file."""
    found = {v for keys, _ in signals(learner.functions) for v in keys}
    return next(iter(found)) if len(found) == 1 else None


# --- clip ---------------------------------------------------------------------------------------------
CLIP_MAX = 7.5  # neither the course's 5 nor its test's 10: a hard-coded bound shows


def check_clip(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("charlm", "clip"))
    shapes = {"dWax": (5, 3), "dWaa": (5, 5), "dWya": (2, 5), "db": (5, 1), "dby": (2, 1)}
    given = {k: rng.normal(0.0, 10.0, s) for k, s in shapes.items()}
    mine = {k: v.copy() for k, v in given.items()}
    out = learner.call_course("clip", ["gradients", "maxValue"], [mine, CLIP_MAX], shared=True)
    if out is None:
        raise ContractError(not_implemented("clip", "the clipped gradients dict"))
    actual = {k: array(entry(out, k, "the returned gradients"), f"gradients[{k!r}]") for k in shapes}
    ref = clipped(given, CLIP_MAX)
    result.add("clipped", "forward", records(actual, ref, "forward"))
    name_slip(
        result,
        actual,
        [
            (
                "nothing is clipped: np.clip(gradient, …) without out= returns a new array that the loop "
                "discards; the course writes it back, np.clip(gradient, -maxValue, maxValue, out=gradient)",
                lambda: given,
            ),
            *[
                (
                    f"clipped to ±{v:g}, not ±maxValue (= {CLIP_MAX:g}): use the argument",
                    lambda v=v: clipped(given, v),
                )
                for v in (5.0, 10.0)
            ],
            (
                "clipped to [0, maxValue]: a_min is -maxValue",
                lambda: {k: np.clip(v, 0, CLIP_MAX) for k, v in given.items()},
            ),
        ],
        "forward",
    )
    untouched = all(np.array_equal(mine[k], given[k]) for k in shapes)
    in_place = all(isinstance(mine[k], np.ndarray) and matches(mine[k], ref[k], "forward") for k in shapes)
    which = version(learner)
    if untouched and which != "2021" and result.passed:
        result.problems.append(
            "clip leaves the gradients it was given unclipped (it clips copies): the course's clip "
            "(2018–2020) clips them in place, np.clip(gradient, -maxValue, maxValue, out=gradient); only "
            "from 2021 does it start with gradients = copy.deepcopy(gradients)"
        )
    elif which == "2021" and not untouched:
        result.notes.append(
            "it clips the arrays it was given in place; the 2021 template copies them first "
            "(copy.deepcopy), which its tests do not require"
        )
    elif in_place:
        result.notes.append("it clips the arrays it was given in place, as the course's clip does")


# --- sample ---------------------------------------------------------------------------------------------
SAMPLE_SEEDS = (0, 5, 12)


def _indices(out: Any) -> np.ndarray:
    if out is None:
        raise ContractError(not_implemented("sample", "indices, a list of character indices"))
    a = array(out, "the returned indices")
    if a.ndim != 1 or a.dtype.kind not in "iu" and not np.all(a == np.round(a)):
        raise ContractError(f"sample returned {kind(out)}; the course returns indices, a list of ints")
    return a.astype(np.int64)


def check_sample(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("charlm", "sample"))
    p = params(rng, 11, scale=1.0)
    got: dict[str, np.ndarray] = {}
    for seed in SAMPLE_SEEDS:
        mine = _indices(learner.call("sample", p, CHAR_TO_IX, seed))  # positional: Learner.call has a seed=
        key = f"indices (seed={seed})"
        got[key] = mine
        rec = compare(key, mine, np.array(sampled(p, seed)), tol("forward"))
        result.add(f"seed {seed}", "forward", [rec])
    if result.passed:
        return
    # the same seed argument with NumPy's global generator in two other states
    one, two = (_indices(learner.call("sample", p, CHAR_TO_IX, SAMPLE_SEEDS[0], seed=s)) for s in (1, 2))
    if not np.array_equal(one, two):
        result.slip = (
            "the same seed gives different names: it does not seed NumPy's generator; the course "
            "calls np.random.seed(counter + seed) before each np.random.choice"
        )
        return

    def seeding(uniforms: Callable[[int], np.ndarray]) -> Callable[[], dict[str, np.ndarray]]:
        return lambda: {f"indices (seed={s})": np.array(sampled(p, s, uniforms(s))) for s in SAMPLE_SEEDS}

    name_slip(
        result,
        got,
        [
            (
                "seeded with np.random.seed(counter) or (seed) alone: the course seeds "
                "np.random.seed(counter + "
                "seed) and steps seed += 1 as well, so the seeds run seed, seed + 2, seed + 4, …",
                seeding(
                    lambda s: np.array(
                        [np.random.RandomState(s + k).random_sample() for k in range(MAX_CHARS)]
                    )
                ),
            ),
            (
                "seeded once: the course seeds np.random.seed(counter + seed) before every draw (and "
                "seed += 1)",
                seeding(lambda s: np.random.RandomState(s).random_sample(MAX_CHARS)),
            ),
        ],
        "forward",
    )


# --- optimize -------------------------------------------------------------------------------------------
OPT_LR = 0.07  # not the default 0.01: a rate that is not passed on shows


def check_optimize(learner: Learner, result: FunctionResult) -> None:
    rng = np.random.default_rng(seed_for("charlm", "optimize"))
    p = params(rng, 6, scale=1.0)
    a_prev = rng.normal(0.0, 0.5, (6, 1))
    X, Y = example("velociraptor")
    mine = {k: v.copy() for k, v in p.items()}
    out = learner.call_course(
        "optimize",
        ["X", "Y", "a_prev", "parameters", "learning_rate"],
        [list(X), list(Y), a_prev.copy(), mine, OPT_LR],
        shared=True,
    )
    loss, grads, a_last = unpack(out, ("loss", "gradients", "a[len(X)-1]"), "optimize")
    ref = step(p, X, Y, a_prev, OPT_LR)
    actual = {"loss": number(loss, "the returned loss", result)}
    actual.update(
        {k: array(entry(grads, k, "the returned gradients"), f"gradients[{k!r}]") for k in GRAD_KEYS}
    )
    actual["a[len(X)-1]"] = array(a_last, "the returned a[len(X)-1]")
    actual.update(
        {f"parameters[{k!r}]": array(entry(mine, k, "parameters"), f"parameters[{k!r}]") for k in KEYS}
    )
    expected = {
        "loss": ref["loss"],
        **ref["clipped"],
        "a[len(X)-1]": ref["a_last"],
        **{f"parameters[{k!r}]": v for k, v in ref["params"].items()},
    }
    result.add("step", "gradient", records(actual, expected, "gradient"))
    if not any(np.any(np.abs(g) > CLIP) for g in ref["grads"].values()):  # the case must exercise clip
        result.notes.append("no gradient exceeded the clip bound in this case")
    unclipped = step(p, X, Y, a_prev, OPT_LR, max_value=np.inf)
    slow = step(p, X, Y, a_prev, COURSE_LR)
    name_slip(
        result,
        actual,
        [
            (
                "the gradients are not clipped: the course calls gradients = clip(gradients, 5) "
                "before the update",
                lambda: {
                    **unclipped["grads"],
                    **{f"parameters[{k!r}]": v for k, v in unclipped["params"].items()},
                },
            ),
            (
                f"the update uses learning_rate 0.01, not the argument ({OPT_LR:g}): pass "
                "learning_rate on to "
                "update_parameters",
                lambda: {f"parameters[{k!r}]": v for k, v in slow["params"].items()},
            ),
            (
                "the parameters are not updated: update_parameters(parameters, gradients, "
                "learning_rate) is missing",
                lambda: {f"parameters[{k!r}]": v for k, v in p.items()},
            ),
        ],
        "gradient",
    )


# --- model ----------------------------------------------------------------------------------------------
MODEL_N_A = 8
ITERATIONS = 2 * len(NAMES) + 3  # every name twice: the hidden state carries over from name to name


def shuffled(names: Sequence[str]) -> list[str]:
    """The course's ``np.random.seed(0); np.random.shuffle(examples)``."""
    examples = list(names)
    np.random.RandomState(0).shuffle(examples)
    return examples


def train(start: Mapping[str, np.ndarray], T_: int) -> list[dict[str, np.ndarray]]:
    """The parameters before every iteration and after the last, by torch (:func:`step`)."""
    examples = shuffled(NAMES)
    p, a_prev, out = dict(start), np.zeros((np.shape(start["Waa"])[0], 1)), [dict(start)]
    for j in range(T_):
        X, Y = example(examples[j % len(examples)])
        res = step(p, X, Y, a_prev, COURSE_LR)
        p, a_prev = res["params"], res["a_last"]
        out.append(p)
    return out


@contextlib.contextmanager
def _dinos_folder() -> Iterator[None]:
    """Run in a temporary folder holding ``dinos.txt`` of :data:`NAMES` (2018's model reads it)."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="dlparity-dinos-") as folder:
        Path(folder, "dinos.txt").write_text("\n".join(n.capitalize() for n in NAMES) + "\n")
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(here)


def _model_params(out: Any) -> Mapping[str, Any]:
    if out is None:
        raise ContractError(
            not_implemented("model", "parameters (2018–2020) or (parameters, last_dino_name)")
        )
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Mapping):
        return out[0]
    if isinstance(out, Mapping):
        return out
    raise ContractError(
        f"model returned {kind(out)}; the course returns parameters (2018–2020) or "
        "(parameters, last_dino_name) (2021 on)"
    )


def check_model(learner: Learner, result: FunctionResult) -> None:
    ps = _params(learner.functions["model"])
    first = ps[0] if ps else "data"
    data: Any = list(NAMES) if first == "data_x" or "verbose" in ps else "\n".join(NAMES)
    result.notes.append(
        f"trained on {len(NAMES)} built-in names for {ITERATIONS} iterations, "
        f"n_a={MODEL_N_A}, "
        f"learning_rate={COURSE_LR:g} (optimize's), clip at ±{CLIP:g}"
    )
    cache: dict[int, dict[str, np.ndarray]] = {}

    def after(t: int) -> dict[str, np.ndarray]:
        if t not in cache:
            with _dinos_folder():
                out = learner.call("model", data, IX_TO_CHAR, CHAR_TO_IX, t, MODEL_N_A, 1)
            got = _model_params(out)
            cache[t] = {
                k: array(entry(got, k, "the returned parameters"), f"parameters[{k!r}]") for k in KEYS
            }
        return cache[t]

    start = after(0)
    shapes = {
        "Wax": (MODEL_N_A, len(VOCAB)),
        "Waa": (MODEL_N_A, MODEL_N_A),
        "Wya": (len(VOCAB), MODEL_N_A),
        "b": (MODEL_N_A, 1),
        "by": (len(VOCAB), 1),
    }
    bad = [
        f"{k} starts with shape {shape_str(start[k].shape)}, expected {shape_str(s)}"
        for k, s in shapes.items()
        if start[k].shape != s
    ]
    if bad:
        result.problems.append("; ".join(bad) + f" — model must size the hidden layer by its n_a={MODEL_N_A}")
        return
    ref = train(start, ITERATIONS)

    def differing(t: int) -> list[str]:
        return [k for k in KEYS if not compare(k, after(t)[k], ref[t][k], tol("trajectory", t - 1)).passed]

    final = [
        compare(
            k,
            after(ITERATIONS)[k],
            ref[ITERATIONS][k],
            tol("trajectory", ITERATIONS - 1),
            step=ITERATIONS - 1,
        )
        for k in KEYS
    ]
    diagnosis = None
    if not all(r.passed for r in final):
        lo, hi = 0, ITERATIONS
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if differing(mid) else (mid, hi)
        names = differing(hi) or [r.name for r in final if not r.passed]
        j = hi - 1
        diagnosis = (
            f"first diverges at iteration {j} (of {ITERATIONS}, the name "
            f"{shuffled(NAMES)[j % len(NAMES)]!r}) in {', '.join(names)}"
            + (
                "; the first iteration's update already differs: check optimize, clip and the learning rate"
                if j == 0
                else "; earlier iterations agree: is a_prev carried from one name to the next "
                "(a_prev = optimize(…)[2]) and every name visited in the course's shuffled order "
                "(examples[j % len(examples)])?"
            )
        )
    result.add(
        "trajectory",
        "trajectory",
        final,
        diagnosis=diagnosis,
        extra={"learning_rate": COURSE_LR, "iterations": ITERATIONS},
    )
