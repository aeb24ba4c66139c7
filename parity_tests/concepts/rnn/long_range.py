"""Long sequences (T = 200): both sides stay finite, and vanishing/exploding gradients show the
same way on both sides — ``∂J/∂a⟨t⟩`` for a cost on the last step only, at every ``t``.

Four regimes: the vanilla RNN with ``Waa = 0.9 Q`` (``Q`` orthogonal; the gradient shrinks like
``0.9^(T−t)``) and ``1.05 Q`` (it grows like ``1.05^(T−t)``), kept in tanh's linear range by
inputs of size 1e-6 so the growth is the matrix's, not saturation's; and the LSTM with forget
bias 0.5 (``Γf ≈ 0.6``: the cell path forgets, the gradient vanishes, ~1e-20 after 200
steps: still above float32's denormals) and 4 (``Γf ≈ 0.98``: it
carries the gradient back over the 200 steps). Compared: the states ``a⟨t⟩`` elementwise and
the norms ``‖∂J/∂a⟨t⟩‖`` at every ``t`` (gradient tolerance). Not the entries of ``∂J/∂a⟨t⟩``
one by one: rounding leaves an error of size ``ε ‖∂J/∂a⟨t⟩‖`` in *every* entry (``Q`` mixes
them), so in float32 a small entry beside large ones differs relatively by ~1e-3 between any
two implementations (the T = 6 gradient checks compare entries). Torch's ``∂J/∂a⟨t⟩`` comes from
``SequenceModel.states`` (the production module stepped once per ``t``) with ``retain_grad``.

On CUDA the torch side runs torch's own kernels (the policy's tolerances), and the states are
compared once more from cuDNN's kernels at the policy's ``cudnn-rnn`` kernel tolerance — over
200 steps is where a less accurate kernel would drift.
"""

from __future__ import annotations

import numpy as np
import torch

from parity_tests.compare import compare, group_result
from parity_tests.devices import check_device, cudnn_enabled, parity_mode
from parity_tests.registry import ParityCheck, register, seed_for
from parity_tests.tolerances import kernel_tolerance, tolerance
from scratch import rnn as S
from torch_ref import rnn as T
from torch_ref.layout import numpy_dtype, to_numpy, to_tensor

from .common import SEQUENCE

N_X, N_A, M, T_LONG = 5, 8, 3, 200


def regimes(rng: np.random.Generator) -> list[tuple[str, str, dict[str, np.ndarray], float]]:
    """``(label, cell, params, input scale)`` of the four regimes (float64 parameters)."""
    Q, _ = np.linalg.qr(rng.standard_normal((N_A, N_A)))
    out = []
    for gain, label in ((0.9, "rnn Waa=0.9Q (vanishing)"), (1.05, "rnn Waa=1.05Q (exploding)")):
        p = S.initialize_parameters(N_X, N_A, 2, "rnn", rng)
        p["Waa"] = gain * Q
        out.append((label, "rnn", p, 1e-6))
    for bias, label in ((0.5, "lstm bf=0.5 (vanishing)"), (4.0, "lstm bf=4 (carried)")):
        out.append((label, "lstm", S.initialize_parameters(N_X, N_A, 2, "lstm", rng, forget_bias=bias), 1.0))
    return out


def _scratch(cell: str, p: dict, x: np.ndarray, G: np.ndarray):
    core = {k: v for k, v in p.items() if k not in S.HEAD[cell]}
    a0 = np.zeros((N_A, M), dtype=x.dtype)
    da = np.zeros((N_A, M, T_LONG), dtype=x.dtype)
    da[:, :, -1] = G  # J = Σ a⟨T⟩ ⊙ G: a cost on the last step only
    if cell == "rnn":
        a, cache = S.rnn_forward(x, a0, core)
        return a, S.rnn_backward(da, cache)["da_total"]
    a, _, cache = S.lstm_forward(x, a0, a0, core)
    return a, S.lstm_backward(da, cache)["da_total"]


def _torch(cell: str, p: dict, x: np.ndarray, G: np.ndarray, device: str, dtype: str, cudnn: bool = False):
    model = T.SequenceModel.from_scratch(p, cell, device=device, dtype=torch.float64)
    model.to(dtype=getattr(torch, dtype))
    with cudnn_enabled(cudnn):
        hs, _ = model.states(to_tensor(SEQUENCE.to_torch(x), device, dtype))
    for h in hs:
        h.retain_grad()
    (hs[-1] * to_tensor(G.T, device, dtype)).sum().backward()
    a = np.stack([to_numpy(h).T for h in hs], axis=-1)  # (n_a, m, T)
    da = np.stack([to_numpy(h.grad).T for h in hs], axis=-1)
    return a, da


def long_range_check(device: str, dtype: str):
    check_device(device)
    np_dtype = numpy_dtype(dtype)
    rng = np.random.default_rng(seed_for("rnn", "long-range"))
    records, series, metrics = [], [], {}
    steps = list(range(1, T_LONG + 1))
    tiny = float(np.finfo(np_dtype).tiny)
    for label, cell, p, x_scale in regimes(rng):
        p = {k: v.astype(np_dtype) for k, v in p.items()}
        x = (rng.standard_normal((N_X, M, T_LONG)) * x_scale).astype(np_dtype)
        G = rng.standard_normal((N_A, M)).astype(np_dtype)
        a_s, da_s = _scratch(cell, p, x, G)
        with parity_mode():
            a_t, da_t = _torch(cell, p, x, G, device, dtype)
            if device.startswith("cuda") and torch.backends.cudnn.is_available():
                a_c, _ = _torch(cell, p, x, G, device, dtype, cudnn=True)
                records.append(
                    compare(f"{label}: a (cuDNN)", a_s, a_c, kernel_tolerance("cudnn-rnn", dtype, "forward"))
                )
        finite = bool(
            np.isfinite(a_s).all()
            and np.isfinite(da_s).all()
            and np.isfinite(a_t).all()
            and np.isfinite(da_t).all()
        )
        rec = compare(f"{label}: a", a_s, a_t, tolerance(dtype, "forward"))
        if not finite:
            rec.passed, rec.diagnosis = False, "a non-finite value on a side (T = 200 must stay finite)"
        norms = {
            side: np.linalg.norm(da.reshape(-1, T_LONG).astype(np.float64), axis=0)
            for side, da in (("scratch", da_s), ("torch", da_t))
        }
        records += [
            rec,
            compare(f"{label}: |dJ/da<t>|", norms["scratch"], norms["torch"], tolerance(dtype, "gradient")),
        ]
        for side, n in norms.items():
            series.append(
                {
                    "label": f"{label}, {side}",
                    "x": steps,
                    "kind": "line",
                    "y": np.log10(np.maximum(n, tiny)).tolist(),
                }
            )
        log_ratio = np.log10(max(norms["scratch"][0], tiny) / norms["scratch"][-1])
        metrics[f"{label}: log10 |dJ/da<1>|/|dJ/da<T>|"] = float(log_ratio)
    extra = {
        "figure": {
            "title": "‖∂J/∂a⟨t⟩‖ for a cost on step T = 200 (both sides)",
            "xlabel": "t",
            "ylabel": "log10 ‖∂J/∂a⟨t⟩‖",
            "series": series,
        },
        "metrics": metrics,
    }
    return group_result("rnn", "long-range", "property", device, dtype, records, extra)


register(ParityCheck("rnn", "long-range", "property", long_range_check))
