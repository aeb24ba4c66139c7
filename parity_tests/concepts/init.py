"""Parity checks of ``init``: the course's initializers draw the same *distributions* on both sides.

Random streams are never compared (NumPy's and torch's differ by design). Instead, for each
initializer, a ``(300, 200)`` weight (fan-in 200 ≠ fan-out 300, so a swapped fan shows) is
drawn by ``scratch.init`` and by the torch module's ``reset_parameters`` and tested against the
theoretical ``N(0, σ²)``:

- the sample mean against 0 and the sample standard deviation against ``σ`` (moments);
- the Kolmogorov–Smirnov statistic ``D`` of ``W/σ`` against the standard normal CDF, per side;
- the two-sample KS statistic between the scratch and the torch sample.

The one-sample checks are the harness's (:mod:`parity_tests.distribution`, shared with the
course checker); their statistical limits (moments within ``MOMENT_SE`` standard errors, KS at
level ``KS_ALPHA``) are part of the tolerance policy, justified in :mod:`parity_tests.tolerances`.

Seeds are fixed per case, so a verdict is reproducible. A second property check shows the
notes' symmetry point; ``test_init.py`` shows it in more detail.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from parity_tests.compare import CheckResult, Comparison, compare, group_result
from parity_tests.devices import check_device
from parity_tests.distribution import ks_critical, normal_records
from parity_tests.registry import CheckUnavailable, register_property, register_trajectory, seed_for
from parity_tests.tolerances import EXACT, Tolerance, tolerance
from scratch import init as SI
from scratch import shallow as SS
from torch_ref import deep as TD
from torch_ref import shallow as TS
from torch_ref.layout import columns_to_rows, numpy_dtype, to_numpy, to_tensor, torch_dtype


def _stats():
    """``scipy.stats``, imported when the two-sample check runs (SciPy is in the ``test`` and
    ``data`` extras, not a core dependency): without it the check is UNAVAILABLE."""
    try:
        from scipy import stats
    except ImportError:
        raise CheckUnavailable("SciPy is not installed (pip install 'dlparity[data]')") from None
    return stats


SHAPE = (300, 200)  # (n[l], n[l-1]): N = 60 000 draws


def scratch_sample(name: str, dtype: str, seed: int) -> np.ndarray:
    return SI.INITIALIZERS[name](SHAPE, np.random.default_rng(seed), numpy_dtype(dtype))


def torch_sample(name: str, device: str, dtype: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of a one-layer :class:`~torch_ref.deep.DeepNetwork` after ``reset_parameters``."""
    g = torch.Generator(device=device).manual_seed(seed)
    net = TD.DeepNetwork(
        [SHAPE[1], SHAPE[0]],
        output="softmax",
        initializer=name,
        generator=g,
        device=device,
        dtype=torch_dtype(dtype),
    )
    return net.layers[0].weight, net.layers[0].bias


def distribution_records(side: str, W: np.ndarray, sigma: float) -> list[Comparison]:
    """Mean, standard deviation and one-sample KS ``D`` of ``W`` against ``N(0, σ²)``
    (:func:`parity_tests.distribution.normal_records`), named for ``side``."""
    return normal_records(W, sigma, (f"{side} mean", f"{side} std", f"{side} KS D vs N(0, σ²)"))


def distribution_check(name: str):
    def run(device: str, dtype: str) -> CheckResult:
        check_device(device)
        seed = seed_for("init", name)
        Ws = scratch_sample(name, dtype, seed)
        Wt, bt = torch_sample(name, device, dtype, seed)
        Wt = to_numpy(Wt)
        dtype_name = str(torch_dtype(dtype)).replace("torch.", "")
        bias = compare("torch bias", to_numpy(bt), np.zeros(SHAPE[0]), EXACT)
        if name == "zeros":
            records = [
                compare("scratch W", Ws, np.zeros(SHAPE), EXACT),
                compare("torch W", Wt, np.zeros(SHAPE), EXACT),
                bias,
            ]
        else:
            sigma = SI.weight_std(name, SHAPE)
            n = Ws.size
            D2 = _stats().ks_2samp(Ws.ravel().astype(np.float64), Wt.ravel().astype(np.float64)).statistic
            records = [
                *distribution_records("scratch", Ws, sigma),
                *distribution_records("torch", Wt, sigma),
                compare(
                    "two-sample KS D scratch vs torch", D2, 0.0, Tolerance(0.0, ks_critical(n * n / (2 * n)))
                ),
                bias,
            ]
        dtypes_ok = compare("dtypes", float(Ws.dtype == numpy_dtype(dtype)), 1.0, EXACT)
        return group_result(
            "init",
            name,
            "property",
            device,
            dtype_name,
            [*records, dtypes_ok],
            extra={"sigma": SI.weight_std(name, SHAPE), "shape": SHAPE},
        )

    return run


