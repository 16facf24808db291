"""ONNX export of the float signature with tf2onnx, verified against TensorFlow in onnxruntime.

Only the numeric head (`probabilities` or `scores`) is converted: TensorRT, the main consumer of the
ONNX file, has no string tensors, so decoding, resizing and class names stay with the caller; the
preprocessing to reproduce is recorded in assets.extra/kclass.json.
"""

import numpy as np
import tensorflow as tf

from kclass.errors import UserError

OPSET = 17
TOLERANCE = 1e-4


def export_onnx(module, path: str, opset: int = OPSET, check_batch: int = 4, seed: int = 0) -> float:
    """Writes `module.scores_function()` (float32 [N, S, S, 3] -> [N, C]) to `path`; returns the max abs
    difference to TensorFlow on random inputs (UserError if above TOLERANCE)."""
    import tf2onnx

    size = module.spec.image_size
    signature = [tf.TensorSpec([None, size, size, 3], tf.float32, name="images")]
    function = module.scores_function()
    tf2onnx.convert.from_function(function, input_signature=signature, opset=opset, output_path=path)
    images = np.random.default_rng(seed).normal(size=(check_batch, size, size, 3)).astype(np.float32)
    expected = next(iter(function(tf.constant(images)).values())).numpy()
    got = run_onnx(path, images)
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= TOLERANCE:
        raise UserError(f"{path}: ONNX Runtime differs from TensorFlow by {diff:.2e} (> {TOLERANCE:g})")
    return diff


def run_onnx(path: str, images: np.ndarray) -> np.ndarray:
    """float32 [N, S, S, 3] -> the ONNX model's only output [N, C], on onnxruntime's CPU provider."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: images.astype(np.float32)})[0]
