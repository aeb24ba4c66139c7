"""Scratch parameters (NumPy, course layout) to and from ``.safetensors`` files — the public
names (the implementation, its rules and its example are in ``scratch._safetensors``).

- :func:`save_params` writes ``{"W1": (n[1], n_x), "b1": (n[1], 1), …}`` byte for byte, with the
  metadata ``{"dlparity.layout": "course"}`` (:data:`LAYOUT_KEY`, :data:`COURSE`);
- :func:`load_params` reads one back, strictly (names; against ``like``, every dtype and shape;
  no NaN/±Inf unless ``allow_nonfinite=True``; a torch ``state_dict`` file is refused);
- :func:`read_metadata` returns a file's metadata; :func:`check_like` holds a parameter dict to
  a template.

``torch_ref.serving.load_scratch_file`` reads such a file into a torch module. ``safetensors``
is imported lazily (the ``onnx`` extra); nothing here needs torch.
"""

from scratch._safetensors import COURSE, LAYOUT_KEY, check_like, load_params, read_metadata, save_params

__all__ = ["LAYOUT_KEY", "COURSE", "save_params", "load_params", "read_metadata", "check_like"]
