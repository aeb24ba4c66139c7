"""Every torch_ref module as production code: device/dtype arguments, extra_repr, state_dict
round trips with scratch parameters, and ``torch.export`` / ``torch.compile`` equal to eager."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parity_tests.compare import assert_parity, compare, group_result
from parity_tests.tolerances import tolerance
from torch_ref import deep, dense, logreg, regression, shallow
from torch_ref.layout import module_spec, params_to_state_dict, scratch_params, to_numpy

# (id, factory(device, dtype) -> module, n_x, the torch_ref module that defines it)
MODULES = [
    ("Dense", lambda **kw: dense.Dense(3, 4, **kw), 3, dense),
    ("LogisticRegression", lambda **kw: logreg.LogisticRegression(3, **kw), 3, logreg),
    ("ShallowNetwork", lambda **kw: shallow.ShallowNetwork(3, 4, 1, "tanh", **kw), 3, shallow),
    ("DeepNetwork-sigmoid", lambda **kw: deep.DeepNetwork([3, 5, 4, 1], "relu", "sigmoid", **kw), 3, deep),
    ("DeepNetwork-softmax", lambda **kw: deep.DeepNetwork([3, 5, 4], "tanh", "softmax", **kw), 3, deep),
    ("LinearRegression", lambda **kw: regression.LinearRegression(3, 2, **kw), 3, regression),
    ("MLPRegressor", lambda **kw: regression.MLPRegressor([3, 6, 2], "relu", **kw), 3, regression),
    (
        "DeepNetwork-linear",
        lambda **kw: deep.DeepNetwork([3, 5, 2], "tanh", "linear", "lecun", **kw),
        3,
        deep,
    ),
]
IDS = [m[0] for m in MODULES]


def _eager_and(module: torch.nn.Module, x: torch.Tensor, fn) -> tuple[np.ndarray, np.ndarray]:
    module.eval()
    with torch.no_grad():
        return to_numpy(module(x)), to_numpy(fn(module)(x))


@pytest.mark.parametrize("name, make, n_x, source", MODULES, ids=IDS)
def test_device_dtype_and_repr(name, make, n_x, source, device: str, dtype: str) -> None:
    module = make(device=device, dtype=getattr(torch, dtype))
    for p in module.parameters():
        assert p.device.type == device and p.dtype == getattr(torch, dtype)
    assert module(torch.zeros(2, n_x, device=device, dtype=getattr(torch, dtype))).device.type == device
    assert type(module).__name__ in repr(module)


@pytest.mark.parametrize("name, make, n_x, source", MODULES, ids=IDS)
def test_state_dict_round_trip_through_scratch(name, make, n_x, source, device: str) -> None:
    module = make(device=device, dtype=torch.float64)
    params = scratch_params(module)  # torch -> scratch, through the module's own spec
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in params.values())
    clone = make(device=device, dtype=torch.float64)
    clone.load_state_dict(params_to_state_dict(params, module_spec(clone)))  # scratch -> torch
    x = torch.randn(5, n_x, dtype=torch.float64, device=device)
    assert torch.equal(module(x), clone(x))


@pytest.mark.parametrize("name, make, n_x, source", MODULES, ids=IDS)
def test_export_matches_eager(name, make, n_x, source, device: str, dtype: str) -> None:
    module = make(device=device, dtype=getattr(torch, dtype))
    x = torch.randn(7, n_x, dtype=getattr(torch, dtype), device=device)
    eager, exported = _eager_and(module, x, lambda m: torch.export.export(m, (x,)).module())
    assert_parity(
        group_result(
            name,
            "export",
            "forward",
            device,
            dtype,
            [compare("export", exported, eager, tolerance(dtype, "forward"))],
        )
    )


@pytest.mark.parametrize("name, make, n_x, source", MODULES, ids=IDS)
def test_compile_matches_eager(name, make, n_x, source, device: str) -> None:
    module = make(device=device, dtype=torch.float32)
    x = torch.randn(7, n_x, dtype=torch.float32, device=device)
    eager, compiled = _eager_and(module, x, torch.compile)
    assert_parity(
        group_result(
            name,
            "compile",
            "forward",
            device,
            "float32",
            [compare("compile", compiled, eager, tolerance("float32", "forward"))],
        )
    )


def test_binary_predictions_have_one_shape_across_modules() -> None:
    """Sigmoid-output modules all predict ``(m, n_y)`` labels; softmax predicts ``(m,)``."""
    x = torch.randn(6, 3, dtype=torch.float64)
    binary = [
        logreg.LogisticRegression(3, dtype=torch.float64),
        shallow.ShallowNetwork(3, 4, 2, "tanh", dtype=torch.float64),
        deep.DeepNetwork([3, 5, 1], "relu", "sigmoid", dtype=torch.float64),
    ]
    assert [tuple(m.predict(x).shape) for m in binary] == [(6, 1), (6, 2), (6, 1)]
    assert tuple(deep.DeepNetwork([3, 5, 4], "relu", "softmax", dtype=torch.float64).predict(x).shape) == (6,)
