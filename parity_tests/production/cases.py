"""The served models: one per concept (a few more, marked slow), described once for the ONNX
Runtime and safetensors checks.

Each :class:`Served` names a concept's scratch forward (course layout, ``(n_out, m)``) and the
torch_ref module that holds the same parameters, and which of its methods is served:
``predict_proba`` where the model outputs probabilities (so the served file's output is the
course's ``A[L]``), ``forward`` where it outputs values. Parameters are drawn once, in float64
NumPy, and flow scratch -> torch through the module's ``ParamSpec``; sizes are pairwise distinct
so a missing transpose fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scratch import deep as S_deep
from scratch import logreg as S_logreg
from scratch import regression as S_regression
from scratch import shallow as S_shallow
from scratch.compgraph import Tensor
from scratch.compgraph import mlp_forward as engine_mlp_forward
from scratch.dense import dense_forward
from torch_ref.deep import DeepNetwork
from torch_ref.dense import Dense
from torch_ref.logreg import LogisticRegression
from torch_ref.regression import LinearRegression, MLPRegressor
from torch_ref.shallow import ShallowNetwork

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class Served:
    """A model as it is shipped: scratch forward, torch module, the method served."""

    concept: str
    name: str
    layer_dims: tuple[int, ...]  # [n_x, …, n_out]: parameters W{l} (n[l], n[l-1]), b{l} (n[l], 1)
    scratch_output: Callable[[Params, np.ndarray], np.ndarray]  # (params, X (n_x, m)) -> (n_out, m)
    module_class: type[nn.Module]
    module_args: tuple = ()
    method: str = "forward"
    param_names: str = "layers"  # "layers": W1, b1, …; "single": W, b; "logreg": w (n_x, 1), b
    slow: bool = False

    @property
    def n_x(self) -> int:
        return self.layer_dims[0]

    def make_params(self, rng: np.random.Generator) -> Params:
        """Standard-normal parameters in the course layout (float64), scaled by ``1/√n[l-1]``."""
        dims, params = self.layer_dims, {}
        for layer in range(1, len(dims)):
            n, n_prev = dims[layer], dims[layer - 1]
            params[f"W{layer}"] = rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)
            params[f"b{layer}"] = rng.standard_normal((dims[layer], 1))
        if self.param_names == "single":
            return {"W": params["W1"], "b": params["b1"]}
        if self.param_names == "logreg":
            return {"w": np.ascontiguousarray(params["W1"].T), "b": params["b1"]}
        return params

    def build(self, params: Params, device: str, dtype: torch.dtype) -> nn.Module:
        """The torch_ref module holding ``params`` (through its ``ParamSpec``), in eval mode."""
        module = self.module_class.from_scratch(params, *self.module_args, device=device, dtype=dtype)
        return module.eval()

    def fresh(self, params: Params, device: str, dtype: torch.dtype) -> nn.Module:
        """A newly initialized module of ``params``' sizes (its own init, not ``params``)."""
        sizes = self.module_class.scratch_sizes(params)
        return self.module_class(*sizes, *self.module_args, device=device, dtype=dtype)

    def torch_output(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The served method on a batch-first ``x (m, n_x)``: ``(m, n_out)``."""
        with torch.no_grad():
            return getattr(module, self.method)(x)


def _engine_mlp(activation: str) -> Callable[[Params, np.ndarray], np.ndarray]:
    def forward(params: Params, X: np.ndarray) -> np.ndarray:
        tensors = {k: Tensor(v, k, requires_grad=False) for k, v in params.items()}
        return engine_mlp_forward(tensors, Tensor(X, "X", requires_grad=False), activation).data
    return forward


CASES = (
    Served("dense", "linear", (3, 4), lambda p, X: dense_forward(X, p["W"], p["b"])[0], Dense,
           param_names="single"),
    Served("logreg", "proba", (5, 1), S_logreg.predict_proba, LogisticRegression,
           method="predict_proba", param_names="logreg"),
    Served("shallow", "tanh", (3, 6, 2), lambda p, X: S_shallow.forward_propagation(X, p, "tanh")[0],
           ShallowNetwork, ("tanh",), method="predict_proba"),
    Served("deep", "relu-softmax", (5, 7, 4, 3),
           lambda p, X: S_deep.L_model_forward(X, p, "relu", "softmax")[0], DeepNetwork,
           ("relu", "softmax"), method="predict_proba"),
    Served("regression", "mlp-tanh", (3, 6, 2), lambda p, X: S_regression.mlp_forward(p, X, "tanh")[0],
           MLPRegressor, ("tanh",)),
    Served("compgraph", "engine-mlp-tanh", (4, 6, 5, 1), _engine_mlp("tanh"), DeepNetwork,
           ("tanh", "sigmoid"), method="predict_proba"),
    # more of the same concepts, run with --include-slow (each ONNX export takes ~1-2 s here)
    Served("deep", "sigmoid-sigmoid", (5, 6, 4, 1),
           lambda p, X: S_deep.L_model_forward(X, p, "sigmoid", "sigmoid")[0], DeepNetwork,
           ("sigmoid", "sigmoid"), method="predict_proba", slow=True),
    Served("deep", "tanh-linear", (5, 6, 3),
           lambda p, X: S_deep.L_model_forward(X, p, "tanh", "linear")[0], DeepNetwork,
           ("tanh", "linear"), slow=True),
    Served("regression", "linear", (4, 2), lambda p, X: S_regression.linear_forward(p, X)[0],
           LinearRegression, param_names="single", slow=True),
)
"""Every served model; the first of each concept is in the default report."""


def cases_for(concepts: list[str] | tuple[str, ...] | None = None) -> list[Served]:
    """The cases of ``concepts`` (all when ``None``), in :data:`CASES` order."""
    return [c for c in CASES if concepts is None or c.concept in concepts]


__all__ = ["Served", "CASES", "cases_for"]
