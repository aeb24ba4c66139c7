"""The LSTM layer's fast path: :mod:`scratch.rnn.lstm`'s equations, laid out for the hardware.

The equations are :func:`scratch.rnn.lstm.lstm_step`'s and
:func:`scratch.rnn.lstm.lstm_step_backward`'s, the inputs, results and gradient convention
:func:`scratch.rnn.lstm.lstm_forward`'s and :func:`scratch.rnn.lstm.lstm_backward`'s (the
course's layout at the boundary, the same input checks, the same keys). What differs is where
the work goes:

- **one GEMM per step, no concatenation** — ``H (n_a + n_x + 1, T_x + 1, m)`` holds
  ``[a⟨t−1⟩; x⟨t⟩; 1]`` of every step side by side, written in place (``x`` once, each
  ``a⟨t⟩`` as it is made), and the bias is ``W``'s last column against the row of ones: a
  step's pre-activations of all four gates are one product ``W H[:, t]``, and after the loop
  ``Σ_t dz⟨t⟩ [a⟨t−1⟩; x⟨t⟩; 1]ᵀ`` — ``dW`` with ``db`` as its last column — is one GEMM over
  every step's columns, as is ``dx⟨t⟩ = Wxᵀ dz⟨t⟩``;
- **one tanh for the four gates** — ``σ(z) = ½ + ½ tanh(z/2)``, and the sigmoid gates' rows of
  ``W`` are halved once (exact: a power of two), so one ``tanh`` over the step's block gives
  all four gates; the stacked order here is :data:`ORDER`, ``[o; f; i; c̃]``;
- **contiguous blocks** — every per-step array the element-wise work reads is one contiguous
  block (time first: ``G[t] (4 n_a, m)``, ``C[t]``), each gate a contiguous run of its rows
  (a strided view costs NumPy's element-wise loops about 3× here);
- **buffers** — :class:`FastLSTM` allocates every array once for one shape and writes them
  with ``out=`` call after call: fresh arrays of a call's size (≈ 20 MB here) cost thousands of
  page faults per call on a VM, a tenth of the call's time.

Float32 stays float32 throughout (no float64 constant reaches an array). Only
``parity_tests/tests/test_rnn_fast.py`` and the ``rnn`` benchmark use it; the suite proves it
equal to the reference, values and every gradient, in float32 and float64.

Example:
    >>> import numpy as np
    >>> from scratch.rnn.lstm import lstm_forward
    >>> rng = np.random.default_rng(0)
    >>> p = {f"{k}{g}": rng.normal(size=(4, 7) if k == "W" else (4, 1)) for g in "fico" for k in "Wb"}
    >>> x, z = rng.normal(size=(3, 5, 6)), np.zeros((4, 5))
    >>> lstm = FastLSTM(n_x=3, n_a=4, m=5, T_x=6, dtype=np.float64)
    >>> a, c = lstm.forward(x, z, z, p)
    >>> bool(np.allclose(a, lstm_forward(x, z, z, p)[0]))
    True
    >>> sorted(lstm.backward(np.ones_like(a)))[4:8]
    ['da0', 'da_total', 'dbc', 'dbf']
"""

from __future__ import annotations

import numpy as np

from scratch._validate import as_float_array, check_shape
from scratch.rnn.lstm import check_lstm_params
from scratch.rnn.vanilla import Params, check_sequence, check_state

ORDER = ("o", "f", "i", "c")
"""The gates' blocks of rows in this module's stacked ``W``: the three sigmoids first (one
``½ + ½ tanh`` fix-up for the three), then ``f, i, c̃`` side by side (one broadcast product
gives their ``dz`` from ``∂J/∂c``)."""


