"""Parity checks of ``compgraph``: every engine operation vs ``torch.autograd`` (values and
gradients under a random upstream gradient) and vs float64 finite differences; models written
on the engine (an MLP, logistic regression) vs their torch modules, gradients and trajectories.

The operations are one table (:data:`OP_CASES`); one loop registers three checks per row.
Shapes are distinct and non-square, binary operations broadcast in several ways, and inputs of
``log``, ``div`` and fractional/negative powers are drawn in ``[0.5, 2]`` (away from 0, so
central differences stay accurate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from torch.nn import functional as F

from parity_tests.registry import (
    Model,
    register_finite_differences,
    register_forward,
    register_gradient,
    register_model,
    register_served,
)
from scratch import compgraph as S
from torch_ref import compgraph as T
from torch_ref import deep as TD
from torch_ref import logreg as TL


@dataclass(frozen=True)
class OpCase:
    """One operation applied to inputs ``a`` (and ``b``) of the given shapes."""

    case: str
    op: str
    shapes: tuple[tuple[int, ...], ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    positive: bool = False  # draw inputs in [0.5, 2] instead of N(0, 1)


OP_CASES = [
    OpCase("add", "add", ((3, 4), (3, 4))),
    OpCase("add-broadcast", "add", ((2, 3, 4), (3, 1))),
    OpCase("add-scalar", "add", ((3, 4), ())),
    OpCase("sub-row", "sub", ((3, 4), (4,))),
    OpCase("sub-outer", "sub", ((3, 1), (1, 4))),
    OpCase("mul", "mul", ((3, 4), (3, 4))),
    OpCase("mul-broadcast", "mul", ((2, 1, 4), (3, 1))),
    OpCase("div", "div", ((3, 4), (3, 1)), positive=True),
    OpCase("div-broadcast", "div", ((4,), (2, 3, 4)), positive=True),
    OpCase("neg", "neg", ((3, 4),)),
    OpCase("pow-3", "pow", ((3, 4),), {"p": 3}),
    OpCase("pow-half", "pow", ((3, 4),), {"p": 0.5}, positive=True),
    OpCase("pow-minus-2", "pow", ((3, 4),), {"p": -2.0}, positive=True),
    OpCase("pow-0", "pow", ((3, 4),), {"p": 0}),
    OpCase("matmul", "matmul", ((3, 4), (4, 5))),
    OpCase("matmul-batched", "matmul", ((2, 3, 4), (4, 5))),
    OpCase("matmul-batch-broadcast", "matmul", ((2, 1, 3, 4), (5, 4, 2))),
    OpCase("exp", "exp", ((3, 4),)),
    OpCase("log", "log", ((3, 4),), positive=True),
    OpCase("sigmoid", "sigmoid", ((3, 4),)),
    OpCase("tanh", "tanh", ((3, 4),)),
    OpCase("relu", "relu", ((3, 4),)),
    OpCase("sum-all", "sum", ((3, 4),)),
    OpCase("sum-axis0", "sum", ((3, 4),), {"axis": 0}),
    OpCase("sum-axis1-keepdims", "sum", ((3, 4),), {"axis": 1, "keepdims": True}),
    OpCase("sum-axes02", "sum", ((2, 3, 4),), {"axis": (0, 2)}),
    OpCase("sum-negative-axis", "sum", ((2, 3, 4),), {"axis": -1}),
    OpCase("mean-all", "mean", ((3, 4),)),
    OpCase("mean-axis1", "mean", ((3, 4),), {"axis": 1}),
    OpCase("mean-axes01-keepdims", "mean", ((2, 3, 4),), {"axis": (0, 1), "keepdims": True}),
    OpCase("reshape", "reshape", ((3, 4),), {"shape": (2, 6)}),
    OpCase("reshape-infer", "reshape", ((2, 3, 4),), {"shape": (4, -1)}),
    OpCase("transpose", "transpose", ((3, 4),)),
    OpCase("transpose-axes", "transpose", ((2, 3, 4),), {"axes": (2, 0, 1)}),
    OpCase("getitem-slices", "getitem", ((4, 5),), {"index": (slice(1, 3), slice(None, None, 2))}),
    OpCase("getitem-int", "getitem", ((3, 4),), {"index": 1}),
    OpCase("getitem-repeated", "getitem", ((4, 5),), {"index": np.array([0, 2, 2, 3, 0])}),
    OpCase("getitem-mask", "getitem", ((4, 5),), {"index": np.array([True, False, True, True])}),
    OpCase("getitem-mixed", "getitem", ((4, 5),), {"index": (np.array([3, 1, 3]), slice(1, 4))}),
]
"""Every engine operation, with broadcasting, axes and index kinds: ``{case: OpCase}``."""

NAMES = ("a", "b")


def make_inputs(case: OpCase):
    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        draw = (lambda s: rng.uniform(0.5, 2.0, s)) if case.positive else rng.standard_normal
        return {n: np.asarray(draw(s)) for n, s in zip(NAMES, case.shapes)}

    return inputs


def engine_forward(case: OpCase):
    def forward(**inputs: np.ndarray) -> np.ndarray:
        return S.OPS[case.op](*(S.Tensor(inputs[n], n) for n in NAMES if n in inputs), **case.kwargs).data

    return forward


def engine_grads(case: OpCase):
    """``(G, **inputs) -> {"da": …, "db": …}``: ``backward(G)`` on the engine (no ``G`` for a
    scalar output), each input's ``.grad``."""

    def grads(*G: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        tensors = {n: S.Tensor(inputs[n], n) for n in NAMES if n in inputs}
        out = S.OPS[case.op](*tensors.values(), **case.kwargs)
        out.backward(*G)
        return {f"d{n}": t.grad for n, t in tensors.items()}

    return grads


def torch_op(case: OpCase):
    def fn(**tensors):
        return T.OPS[case.op](*(tensors[n] for n in NAMES if n in tensors), **case.kwargs)

    return fn


def has_vector_output(case: OpCase) -> bool:
    """Whether the op's output is an array (checked as a vector–Jacobian product with a random
    upstream ``G``) rather than one number (a full ``sum``/``mean``, checked as a cost)."""
    return np.ndim(engine_forward(case)(**make_inputs(case)(np.random.default_rng(0)))) > 0


for _c in OP_CASES:
    _wrt = [n for n, _ in zip(NAMES, _c.shapes)]
    _vjp = has_vector_output(_c)
    register_forward(
        "compgraph",
        _c.case,
        engine_forward(_c),
        torch_op(_c),
        make_inputs(_c),
        half=True,
        constant_in=["a"] if _c.case == "pow-0" else [],
    )  # a⁰ = 1 reads no value of a
    register_gradient(
        "compgraph", _c.case, engine_grads(_c), torch_op(_c), make_inputs(_c), wrt=_wrt, vjp=_vjp, half=True
    )
    register_finite_differences(
        "compgraph", _c.case, engine_forward(_c), engine_grads(_c), make_inputs(_c), wrt=_wrt, vjp=_vjp
    )


# --- a whole expression: leaves reused by several operations, broadcasting throughout ------
def reuse_expression(a, b):
    """``a b + tanh(a a) b − a / (b b + 1) + eᵃ a`` — the same code runs on engine and torch
    tensors; ``a (3, 4)`` feeds five operations, ``b (4,)`` four, through broadcasting."""
    return a * b + (a * a).tanh() * b - a / (b * b + 1.0) + a.exp() * a


def _reuse_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}


