"""The torch_ref models beyond the MLP family served through ONNX Runtime: the convnet (images),
the vanilla RNN and the LSTM (sequences, time first) and the anomaly autoencoder, exported with
``torch.onnx.export(dynamo=True)`` (opset 18, dynamic first dimension) and compared with eager
torch at the policy's runtime tolerance — and eager torch is proven equal to scratch by the
registered checks of each concept.

float32 only: ONNX Runtime's CPU kernels for ``Conv`` and ``LSTM`` have no float64 version
(``NOT_IMPLEMENTED``/"does not support double" with onnxruntime 1.32), and float32 is what a
runtime serves. These exports take 2-5 s each, so they are tests, not rows of the default report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from parity_tests.compare import compare
from parity_tests.tolerances import runtime_tolerance
from torch_ref.anomaly import Autoencoder
from torch_ref.cnn import ConvNet
from torch_ref.layout import IMAGES, SEQUENCE
from torch_ref.rnn import SequenceModel

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

RNG = np.random.default_rng(0)
MODELS = {  # name: (module factory, a course-layout batch, its layout to torch, method served)
    "cnn": (lambda: ConvNet(), RNG.standard_normal((3, 8, 8, 1)), IMAGES, "predict_proba"),
    "rnn": (lambda: SequenceModel(4, 5, 3, "rnn"), RNG.standard_normal((4, 3, 6)), SEQUENCE, "forward"),
    "lstm": (lambda: SequenceModel(4, 5, 3, "lstm"), RNG.standard_normal((4, 3, 6)), SEQUENCE, "forward"),
    "autoencoder": (lambda: Autoencoder([5, 3, 2, 3, 5]), RNG.standard_normal((4, 5)), None, "forward"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_runtime_serves_the_model_like_eager_torch(name: str, tmp_path: Path) -> None:
    from torch_ref._onnx import OnnxModel, export_onnx

    torch.manual_seed(0)
    make, course_batch, layout, method = MODELS[name]
    module = make().to(torch.float32).eval()
    x = (layout.to_torch(course_batch) if layout else course_batch).astype(np.float32)
    served = OnnxModel(export_onnx(module, torch.from_numpy(x), tmp_path / f"{name}.onnx", method))
    with torch.no_grad():
        eager = getattr(module, method)(torch.from_numpy(x))
    eager = (eager[0] if isinstance(eager, tuple) else eager).numpy()
    rec = compare(f"{name}: onnxruntime vs eager torch", served(x), eager, runtime_tolerance("float32"))
    assert rec.passed, str(rec)
    assert served.opset == 18