for _name in SI.INITIALIZERS:
    register_property("init", _name, distribution_check(_name))


# --- symmetry: zeros keep every hidden unit identical; random init does not ------------------
def hidden_unit_spread(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray) -> float:
    """Largest difference between any hidden unit's parameters and unit 0's."""
    units = np.concatenate([W1, b1, W2.reshape(-1, 1)], axis=1)  # one row per hidden unit
    return float(np.abs(units - units[:1]).max())


def symmetry_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((3, 40))
    return X, (X[0:1] * X[1:2] > 0).astype(float)  # an XOR-like problem: needs hidden units


def symmetry_check(device: str, dtype: str) -> CheckResult:
    """Train the shallow net (sigmoid hidden units) 50 steps from zeros and from ``randn·0.01``."""
    check_device(device)
    np_dtype = numpy_dtype(dtype)
    dtype_name = str(torch_dtype(dtype)).replace("torch.", "")
    X, Y = (a.astype(np_dtype) for a in symmetry_data(np.random.default_rng(seed_for("init", "sym"))))
    records = []
    for init in ("zeros", "random"):
        p0 = SS.initialize_parameters(3, 5, 1, np.random.default_rng(0), init, np_dtype)
        p, _ = SS.train(p0, X, Y, 50, 2.0, "sigmoid")
        net = TS.ShallowNetwork.from_scratch(p0, "sigmoid", device=device, dtype=torch_dtype(dtype))
        TS.train(
            net,
            to_tensor(columns_to_rows(X), device, dtype),
            to_tensor(columns_to_rows(Y), device, dtype),
            50,
            2.0,
        )
        q = net.scratch_params()
        for side, params in (("scratch", p), ("torch", q)):
            spread = hidden_unit_spread(params["W1"], params["b1"], params["W2"])
            if init == "zeros":  # identical units: equal up to rounding
                records.append(
                    compare(
                        f"{side} zeros: hidden-unit spread", spread, 0.0, tolerance(dtype_name, "forward")
                    )
                )
            else:  # distinct units: the spread is far above rounding
                records.append(
                    Comparison(
                        f"{side} random: hidden-unit spread > 1e-3",
                        (),
                        (),
                        spread,
                        spread,
                        None,
                        spread,
                        1e-3,
                        0.0,
                        0.0,
                        spread > 1e-3,
                    )
                )
        records.append(
            compare(
                f"{init}: W2 scratch vs torch", p["W2"], q["W2"], tolerance(dtype_name, "trajectory", step=49)
            )
        )
    return group_result("init", "zeros-symmetry", "property", device, dtype_name, records)


register_property("init", "zeros-symmetry", symmetry_check)


def torch_loss(model, X, Y):
    return torch.nn.functional.binary_cross_entropy_with_logits(model(X), Y)


def init_trajectory(init: str, rng: np.random.Generator):
    """The shallow net trained from each initializer: same trajectory on both sides."""
    X, Y = symmetry_data(rng)
    return {
        "scratch_step": lambda p, X, Y: SS.propagate(p, X, Y, "sigmoid"),
        "torch_model": TS.ShallowNetwork(3, 5, 1, "sigmoid"),
        "torch_loss": torch_loss,
        "init_params": SS.initialize_parameters(3, 5, 1, rng, init),
        "batches": [(X, Y)] * 50,
        "param_spec": TS.PARAM_SPEC,
        "learning_rate": 2.0,
        # zeros: W2 = 0 blocks dW1, db1; the balanced labels (mean Y = σ(0) = ½) give
        # dW2 = db2 = 0: nothing moves, and the check holds both sides to that
        "still": ["W1", "b1", "W2", "b2"] if init == "zeros" else [],
    }


for _name in SI.INITIALIZERS:
    register_trajectory("init", f"{_name}-shallow", partial(init_trajectory, _name))
