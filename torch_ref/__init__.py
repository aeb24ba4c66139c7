"""dlparity's production side: every concept as idiomatic ``torch.nn`` code.

Batch-first tensors (``X (m, n_x)``), ``nn.Linear`` weights ``(out, in)`` — which is exactly the
course's ``W[l]`` — and biases ``(out,)``. Every module takes ``device`` and ``dtype``. Each
concept module also holds its converters between a scratch parameter dict and a ``state_dict``;
:mod:`torch_ref.layout` holds the layout conversions they are built from.
"""
