"""TF-Serving's warm-up records: a TFRecord of PredictionLogs in `assets.extra/` that the server
replays when it loads a version, so the first real request does not pay for tracing and allocation.
"""

import numpy as np
import tensorflow as tf

from kclass.export.signatures import FLOAT_SIGNATURE, INPUT_NAME, predict_request

WARMUP_FILE = "tf_serving_warmup_requests"  # the name TF-Serving looks for in assets.extra/


def warmup_images(image_size: int):
    """Encoded test images (PNG and JPEG, two sizes): the decoders and shapes requests will use."""
    rng = np.random.default_rng(0)
    images = []
    for i, size in enumerate((image_size, image_size * 2 + 3)):
        pixels = rng.integers(0, 256, (size, size + 5 * i, 3), dtype=np.uint8)
        images.append(tf.io.encode_png(pixels).numpy())
        images.append(tf.io.encode_jpeg(pixels, quality=90).numpy())
    return images


def write_warmup(path: str, model_name: str, image_size: int, float_signature: bool = True):
    """A few PredictionLog records for TF-Serving to replay on load (batch 1 and a mixed batch)."""
    images = warmup_images(image_size)
    floats = np.zeros([1, image_size, image_size, 3], np.float32)
    requests = [predict_request(model_name, {INPUT_NAME: np.array(images[:1], object)}),
                predict_request(model_name, {INPUT_NAME: np.array(images, object)})]
    if float_signature:
        requests.append(predict_request(model_name, {INPUT_NAME: floats}, signature=FLOAT_SIGNATURE))
    write_warmup_requests(path, requests)
    return len(requests)


def write_warmup_requests(path: str, requests) -> None:
    """TF-Serving's warm-up file: a TFRecord of PredictionLog records (replayed when a version loads)."""
    from tensorflow_serving.apis import prediction_log_pb2

    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def read_warmup_requests(path: str) -> list:
    """The PredictionLog records of a warm-up file."""
    from tensorflow_serving.apis import prediction_log_pb2

    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]
