"""Parity checks of ``rnn``: the course's vanilla RNN and LSTM vs ``nn.RNN``/``nn.LSTM``.

- :mod:`.checks` — forward states, gradients through time, finite differences, clipping;
- :mod:`.long_range` — T = 200 sequences stay finite, ``‖∂J/∂a⟨t⟩‖`` against ``t`` on both sides;
- :mod:`.tasks` — training trajectories: a long-range memory task, digits as sequences of rows,
  a character language model with sampling;
- :mod:`.cudnn` — (CUDA only) cuDNN's kernels, which the others leave off, at their own tolerance.
"""

from . import checks, cudnn, long_range, tasks  # noqa: F401  (registers)