class FastLSTM:
    """The LSTM layer for one shape, ``x (n_x, m, T_x)`` in ``dtype``, with its buffers.

    :meth:`forward` and :meth:`backward` are :func:`scratch.rnn.lstm.lstm_forward` and
    :func:`scratch.rnn.lstm.lstm_backward` (the same checks, results and gradient convention);
    the cache is the object itself. Every array returned is a view of a buffer that the next
    call overwrites (``.copy()`` to keep it), and ``backward`` reads the last ``forward``'s
    states.

    Attributes (time first where the element-wise work reads them, steps side by side where a
    GEMM over every step does):
        W (4 n_a, n_a + n_x + 1): ``[Wo bo; Wf bf; Wi bi; Wc bc]``, the bias as last column;
        H (n_a + n_x + 1, T_x + 1, m): ``[a⟨t−1⟩; x⟨t⟩; 1]`` in ``H[:, t − 1]``, ``a⟨T_x⟩`` in
            ``H[:n_a, T_x]``;
        C (T_x + 1, n_a, m): ``c⟨t⟩`` in ``C[t]``;
        G (T_x, 4 n_a, m): ``[Γo; Γf; Γi; c̃⟨t⟩]`` in ``G[t − 1]``; ``tanh_C`` (T_x, n_a, m);
        dZ (4 n_a, T_x, m): ``dz⟨t⟩`` in ``dZ[:, t − 1]``.
    """

    def __init__(self, n_x: int, n_a: int, m: int, T_x: int, dtype: np.dtype = np.float64) -> None:
        self.n_x, self.n_a, self.m, self.T_x = n_x, n_a, m, T_x
        self.dtype = dt = np.dtype(dtype)
        K = n_a + n_x + 1
        self.W, self.W_half = np.empty((4 * n_a, K), dt), np.empty((4 * n_a, K), dt)
        self.H = np.empty((K, T_x + 1, m), dt)
        self.H[n_a:-1, T_x] = 0  # no x⟨T_x + 1⟩
        self.H[-1] = 1  # the bias's row of ones
        self.C, self.G = np.empty((T_x + 1, n_a, m), dt), np.empty((T_x, 4 * n_a, m), dt)
        self.tanh_C, self.ic = np.empty((T_x, n_a, m), dt), np.empty((n_a, m), dt)
        self.WaT = np.empty((n_a, 4 * n_a), dt)
        self.das, self.da_totals = np.empty((T_x, n_a, m), dt), np.empty((T_x, n_a, m), dt)
        self.dZ, self.dWb = np.empty((4 * n_a, T_x, m), dt), np.empty((4 * n_a, K), dt)
        self.dxs = np.empty((n_x, T_x * m), dt)
        self.da_prev, self.dc, self.tmp = (np.empty((n_a, m), dt) for _ in range(3))
        self.ds, self.fic = np.empty((3 * n_a, m), dt), np.empty((3, n_a, m), dt)

    def forward(
        self,
        x: np.ndarray,
        a0: np.ndarray,
        c0: np.ndarray,
        params: Params,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``a, c (n_a, m, T_x)`` from ``x (n_x, m, T_x)``, ``a0``, ``c0 (n_a, m)``: read-only
        views of the buffers."""
        p, n_a, n_x = check_lstm_params(params)
        x = check_sequence(x, n_x, p["Wf"].dtype, np.shape(a0)[1] if np.ndim(a0) == 2 else None)
        expected = (self.n_x, self.n_a, self.m, self.T_x, self.dtype)
        if (n_x, n_a, x.shape[1], x.shape[2], x.dtype) != expected:
            raise ValueError(
                f"FastLSTM built for (n_x, n_a, m, T_x, dtype) = {expected}, got "
                f"{(n_x, n_a, x.shape[1], x.shape[2], x.dtype)}"
            )
        m, T_x, H, C, G = self.m, self.T_x, self.H, self.C, self.G
        H[:n_a, 0] = check_state("a0", a0, n_a, m, x.dtype)
        C[0] = check_state("c0", c0, n_a, m, x.dtype)
        H[n_a:-1, :T_x] = x.transpose(0, 2, 1)
        for k, g in enumerate(ORDER):
            self.W[k * n_a : (k + 1) * n_a, :-1], self.W[k * n_a : (k + 1) * n_a, -1:] = (
                p[f"W{g}"],
                p[f"b{g}"],
            )
        np.copyto(self.W_half, self.W)
        self.W_half[: 3 * n_a] *= 0.5  # the sigmoid gates' rows: σ(z) = ½ + ½ tanh(z/2)
        for t in range(T_x):  # step t + 1
            g = G[t]
            np.matmul(self.W_half, H[:, t], out=g)  # [z/2 of o, f, i; z of c̃] (4 n_a, m): one GEMM
            np.tanh(g, out=g)
            s = g[: 3 * n_a]
            s *= 0.5
            s += 0.5  # Γo, Γf, Γi = ½ + ½ tanh(z/2)
            o, f, i, cc = g[:n_a], g[n_a : 2 * n_a], g[2 * n_a : 3 * n_a], g[3 * n_a :]
            np.multiply(f, C[t], out=C[t + 1])
            np.multiply(i, cc, out=self.ic)
            C[t + 1] += self.ic  # c⟨t⟩ = Γf ⊙ c⟨t−1⟩ + Γi ⊙ c̃⟨t⟩
            np.tanh(C[t + 1], out=self.tanh_C[t])
            np.multiply(o, self.tanh_C[t], out=H[:n_a, t + 1])  # a⟨t⟩ = Γo ⊙ tanh(c⟨t⟩)
        a, c = H[:n_a, 1:].transpose(0, 2, 1), C[1:].transpose(1, 2, 0)  # (n_a, m, T_x) views
        a.flags.writeable = c.flags.writeable = False
        return a, c

    def backward(self, da: np.ndarray, dc_last: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """BPTT from ``da = ∂J/∂a (n_a, m, T_x)`` (and ``dc_last = ∂J/∂c⟨T_x⟩``, default 0):
        ``dx (n_x, m, T_x)``, ``da0``, ``dc0 (n_a, m)``, ``dW·``, ``db·`` of the four gates and
        ``da_total (n_a, m, T_x)``. Per step, going back::

            da_total = da⟨t⟩ + da_prev
            dz_o = da_total ⊙ tanh(c) ⊙ Γo(1 − Γo)
            dc = dc_next + da_total ⊙ Γo ⊙ (1 − tanh²(c))
            [dz_f; dz_i; dz_c] = dc ⊙ [c_prev ⊙ Γf(1 − Γf); c̃ ⊙ Γi(1 − Γi); Γi ⊙ (1 − c̃²)]
            dc_prev = dc ⊙ Γf,   da_prev = Waᵀ dz

        then ``[dW db] = Σ_t dz⟨t⟩ [a⟨t−1⟩; x⟨t⟩; 1]ᵀ`` and ``dx⟨t⟩ = Wxᵀ dz⟨t⟩``, one GEMM each.
        """
        n_a, m, T_x, dt = self.n_a, self.m, self.T_x, self.dtype
        da = as_float_array("da", da, dt)
        check_shape("da", da, (n_a, m, T_x), "(n_a, m, T_x) like a")
        dc, da_prev, tmp, ds, fic, dZ = self.dc, self.da_prev, self.tmp, self.ds, self.fic, self.dZ
        if dc_last is None:
            dc[...] = 0
        else:
            dc_last = as_float_array("dc_last", dc_last, dt)
            check_shape("dc_last", dc_last, (n_a, m), "(n_a, m)")
            dc[...] = dc_last
        da_prev[...] = 0  # ∂J/∂a⟨T_x⟩ through a later step: none
        self.das[...] = da.transpose(2, 0, 1)  # da⟨t⟩ in das[t − 1]
        self.WaT[...] = self.W[:, :n_a].T
        for t in range(T_x - 1, -1, -1):  # step t + 1
            g, tc, C_prev = self.G[t], self.tanh_C[t], self.C[t]
            o, f, i, cc = g[:n_a], g[n_a : 2 * n_a], g[2 * n_a : 3 * n_a], g[3 * n_a :]
            dat = np.add(self.das[t], da_prev, out=self.da_totals[t])  # da_total⟨t⟩
            np.subtract(1, g[: 3 * n_a], out=ds)
            ds *= g[: 3 * n_a]  # Γ(1 − Γ) of o, f, i
            np.multiply(dat, tc, out=tmp)
            np.multiply(tmp, ds[:n_a], out=dZ[:n_a, t])  # dz_o
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dat
            dc += tmp  # ∂J/∂c⟨t⟩, through a⟨t⟩ too
            np.multiply(C_prev, ds[n_a : 2 * n_a], out=fic[0])  # c⟨t−1⟩ ⊙ Γf(1 − Γf)
            np.multiply(cc, ds[2 * n_a :], out=fic[1])  # c̃ ⊙ Γi(1 − Γi)
            np.multiply(cc, cc, out=fic[2])
            np.subtract(1, fic[2], out=fic[2])
            fic[2] *= i  # Γi ⊙ (1 − c̃²)
            np.multiply(dc, fic, out=dZ[n_a:, t].reshape(3, n_a, m))  # dz_f, dz_i, dz_c
            dc *= f  # dc_prev = dc ⊙ Γf
            np.matmul(self.WaT, dZ[:, t], out=da_prev)  # da_prev = Waᵀ dz (n_a, m)
        dZ2 = dZ.reshape(4 * n_a, T_x * m)  # every step's columns side by side
        H2 = self.H[:, :T_x].reshape(len(self.H), T_x * m)
        np.matmul(dZ2, H2.T, out=self.dWb)  # Σ_t dz⟨t⟩ [a⟨t−1⟩; x⟨t⟩; 1]ᵀ (4 n_a, K)
        np.matmul(self.W[:, n_a:-1].T, dZ2, out=self.dxs)  # dx⟨t⟩ = Wxᵀ dz⟨t⟩, every t
        grads = {}
        for k, gate in enumerate(ORDER):
            rows = self.dWb[k * n_a : (k + 1) * n_a]
            grads[f"dW{gate}"], grads[f"db{gate}"] = rows[:, :-1], rows[:, -1:]
        return {
            **grads,
            "dx": self.dxs.reshape(self.n_x, T_x, m).transpose(0, 2, 1),
            "da0": da_prev,
            "dc0": dc,
            "da_total": self.da_totals.transpose(1, 2, 0),
        }


def lstm_forward_fast(
    x: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray,
    params: Params,
) -> tuple[np.ndarray, np.ndarray, FastLSTM]:
    """:func:`scratch.rnn.lstm.lstm_forward` through a fresh :class:`FastLSTM` (its cache)."""
    p, n_a, n_x = check_lstm_params(params)
    x = check_sequence(x, n_x, p["Wf"].dtype, np.shape(a0)[1] if np.ndim(a0) == 2 else None)
    lstm = FastLSTM(n_x, n_a, x.shape[1], x.shape[2], x.dtype)
    return (*lstm.forward(x, a0, c0, p), lstm)


def lstm_backward_fast(
    da: np.ndarray,
    cache: FastLSTM,
    dc_last: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """:func:`scratch.rnn.lstm.lstm_backward` from :func:`lstm_forward_fast`'s cache."""
    return cache.backward(da, dc_last)
