"""The torch side of the course checker: every course function's answer computed by torch
(autograd, ``torch.optim.SGD`` and the ``torch_ref`` modules loaded with the learner's
parameters through their ``ParamSpec`` converters). Inputs and outputs are NumPy arrays in the
course layout (examples as columns); everything runs in float64 on the CPU, in parity mode.

Never ``scratch``: a learner is checked against a real framework, not against dlparity's own
NumPy code.

Example:
    >>> import numpy as np
    >>> out = logreg_propagate(np.zeros((2, 1)), 0.0, np.ones((2, 3)), np.array([[1.0, 0.0, 1.0]]))
    >>> round(out["cost"], 6), round(out["db"], 6)
    (0.693147, -0.166667)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from parity_tests.devices import parity_mode
from torch_ref.deep import DeepNetwork
from torch_ref.gd import make_optimizer
from torch_ref.layout import (
    COLUMNS,
    ParamSpec,
    module_spec,
    scratch_params,
    state_dict_to_params,
    to_numpy,
    to_tensor,
)
from torch_ref.logreg import LogisticRegression
from torch_ref.shallow import ShallowNetwork

Params = Mapping[str, np.ndarray]
ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}


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


def _b11(b: float | np.ndarray) -> np.ndarray:
    return np.full((1, 1), float(np.asarray(b).reshape(())))


# --- networks --------------------------------------------------------------------------------------
def logreg_net(w: np.ndarray, b: float) -> LogisticRegression:
    return LogisticRegression.from_scratch({"w": np.asarray(w, dtype=np.float64), "b": _b11(b)})


def shallow_net(params: Params, activation: str = "tanh") -> ShallowNetwork:
    return ShallowNetwork.from_scratch({k: np.asarray(params[k], dtype=np.float64)
                                        for k in ("W1", "b1", "W2", "b2")}, activation)


def deep_net(params: Params) -> DeepNetwork:
    """``[Linear -> ReLU](L-1) -> Linear -> σ``, the course's ``L_model_forward``."""
    L = sum(1 for k in params if k.startswith("W"))
    return DeepNetwork.from_scratch({k: np.asarray(params[f"{k}"], dtype=np.float64)
                                     for layer in range(1, L + 1) for k in (f"W{layer}", f"b{layer}")},
                                    "relu", "sigmoid")


def layers(net: torch.nn.Module) -> tuple[list[torch.nn.Linear], list[str]]:
    """The ``nn.Linear`` layers of a torch_ref network and the activation after each."""
    if isinstance(net, LogisticRegression):
        return [net.linear], ["sigmoid"]
    if isinstance(net, ShallowNetwork):
        return [net.layer1, net.layer2], [net.activation_name, "sigmoid"]
    return list(net.layers), [*net.activation_names, "sigmoid"]


def forward(net: torch.nn.Module, X: np.ndarray, grad: bool = False
            ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``{"A0": X, "Z1", "A1", …, "ZL", "AL"}`` as torch ``(m, n)`` tensors, and the logits
    ``z[L]`` (for the stable cross-entropy). With ``grad`` each ``A[l]`` keeps its gradient."""
    a = _cols(X, grad)
    out = {"A0": a}
    linear, names = layers(net)
    z = a
    for layer, (lin, g) in enumerate(zip(linear, names), start=1):
        z = lin(a)
        a = ACTIVATIONS[g](z)
        if grad:
            a.retain_grad()
        out[f"Z{layer}"], out[f"A{layer}"] = z, a
    return out, z


def forward_values(net: torch.nn.Module, X: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`forward` in the course layout: ``Z[l], A[l]`` of shape ``(n[l], m)``."""
    with parity_mode(), torch.no_grad():
        out, _ = forward(net, X)
    return {k: _course(v) for k, v in out.items() if k != "A0"}


def cost_and_grads(net: torch.nn.Module, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray | float]:
    """``J = −1/m Σ (y log a + (1−y) log(1−a))`` (from the logits), ``dW[l], db[l]`` by autograd
    and the course's per-example ``dA[l] = m · ∂J/∂A[l]`` for ``l = 0 … L−1``."""
    with parity_mode():
        out, z = forward(net, X, grad=True)
        J = F.binary_cross_entropy_with_logits(z, _cols(Y))
        J.backward()
    m = np.shape(X)[1]
    res: dict[str, np.ndarray | float] = {"cost": J.item(), **_grads(net, module_spec(net))}
    L = len(layers(net)[0])
    for layer in range(L):
        res[f"dA{layer}"] = m * _course(out[f"A{layer}"].grad)
    return res


def train(net: torch.nn.Module, X: np.ndarray, Y: np.ndarray, learning_rate: float, T: int
          ) -> tuple[list[dict[str, np.ndarray]], list[float]]:
    """``T`` steps of ``torch.optim.SGD`` on the cross-entropy: the parameters before every step
    and after the last (``T + 1`` dicts, course layout) and the cost at every step."""
    y = _cols(Y)
    opt = make_optimizer(net.parameters(), learning_rate)
    params, costs = [scratch_params(net)], []
    with parity_mode():
        for _ in range(T):
            opt.zero_grad(set_to_none=True)
            J = F.binary_cross_entropy_with_logits(forward(net, X)[1], y)
            J.backward()
            opt.step()
            costs.append(J.item())
            params.append(scratch_params(net))
    return params, costs


# --- single functions -------------------------------------------------------------------------------
def logreg_propagate(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray) -> dict:
    """``A = σ(wᵀX + b)``, the cost, ``dw (n_x, 1)`` and ``db`` (a number) by autograd."""
    net = logreg_net(w, b)
    res = cost_and_grads(net, X, Y)
    return {"A": forward_values(net, X)["A1"], "cost": res["cost"], "dw": res["dw"],
            "db": float(np.asarray(res["db"]).reshape(()))}


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
        return to_numpy(ACTIVATIONS[name](_t(Z)))


def activation_backward(dA: np.ndarray, Z: np.ndarray, name: str) -> np.ndarray:
    """``dZ = dA ⊙ g′(Z)`` as autograd's vector–Jacobian product."""
    z = _t(Z, grad=True)
    with parity_mode():
        (dZ,) = torch.autograd.grad(ACTIVATIONS[name](z), z, _t(dA))
    return to_numpy(dZ)


def linear_activation(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, name: str | None,
                      dA: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``Z = W A_prev + b`` (``F.linear``), ``A = g(Z)``; with ``dA`` also the course's
    backward: ``dW = 1/m ∂/∂W``, ``db = 1/m ∂/∂b`` of ``Σ A ⊙ dA`` and ``dA_prev`` (no 1/m)."""
    m = np.shape(A_prev)[1]
    a, w, b_ = _cols(A_prev, True), _t(W, True), _t(np.asarray(b).reshape(-1), True)
    with parity_mode():
        z = F.linear(a, w, b_)
        out = ACTIVATIONS[name](z) if name else z
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


def layer_dims_of(params: Params) -> list[int]:
    L = sum(1 for k in params if k.startswith("W") and k[1:].isdigit())
    return [np.shape(params["W1"])[1], *(np.shape(params[f"W{layer}"])[0] for layer in range(1, L + 1))]


__all__: Sequence[str] = [
    "logreg_net", "shallow_net", "deep_net", "forward_values", "cost_and_grads", "train",
    "logreg_propagate", "predict", "bce_cost", "activation", "activation_backward",
    "linear_activation", "sgd_update", "layer_dims_of",
]
