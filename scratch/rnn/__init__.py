"""Sequence models (``rnn``): the vanilla RNN and the LSTM, with backprop through time.

The course's layout: inputs ``x (n_x, m, T_x)``, hidden states ``a (n_a, m, T_x)``,
``a0 (n_a, m)``, predictions ``ŷ (n_y, m, T_x)``; the loop over time is the concept, there is
no loop over examples.

- :mod:`scratch.rnn.vanilla` — ``a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba)``, cell and layer,
  forward and backward through time;
- :mod:`scratch.rnn.lstm` — the LSTM's forget/update/candidate/output gates on
  ``[a⟨t−1⟩; x⟨t⟩]``, cell and layer, forward and backward through time;
- :mod:`scratch.rnn.model` — a softmax output layer at every step or at the last one, the
  cross-entropy cost and its gradients, prediction, sampling, gradient clipping.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> params = initialize_parameters(3, 4, 2, "rnn", rng)
    >>> x = rng.normal(size=(3, 5, 6))                                  # (n_x, m, T_x)
    >>> a, _ = rnn_forward(x, np.zeros((4, 5)), params)
    >>> a.shape
    (4, 5, 6)
"""

from scratch.rnn.lstm import (
    GATES,
    check_lstm_params,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
)
from scratch.rnn.model import (
    CELLS,
    HEAD,
    clip_by_global_norm,
    clip_by_value,
    initialize_parameters,
    predict,
    predict_proba,
    propagate,
    sample,
)
from scratch.rnn.vanilla import (
    check_rnn_params,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
)

__all__ = [
    "GATES",
    "CELLS",
    "HEAD",
    "check_lstm_params",
    "check_rnn_params",
    "rnn_cell_forward",
    "rnn_cell_backward",
    "rnn_forward",
    "rnn_backward",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_forward",
    "lstm_backward",
    "initialize_parameters",
    "propagate",
    "predict",
    "predict_proba",
    "sample",
    "clip_by_value",
    "clip_by_global_norm",
]