def _reuse_engine(**inputs: np.ndarray) -> np.ndarray:
    return reuse_expression(S.Tensor(inputs["a"]), S.Tensor(inputs["b"])).data


def _reuse_engine_grads(G: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    a, b = S.Tensor(inputs["a"]), S.Tensor(inputs["b"])
    reuse_expression(a, b).backward(G)
    return {"da": a.grad, "db": b.grad}


register_forward("compgraph", "reuse-expression", _reuse_engine, reuse_expression, _reuse_inputs, half=True)
register_gradient(
    "compgraph",
    "reuse-expression",
    _reuse_engine_grads,
    reuse_expression,
    _reuse_inputs,
    wrt=["a", "b"],
    vjp=True,
    half=True,
)
register_finite_differences(
    "compgraph",
    "reuse-expression",
    _reuse_engine,
    _reuse_engine_grads,
    _reuse_inputs,
    wrt=["a", "b"],
    vjp=True,
)


# --- models written on the engine -------------------------------------------------------
N_X, N_H, M = 3, 4, 5  # distinct sizes: a missing transpose fails instead of broadcasting
MLP_DIMS = {"mlp-tanh": ([N_X, N_H, 1], "tanh"), "mlp3-relu": ([N_X, N_H, 2, 1], "relu")}


def mlp_inputs(dims: list[int]):
    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = {}
        for k in range(1, len(dims)):
            params[f"W{k}"] = rng.standard_normal((dims[k], dims[k - 1]))
            params[f"b{k}"] = rng.standard_normal((dims[k], 1))
        return {
            **params,
            "X": rng.standard_normal((dims[0], M)),
            "Y": (rng.random((1, M)) < 0.5).astype(float),
        }

    return inputs


def engine_mlp_output(params: dict[str, np.ndarray], X: np.ndarray, activation: str) -> np.ndarray:
    """``A[L]`` of the MLP written on the engine (no hand-written derivative anywhere)."""
    return S.mlp_forward({k: S.Tensor(v, k) for k, v in params.items()}, S.Tensor(X, "X"), activation).data


def engine_logreg_output(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """``σ(wᵀX + b)`` on the engine."""
    return (S.Tensor(params["w"]).T @ S.Tensor(X) + S.Tensor(params["b"])).sigmoid().data


def mlp_model(dims: list[int], activation: str) -> Model:
    """The engine's MLP against its reference, a sigmoid-output :class:`DeepNetwork`."""
    return Model(
        propagate=partial(S.mlp_propagate, activation=activation),
        forward=partial(engine_mlp_output, activation=activation),
        make_module=partial(TD.DeepNetwork, dims, activation, "sigmoid"),
        param_spec=TD.param_spec(len(dims) - 1),
        loss_method="loss",
        output_method="predict_proba",
    )


def logreg_model(n_x: int = N_X) -> Model:
    """Logistic regression on the engine against :class:`LogisticRegression`."""
    return Model(
        propagate=S.logreg_propagate,
        forward=engine_logreg_output,
        make_module=partial(TL.LogisticRegression, n_x),
        param_spec=TL.PARAM_SPEC,
        torch_cost=F.binary_cross_entropy_with_logits,
        output_method="predict_proba",
    )


def logreg_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "w": rng.standard_normal((N_X, 1)),
        "b": rng.standard_normal((1, 1)),
        "X": rng.standard_normal((N_X, M)),
        "Y": (rng.random((1, M)) < 0.5).astype(float),
    }


# --- trajectories: engine gradients + gradient descent vs autograd + torch.optim.SGD ------
def logreg_problem(rng: np.random.Generator) -> dict[str, Any]:
    """60 full-batch steps on 30 examples with a learnable direction, from small random ``w``."""
    X = rng.standard_normal((N_X, 30))
    Y = (rng.standard_normal((1, N_X)) @ X + 0.5 * rng.standard_normal((1, 30)) > 0).astype(float)
    return {
        "init_params": {"w": rng.standard_normal((N_X, 1)) * 0.1, "b": np.zeros((1, 1))},
        "batches": [(X, Y)] * 60,
        "learning_rate": 0.5,
    }


def mlp_problem(rng: np.random.Generator, steps: int = 60, batch: int = 16) -> dict[str, Any]:
    """A 3-4-1 tanh MLP on a different mini-batch each step (XOR-like labels ``x1 · x2 > 0``)."""
    batches = []
    for _ in range(steps):
        X = rng.standard_normal((N_X, batch))
        batches.append((X, (X[0:1] * X[1:2] > 0).astype(float)))
    init = {
        "W1": rng.standard_normal((N_H, N_X)) * 0.5,
        "b1": np.zeros((N_H, 1)),
        "W2": rng.standard_normal((1, N_H)) * 0.5,
        "b2": np.zeros((1, 1)),
    }
    return {"init_params": init, "batches": batches, "learning_rate": 1.0}


for _case, (_dims, _act) in MLP_DIMS.items():
    _trajectories = {"mlp-engine": mlp_problem} if _case == "mlp-tanh" else None
    register_model(
        "compgraph",
        _case,
        mlp_model(_dims, _act),
        mlp_inputs(_dims),
        half=("forward", "gradient"),
        trajectories=_trajectories,
    )
register_model(
    "compgraph",
    "logreg",
    logreg_model(),
    logreg_inputs,
    half=("forward", "gradient"),
    trajectories={"logreg-engine": logreg_problem},
)
register_served(
    "compgraph", "engine-mlp-tanh", mlp_model(*MLP_DIMS["mlp-tanh"]), mlp_inputs(MLP_DIMS["mlp-tanh"][0])
)
