"""Parity checks of ``deep``: the L-layer network with caches vs :class:`DeepNetwork`.

Forward outputs and all ``2L`` parameter gradients for every hidden activation with a sigmoid,
a softmax and a linear output (regression's squared error); every layer's backward from a
random upstream ``dZ[L]`` (including the input gradient ``dA[0]``); central differences; and
training trajectories for a grid of hyperparameters (learning rate × hidden sizes × activation
× initializer) built from one :class:`scratch.deep.Config` that both sides accept, plus the
digits data, and a linear-output (regression) network on the reference and the buffered path.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any

import numpy as np

from parity_tests import metrics
from parity_tests.concepts import _networks as networks
from parity_tests.datasets import digits
from parity_tests.registry import (
    Model,
    register_finite_differences,
    register_gradient,
    register_model,
    register_served,
    register_trajectory,
)
from scratch import deep as S
from scratch._deep_fast import TrainingStep
from scratch.activations import ACTIVATIONS
from scratch.losses import one_hot
from torch_ref import deep as T
from torch_ref.layout import COLUMNS

M = 7
DIMS = {"sigmoid": (3, 5, 4, 1), "softmax": (3, 5, 4, 2), "linear": (3, 5, 4, 2)}  # non-square W[l]
SERVED = {"relu-softmax": ("onnx", "safetensors"), "sigmoid-sigmoid": (), "tanh-linear": ()}
"""The declared networks also served (ONNX Runtime, safetensors), with the formats whose check
runs in the default report (``register_served``'s ``quick``)."""


def make_inputs(output: str):
    dims = DIMS[output]

    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        kw = {}
        for layer in range(1, len(dims)):
            kw[f"W{layer}"] = rng.standard_normal((dims[layer], dims[layer - 1]))
            kw[f"b{layer}"] = rng.standard_normal((dims[layer], 1))
        kw["X"] = rng.standard_normal((dims[0], M))
        if output == "sigmoid":
            kw["Y"] = (rng.random((1, M)) < 0.5).astype(float)
        elif output == "linear":
            kw["Y"] = rng.standard_normal((dims[-1], M))
        else:
            kw["Y"] = one_hot(rng.integers(0, dims[-1], M), dims[-1])
        return kw

    return inputs


def _params(kw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in kw.items() if k[0] in "Wb"}


def model(dims: tuple[int, ...], activation: str, out: str) -> Model:
    """The L-layer network as a :class:`Model`: scratch's caches-and-backprop against
    :class:`DeepNetwork` and its own ``loss`` (BCE from logits, cross-entropy, or ½ squared error);
    declared in :func:`parity_tests.concepts._networks.deep`, which the course checker reads too."""
    return networks.deep(dims, activation, out)


def upstream_ZL(activation: str, out: str, **kw: np.ndarray) -> np.ndarray:
    return S.L_model_forward(kw["X"], _params(kw), activation, out)[1][-1].Z


def upstream_backward(dZL: np.ndarray, activation: str, out: str, **kw: np.ndarray) -> dict[str, np.ndarray]:
    """The notes' backward from a random upstream ``dZ[L]``, down to the input gradient ``dA[0]``."""
    _, caches = S.L_model_forward(kw["X"], _params(kw), activation, out)
    grads = S.backward_from_output(dZL, caches)
    return {"dX": grads["dA0"], **grads}


for _out, _dims in DIMS.items():
    _L = len(_dims) - 1
    _names = [f"{p}{layer}" for layer in range(1, _L + 1) for p in "Wb"]
    _per_example = {n: 1 / M for n in _names}
    for _act in ACTIVATIONS:
        _model = model(_dims, _act, _out)
        register_model("deep", f"{_act}-{_out}", _model, make_inputs(_out), half=("forward", "gradient"))
        if f"{_act}-{_out}" in SERVED:
            register_served(
                "deep", f"{_act}-{_out}", _model, make_inputs(_out), quick=SERVED[f"{_act}-{_out}"]
            )
        if _out != "softmax":
            continue
        _backward = partial(upstream_backward, activation=_act, out=_out)
        register_gradient(
            "deep",
            f"{_act}-upstream",
            _backward,
            _model.torch_logits,
            make_inputs(_out),
            wrt=["X", *_names],
            layouts=_model.input_layouts(),
            output_layout=COLUMNS,
            grad_scale=_per_example,
            vjp=True,
            half=True,
        )
        register_finite_differences(
            "deep",
            f"{_act}-upstream",
            partial(upstream_ZL, _act, _out),
            _backward,
            make_inputs(_out),
            wrt=["X", *_names],
            grad_scale=_per_example,
            vjp=True,
        )


# --- trajectories --------------------------------------------------------------------------
def torch_loss(model, X, Y):
    return model.loss(X, Y)


def config_problem(
    config: S.Config, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, fast: bool = False
) -> dict[str, Any]:
    """Both sides built from ``config``: its network, initializer, α, batches and iterations.

    ``Y`` is ``(n[L], m)`` (0/1 or one-hot). ``fast`` uses :class:`scratch._deep_fast.TrainingStep`
    instead of the reference ``L_model_forward``/``L_model_backward``.
    """
    init = S.initialize_parameters_deep(config.layer_dims, rng, config.initializer)
    slices = S.minibatches(X.shape[1], config.batch_size, config.num_iterations)
    batches = [(np.ascontiguousarray(X[:, s]), np.ascontiguousarray(Y[:, s])) for s in slices]
    if fast:
        steps = {}

        def scratch_step(p, Xb, Yb):
            key = Xb.dtype
            if key not in steps:
                steps[key] = TrainingStep(
                    config.layer_dims, Xb.shape[1], key, config.activation, config.output
                )
            cost, grads = steps[key].cost_and_grads(p, Xb, Yb)
            return cost, {k: v.copy() for k, v in grads.items()}
    else:

        def scratch_step(p, Xb, Yb):
            return S.propagate(p, Xb, Yb, config.activation, config.output)

    return {
        "scratch_step": scratch_step,
        "torch_model": T.DeepNetwork.from_config(config),
        "torch_loss": torch_loss,
        "init_params": init,
        "batches": batches,
        "param_spec": T.param_spec(config.L),
        "learning_rate": config.learning_rate,
    }


def grid_problem(config: S.Config, rng: np.random.Generator, fast: bool = False) -> dict[str, Any]:
    """30 examples, batches of 10 (three distinct batches, cycled), a nonlinear target."""
    X = rng.standard_normal((config.layer_dims[0], 30))
    score = X[0] * X[1] + np.sin(2 * X[2])
    if config.output == "sigmoid":
        Y = (score > 0).reshape(1, -1).astype(float)
    else:
        Y = one_hot(np.digitize(score, [-0.5, 0.5]), config.layer_dims[-1])
    problem = {**config_problem(config, X, Y, rng, fast), "plot_group": "hyperparameter-grid"}
    if config.initializer == "zeros" and config.activation != "sigmoid":  # g(0) = 0: A[l] = 0,
        L = len(config.layer_dims) - 1  # so every gradient but db[L] is 0 at every step
        problem["still"] = [k for k in problem["init_params"] if k != f"b{L}"]
    return problem


def regression_problem(
    config: S.Config,
    rng: np.random.Generator,
    fast: bool = False,
) -> dict[str, Any]:
    """A linear output fitting two smooth targets of 30 examples (batches of 10, cycled)."""
    X = rng.standard_normal((config.layer_dims[0], 30))
    Y = np.vstack([np.sin(X[0:1]) + X[1:2] * X[2:3], np.cos(X[1:2])])  # (2, 30)
    return config_problem(config, X, Y, rng, fast)


LINEAR_CONFIG = S.Config(
    layer_dims=(3, 6, 4, 2),
    activation="tanh",
    output="linear",
    initializer="lecun",
    learning_rate=0.1,
    num_iterations=24,
    batch_size=10,
)
"""Regression's MLP as the deep network: tanh hidden layers, ``Ŷ = Z[L]``, LeCun init."""

LEARNING_RATES = (0.05, 0.5)
HIDDEN = {(5,): "sigmoid", (6, 4): "softmax"}  # hidden sizes -> the output used with them
GRID = [
    S.Config(
        layer_dims=(3, *hidden, 1 if out == "sigmoid" else 3),
        activation=act,
        output=out,
        initializer=init,
        learning_rate=lr,
        num_iterations=15,
        batch_size=10,
    )
    for lr, (hidden, out), act, init in itertools.product(
        LEARNING_RATES, HIDDEN.items(), ACTIVATIONS, ("random", "zeros", "xavier", "he")
    )
]
"""2 learning rates × 2 hidden-size lists × 4 activations × 4 initializers = 64 settings, 15 steps
each (5 passes over 3 mini-batches): the grid proves parity across hyperparameters; long runs
are the digits trajectory and ``test_deep.py``'s (the report stays under a minute)."""


def grid_case(c: S.Config) -> str:
    hidden = "x".join(map(str, c.layer_dims[1:-1]))
    return f"lr{c.learning_rate}-h{hidden}-{c.activation}-{c.initializer}"


for _config in GRID:
    register_trajectory("deep", grid_case(_config), partial(grid_problem, _config))
register_trajectory(
    "deep", "fast-step-" + grid_case(GRID[-1]), lambda rng: grid_problem(GRID[-1], rng, fast=True)
)
register_trajectory(
    "deep", "linear-" + grid_case(LINEAR_CONFIG), lambda rng: regression_problem(LINEAR_CONFIG, rng)
)
register_trajectory(
    "deep",
    "fast-step-linear-" + grid_case(LINEAR_CONFIG),
    lambda rng: regression_problem(LINEAR_CONFIG, rng, fast=True),
)


DIGITS_CONFIG = S.Config(
    layer_dims=(64, 32, 10),
    activation="relu",
    output="softmax",
    initializer="he",
    learning_rate=0.5,
    num_iterations=200,
    batch_size=256,
)
"""The registered digits run: 200 mini-batch steps of 256 (7 per epoch, ~28 epochs; ~0.5 s)."""


def digits_problem(config: S.Config, rng: np.random.Generator) -> dict[str, Any]:
    X, labels = digits()
    problem = config_problem(config, X, one_hot(labels, 10), rng, fast=True)
    problem["metrics"] = metrics.accuracy(
        lambda p, X: S.predict(p, X, config.activation, config.output), X, labels
    )
    return problem


register_trajectory("deep", "digits-relu-softmax", lambda rng: digits_problem(DIGITS_CONFIG, rng))
