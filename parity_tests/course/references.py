"""The torch side of the course checker: every course function's answer computed by torch
(autograd, ``torch.optim.SGD`` and the ``torch_ref`` modules loaded with the learner's
parameters through their ``ParamSpec`` converters). Inputs and outputs are NumPy arrays in the
course layout (examples as columns); everything runs in float64 on the CPU, in parity mode.

The networks are the concepts' own declarations (:mod:`parity_tests.concepts._networks`, the
:class:`~parity_tests.registry.Model` that the ``logreg``, ``shallow`` and ``deep`` checks are
derived from): each module is built by the declaration's ``make_module``, loaded through its
spec, and run by its declared output method (``predict_proba``) and cost (:func:`cross_entropy`,
the declaration's ``torch_loss``). A layer's ``Z[l]`` and ``A[l−1]`` are read off by forward
hooks, not by a second forward pass written here. Training runs go through the harness's runner
(:func:`parity_tests.trajectory.torch_trajectory`, see
:func:`parity_tests.course.trainers.check_trajectory`) with :func:`cross_entropy` as the loss.

Never ``scratch``: a learner is checked against a real framework, not against dlparity's own
NumPy code (a declaration carries its scratch side too; nothing here calls it).

Example:
    >>> import numpy as np
    >>> out = logreg_propagate(np.zeros((2, 1)), 0.0, np.ones((2, 3)), np.array([[1.0, 0.0, 1.0]]))
    >>> round(out["cost"], 6), round(out["db"], 6)
    (0.693147, -0.166667)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn import functional as F

from parity_tests.concepts import _networks as declared
from parity_tests.devices import parity_mode
from parity_tests.registry import Model
from torch_ref import deep, logreg, shallow
from torch_ref.activations import FUNCTIONS
from torch_ref.gd import make_optimizer
from torch_ref.layout import (
    COLUMNS,
    ParamSpec,
    check_param_arrays,
    layer_dims_of,
    state_dict_to_params,
    to_numpy,
    to_tensor,
)

Params = Mapping[str, np.ndarray]


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return to_tensor(np.asarray(a, dtype=np.float64), "cpu", torch.float64, requires_grad=grad)


def _cols(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    """A course ``(n, m)`` batch as a torch ``(m, n)`` tensor."""
    return _t(COLUMNS.to_torch(np.asarray(a, dtype=np.float64)), grad)


def _course(t: torch.Tensor) -> np.ndarray:
    return COLUMNS.to_course(to_numpy(t))


def _grads(module: torch.nn.Module, spec: ParamSpec) -> dict[str, np.ndarray]:
    """``{"d<name>": gradient}`` in the course layout, converted like the parameters."""
    grads = {k: p.grad for k, p in module.named_parameters()}
    return {"d" + k: v for k, v in state_dict_to_params(grads, spec).items()}


# --- networks: the concepts' declarations, built and loaded through their own spec -------------------
def _float64(params: Params, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The parameters ``names`` lists, as float64 arrays (the course checks run in float64),
    held to ``check_param_arrays`` (floating, finite) before their shapes are read."""
    return check_param_arrays(
        {k: np.asarray(params[k], dtype=np.float64) for k in names}, allow_nonfinite=False
    )


def _built(model: Model, params: Params) -> torch.nn.Module:
    """``model``'s module holding ``params``; it keeps its declaration (``declaration``), whose
    output method and cost :func:`forward_values` and :func:`cross_entropy` run."""
    net = model.build(params)
    net.declaration = model  # a plain attribute: it follows the module through .to() and deepcopy
    return net


def declaration(net: torch.nn.Module) -> Model:
    """The :class:`~parity_tests.registry.Model` a network of this module was built from."""
    model = getattr(net, "declaration", None)
    if not isinstance(model, Model):
        raise TypeError(
            f"{type(net).__name__}: not a declared network of the course checker; "
            "build it with logreg_net, shallow_net or deep_net"
        )
    return model


def logreg_net(params: Params) -> logreg.LogisticRegression:
    """``{"w": (n_x, 1), "b"}`` (``b`` a number or ``(1, 1)``) as logreg's declared
    :class:`LogisticRegression`."""
    b = np.full((1, 1), float(np.asarray(params["b"]).reshape(())))
    p = _float64({**params, "b": b}, ("w", "b"))
    return _built(declared.logreg("vectorized", *logreg.LogisticRegression.scratch_sizes(p)), p)


def shallow_net(params: Params, activation: str = "tanh") -> shallow.ShallowNetwork:
    """``{"W1", "b1", "W2", "b2"}`` as shallow's declared :class:`ShallowNetwork` (hidden
    ``activation``, sigmoid output)."""
    p = _float64(params, ("W1", "b1", "W2", "b2"))
    return _built(declared.shallow(activation, *shallow.ShallowNetwork.scratch_sizes(p)), p)


def deep_net(params: Params) -> deep.DeepNetwork:
    """``[Linear -> ReLU](L-1) -> Linear -> σ``, the course's ``L_model_forward``: deep's declared
    :class:`~torch_ref.deep.DeepNetwork` (relu, sigmoid output)."""
    model = declared.deep(tuple(layer_dims_of(params)), "relu", "sigmoid")
    return _built(model, _float64(params, model.names))


