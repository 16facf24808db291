"""The exported SavedModel's calling contract: signature, input and output names, and the TF-Serving
PredictRequest that calls a signature. The exporter, the warm-up records, the predictors and the
TF-Serving client all take the names from here.

Light on purpose (TensorFlow and the TF-Serving protos are imported when a request is built), so the
client can import it without loading TensorFlow.
"""

from typing import Dict, Optional

import numpy as np

SERVING_SIGNATURE = "serving_default"  # encoded images, tf.string [N]
FLOAT_SIGNATURE = "predict_images"  # preprocessed images, float32 [N, S, S, 3]
INPUT_NAME = "images"  # the one input of both signatures (and of model.onnx)

# Outputs. Single-label: PROBABILITIES [N, C], TOP_K_CLASSES [N, k], TOP_K_NAMES [N, k], and UNKNOWN [N]
# with a reject threshold. Multi-label: SCORES [N, C], LABELS [N, C], LABEL_NAMES [N, C].
PROBABILITIES, TOP_K_CLASSES, TOP_K_NAMES, UNKNOWN = "probabilities", "top_k_classes", "top_k_names", "unknown"
SCORES, LABELS, LABEL_NAMES = "scores", "labels", "label_names"
LOGITS = "logits"  # model.onnx only: pre-softmax / pre-sigmoid values, [N, C]


def scores_name(multilabel: bool) -> str:
    """The [N, C] output that holds the model's numbers: SCORES (multi-label) or PROBABILITIES."""
    return SCORES if multilabel else PROBABILITIES


def fill_model_spec(spec, model: str, signature: Optional[str] = None, version: Optional[int] = None,
                    label: Optional[str] = None) -> None:
    """Sets a tensorflow.serving.ModelSpec: model name, signature, and a version or a version label."""
    spec.name = model
    if signature is not None:
        spec.signature_name = signature
    if version is not None:
        spec.version.value = int(version)
    elif label is not None:
        spec.version_label = label


def predict_request(model: str, inputs: Dict[str, np.ndarray], signature: str = SERVING_SIGNATURE,
                    version: Optional[int] = None, label: Optional[str] = None):
    """A tensorflow.serving.PredictRequest; byte strings go in as DT_STRING tensors."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    fill_model_spec(request.model_spec, model, signature, version, label)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request
