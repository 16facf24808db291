"""ONNX export of the float signature with tf2onnx, verified against TensorFlow in onnxruntime.

Only the numeric head is converted: TensorRT, the main consumer of the ONNX file, has no string
tensors, so decoding, resizing and class names stay with the caller; the preprocessing to reproduce is
recorded in assets.extra/kclass.json. Outputs, in this order: `probabilities` (or `scores` when
multi-label) float32 [N, C], the documented contract and output 0; then `logits` float32 [N, C], the
pre-softmax / pre-sigmoid values the check compares. The SavedModel's `unknown` output is left to the
caller like the class names: max(probabilities) < kclass.json's `reject_threshold` (OnnxPredictor does so).
"""

import numpy as np
import tensorflow as tf

from kclass.errors import UserError
from kclass.export.signatures import INPUT_NAME, LOGITS

OPSET = 17
# Logits: max |ONNX - TF| <= LOGITS_RTOL * max |TF logit| (fp32 over a deep network, with headroom).
LOGITS_RTOL = 1e-4
# Probabilities / scores: absolute (they lie in [0, 1]); catches a wrongly converted softmax/sigmoid.
TOLERANCE = 1e-4


def export_onnx(module, path: str, opset: int = OPSET, check_batch: int = 4, seed: int = 0) -> float:
    """Writes `module.scores_function()` (float32 [N, S, S, 3] -> scores and logits [N, C]) to `path`;
    returns `check_onnx`'s relative logits difference to TensorFlow on random inputs. The logits are a
    second output rather than recovered as log-probabilities: exact (no flooring of zeros, no per-row
    constant) and usable by TensorRT clients that want them."""
    import onnx
    import tf2onnx

    size = module.spec.image_size
    signature = [tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)]
    function = module.scores_function()
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    scores_first(proto.graph)
    onnx.save(proto, path)
    images = np.random.default_rng(seed).normal(size=(check_batch, size, size, 3)).astype(np.float32)
    return check_onnx(function, path, images)


def scores_first(graph):
    """tf2onnx orders outputs by name (`logits` first): put the probabilities/scores output first, so
    `session.run(None, ...)[0]` stays what it was before the file had a logits output."""
    outputs = sorted(graph.output, key=lambda o: o.name == LOGITS)
    del graph.output[:]
    graph.output.extend(outputs)


def check_onnx(function, path: str, images: np.ndarray) -> float:
    """max |logits(ONNX) - logits(TF)| / max |logits(TF)| on `images`; UserError above LOGITS_RTOL (or
    probabilities/scores off by more than TOLERANCE).

    Logits, because softmax saturates: with confident or random weights the probabilities are 0 and 1
    whatever the network computed, so their difference (e.g. 5.8e-25) proves nothing about the conversion.
    """
    expected = {k: v.numpy() for k, v in function(tf.constant(images)).items()}
    got = run_onnx_outputs(path, images)
    (key,) = set(expected) - {LOGITS}
    scale = max(float(np.max(np.abs(expected[LOGITS]))), np.finfo(np.float32).tiny)
    relative = float(np.max(np.abs(got[LOGITS] - expected[LOGITS]))) / scale
    if not relative <= LOGITS_RTOL:
        raise UserError(f"{path}: ONNX Runtime's logits differ from TensorFlow's by {relative:.2e} of their "
                        f"scale {scale:.3g} (> {LOGITS_RTOL:g})")
    off = float(np.max(np.abs(got[key] - expected[key])))
    if not off <= TOLERANCE:
        raise UserError(f"{path}: ONNX Runtime's {key} differ from TensorFlow's by {off:.2e} (> {TOLERANCE:g})")
    return relative


def run_onnx_outputs(path: str, images: np.ndarray) -> dict:
    """float32 [N, S, S, 3] -> {output name: array} of the ONNX model, on onnxruntime's CPU provider."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {name: images.astype(np.float32)})))


def run_onnx(path: str, images: np.ndarray) -> np.ndarray:
    """float32 [N, S, S, 3] -> the ONNX model's first output (probabilities or scores) [N, C]."""
    return next(iter(run_onnx_outputs(path, images).values()))