def cross_entropy(net: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The declared cost of a network above (its declaration's ``torch_loss``): for all three the
    course's ``J = −1/m Σ (y log a + (1−y) log(1−a))`` from the logits ``z[L] = net(X)`` (stable
    where ``σ`` saturates); ``X (m, n_x)``, ``Y (m, 1)``."""
    return declaration(net).torch_loss(net, X, Y)


@contextmanager
def _recorded(net: torch.nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """``{"A0": X, "Z1", "A1", …, "ZL"}`` as torch ``(m, n)`` tensors, filled while ``net``
    runs its own forward: ``Z[l]`` is the output of the ``l``-th ``nn.Linear`` called and
    ``A[l−1]`` its input. Under autograd each ``A[l]`` keeps its gradient."""
    out: dict[str, torch.Tensor] = {}

    def record(_: torch.nn.Module, inputs: tuple[torch.Tensor, ...], z: torch.Tensor) -> None:
        layer = sum(k.startswith("Z") for k in out) + 1
        a_prev = inputs[0]
        if a_prev.requires_grad:
            a_prev.retain_grad()
        out[f"A{layer - 1}"], out[f"Z{layer}"] = a_prev, z

    handles = [m.register_forward_hook(record) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    try:
        yield out
    finally:
        for h in handles:
            h.remove()


def forward_values(net: torch.nn.Module, X: np.ndarray) -> dict[str, np.ndarray]:
    """``Z[l], A[l]`` of shape ``(n[l], m)`` for ``l = 1 … L`` (course layout), recorded while
    the module computes ``A[L]`` by its declared output method (``net.predict_proba(X)``)."""
    output = getattr(net, declaration(net).output_method)
    with parity_mode(), torch.no_grad(), _recorded(net) as out:
        AL = output(_cols(X))
    L = sum(k.startswith("Z") for k in out)
    values = {**out, f"A{L}": AL}
    return {k: _course(values[k]) for layer in range(1, L + 1) for k in (f"Z{layer}", f"A{layer}")}


def cost_and_grads(net: torch.nn.Module, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray | float]:
    """:func:`cross_entropy`, ``dW[l], db[l]`` by autograd and the course's per-example
    ``dA[l] = m · ∂J/∂A[l]`` for ``l = 0 … L−1``."""
    with parity_mode(), _recorded(net) as out:
        J = cross_entropy(net, _cols(X, grad=True), _cols(Y))
        J.backward()
    m = np.shape(X)[1]
    res: dict[str, np.ndarray | float] = {"cost": J.item(), **_grads(net, declaration(net).spec())}
    res.update({k.replace("A", "dA"): m * _course(a.grad) for k, a in out.items() if k.startswith("A")})
    return res


# --- single functions -------------------------------------------------------------------------------
def logreg_propagate(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray) -> dict:
    """``A = σ(wᵀX + b)``, the cost, ``dw (n_x, 1)`` and ``db`` (a number) by autograd."""
    net = logreg_net({"w": w, "b": b})
    res = cost_and_grads(net, X, Y)
    return {
        "A": forward_values(net, X)["A1"],
        "cost": res["cost"],
        "dw": res["dw"],
        "db": float(np.asarray(res["db"]).reshape(())),
    }


def predict(net: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    """``1[a > ½]`` as float 0./1., shape ``(n_y, m)`` (``net.predict`` transposed)."""
    with parity_mode(), torch.no_grad():
        return _course(net.predict(_cols(X))).astype(np.float64)


def bce_cost(A: np.ndarray, Y: np.ndarray) -> float:
    """``−1/m Σ (y log a + (1−y) log(1−a))`` with ``F.binary_cross_entropy`` on probabilities."""
    with parity_mode():
        return F.binary_cross_entropy(_t(A), _t(Y)).item()


def activation(Z: np.ndarray, name: str) -> np.ndarray:
    with parity_mode(), torch.no_grad():
        return to_numpy(FUNCTIONS[name](_t(Z)))


def activation_backward(dA: np.ndarray, Z: np.ndarray, name: str) -> np.ndarray:
    """``dZ = dA ⊙ g′(Z)`` as autograd's vector–Jacobian product."""
    z = _t(Z, grad=True)
    with parity_mode():
        (dZ,) = torch.autograd.grad(FUNCTIONS[name](z), z, _t(dA))
    return to_numpy(dZ)


def linear_activation(
    A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, name: str | None, dA: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """``Z = W A_prev + b`` (``F.linear``), ``A = g(Z)``; with ``dA`` also the course's
    backward: ``dW = 1/m ∂/∂W``, ``db = 1/m ∂/∂b`` of ``Σ A ⊙ dA`` and ``dA_prev`` (no 1/m)."""
    m = np.shape(A_prev)[1]
    a, w, b_ = _cols(A_prev, True), _t(W, True), _t(np.asarray(b).reshape(-1), True)
    with parity_mode():
        z = F.linear(a, w, b_)
        out = FUNCTIONS[name](z) if name else z
        res = {"Z": _course(z), "A": _course(out)}
        if dA is not None:
            dA_prev, dW, db = torch.autograd.grad(out, (a, w, b_), _cols(dA))
            res.update(dA_prev=_course(dA_prev), dW=to_numpy(dW) / m, db=to_numpy(db).reshape(-1, 1) / m)
    return res


def sgd_update(params: Params, grads: Params, learning_rate: float) -> dict[str, np.ndarray]:
    """One ``torch.optim.SGD`` step ``p := p − α dp`` on every parameter."""
    ts = {k: _t(v, grad=True) for k, v in params.items()}
    for k, t in ts.items():
        t.grad = _t(grads["d" + k])
    opt = make_optimizer(list(ts.values()), learning_rate)
    with parity_mode():
        opt.step()
    return {k: to_numpy(t) for k, t in ts.items()}


__all__: Sequence[str] = [
    "logreg_net",
    "shallow_net",
    "deep_net",
    "declaration",
    "cross_entropy",
    "forward_values",
    "cost_and_grads",
    "logreg_propagate",
    "predict",
    "bce_cost",
    "activation",
    "activation_backward",
    "linear_activation",
    "sgd_update",
]
