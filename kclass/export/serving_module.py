"""The served model: a tf.Module whose signatures decode, preprocess and classify.

Preprocessing is `kclass.data.transforms.eval_image`, the function the eval pipeline maps over its
files, so training-time evaluation and serving cannot drift apart. Before decoding, `check_image`
reads the image header and refuses non-images and oversize images with assertions, which TF-Serving
reports as INVALID_ARGUMENT (HTTP 400) instead of running out of memory on a decompression bomb.
"""

import dataclasses
import functools
from typing import List, Optional, Sequence

import tensorflow as tf

from kclass.data import transforms
from kclass.data.lists import IMAGE_MAGIC
from kclass.export.signatures import (FLOAT_SIGNATURE, INPUT_NAME, LABEL_NAMES, LABELS, LOGITS, PROBABILITIES,
                                      SCORES, SERVING_SIGNATURE, TOP_K_CLASSES, TOP_K_NAMES, UNKNOWN, scores_name)
from kclass.layers.fold_batch_norm import fold_batch_norms

# A 50-megapixel image decodes to 150 MB of uint8; larger requests are refused by default.
DEFAULT_MAX_PIXELS = 50_000_000

_HEAD = 32


@dataclasses.dataclass
class ServingSpec:
    """What the exported model does besides the network. `class_names` has num_classes entries.

    Single-label: softmax, `top_k` best classes, and with `reject_threshold` an image is `unknown`
    when its highest probability is below it. Multi-label: sigmoid and one threshold per class
    (a class is predicted when its score is >= its threshold, as precision/recall curves count).
    """
    image_size: int
    class_names: List[str]
    resize_short: Optional[int] = None
    mean: Sequence[float] = transforms.IMAGENET_MEAN
    std: Sequence[float] = transforms.IMAGENET_STD
    multilabel: bool = False
    thresholds: Optional[List[float]] = None
    top_k: int = 5
    max_pixels: int = DEFAULT_MAX_PIXELS
    reject_threshold: Optional[float] = None

    @property
    def num_classes(self):
        return len(self.class_names)

    def resolved_thresholds(self):
        return list(self.thresholds) if self.thresholds is not None else [0.5] * self.num_classes

    def to_json(self):
        """The metadata written beside the SavedModel (assets.extra/kclass.json)."""
        info = dataclasses.asdict(self)
        info.update(mean=list(self.mean), std=list(self.std),
                    resize_short=self.resize_short or transforms.default_resize_short(self.image_size),
                    top_k=min(self.top_k, self.num_classes))
        info["thresholds"] = self.resolved_thresholds() if self.multilabel else None
        return info

    @classmethod
    def from_json(cls, info: dict) -> "ServingSpec":
        """The spec `to_json` wrote (extra keys such as model_name are ignored)."""
        return cls(**{f.name: info[f.name] for f in dataclasses.fields(cls) if f.name in info})


def _header_dims(encoded):
    """(is_known_format, height, width) from the first bytes of `encoded`; int64 scalars."""
    head = tf.strings.substr(encoded, 0, _HEAD)
    # Pad so that short strings still give _HEAD bytes to index (their dims come out as 0).
    head = tf.strings.substr(tf.strings.join([head, tf.constant(b"\0" * _HEAD)]), 0, _HEAD)
    b = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int64)

    def starts(kind):
        found = [tf.equal(tf.strings.substr(head, 0, len(magic)), magic) for magic in IMAGE_MAGIC[kind]]
        return functools.reduce(tf.logical_or, found)

    def big_endian(i):
        return b[i] * 16777216 + b[i + 1] * 65536 + b[i + 2] * 256 + b[i + 3]

    def little_endian32(i):
        v = b[i] + b[i + 1] * 256 + b[i + 2] * 65536 + b[i + 3] * 16777216
        return tf.abs(tf.where(v >= 2 ** 31, v - 2 ** 32, v))  # BMP height < 0 means top-down rows

    is_jpeg, is_png, is_gif, is_bmp = (starts(k) for k in ("jpeg", "png", "gif", "bmp"))
    jpeg_hw = tf.cond(is_jpeg, lambda: tf.cast(tf.image.extract_jpeg_shape(encoded)[:2], tf.int64),
                      lambda: tf.zeros([2], tf.int64))
    height = tf.case([(is_jpeg, lambda: jpeg_hw[0]), (is_png, lambda: big_endian(20)),
                      (is_gif, lambda: b[8] + b[9] * 256), (is_bmp, lambda: little_endian32(22))],
                     default=lambda: tf.constant(0, tf.int64))
    width = tf.case([(is_jpeg, lambda: jpeg_hw[1]), (is_png, lambda: big_endian(16)),
                     (is_gif, lambda: b[6] + b[7] * 256), (is_bmp, lambda: little_endian32(18))],
                    default=lambda: tf.constant(0, tf.int64))
    return is_jpeg | is_png | is_gif | is_bmp, height, width


def check_image(encoded, resize_short, max_pixels):
    """Assertions (raise InvalidArgumentError when run) that `encoded` is a JPEG/PNG/BMP/GIF whose
    decoded and resized sizes stay under `max_pixels`. Reads headers only; decodes nothing else."""
    known, height, width = _header_dims(encoded)
    limit = tf.constant(int(max_pixels), tf.int64)
    checks = [tf.debugging.Assert(known, ["not an image: JPEG, PNG, BMP or GIF expected, got",
                                          tf.strings.length(encoded), "bytes of something else"])]
    with tf.control_dependencies(checks):
        checks.append(tf.debugging.Assert((height > 0) & (width > 0),
                                          ["image header gives an empty size", height, "x", width]))
        checks.append(tf.debugging.Assert(height * width <= limit,
                                          ["image of", height, "x", width, "pixels is over max_pixels =", limit]))
        # resize_short scales the short side up or down: a 1 x 60000 strip would become huge.
        scale = float(resize_short) / tf.cast(tf.maximum(tf.minimum(height, width), 1), tf.float64)
        resized = (tf.round(tf.cast(height, tf.float64) * scale) * tf.round(tf.cast(width, tf.float64) * scale))
        checks.append(tf.debugging.Assert(resized <= tf.cast(limit, tf.float64),
                                          ["image of", height, "x", width, "would be resized to more than",
                                           limit, "pixels (aspect ratio too extreme)"]))
    return checks


def preprocess(encoded, spec: ServingSpec):
    """One encoded image (tf.string scalar) -> float32 [S, S, 3], exactly as the eval pipeline."""
    resize = spec.resize_short or transforms.default_resize_short(spec.image_size)
    with tf.control_dependencies(check_image(encoded, resize, spec.max_pixels)):
        encoded = tf.identity(encoded)
    return transforms.eval_image(encoded, spec.image_size, spec.resize_short, spec.mean, spec.std)


def preprocess_batch(images, spec: ServingSpec):
    """tf.string [N] -> float32 [N, S, S, 3]; images may differ in size, hence map_fn."""
    size = spec.image_size
    return tf.map_fn(lambda e: preprocess(e, spec), images,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


def head(scores, spec: ServingSpec):
    """Probabilities or scores float32 [N, C] -> the serving outputs listed in ServingModule. Shared by the
    SavedModel and kclass.predictors.OnnxPredictor (scores from ONNX Runtime)."""
    class_names = tf.constant(spec.class_names, tf.string)
    if spec.multilabel:
        labels = tf.cast(scores >= tf.constant(spec.resolved_thresholds(), tf.float32), tf.int32)
        names = tf.where(labels > 0, tf.broadcast_to(class_names, tf.shape(labels, out_type=tf.int64)), "")
        return {SCORES: scores, LABELS: labels, LABEL_NAMES: names}
    top = tf.math.top_k(scores, k=min(spec.top_k, spec.num_classes))
    outputs = {PROBABILITIES: scores, TOP_K_CLASSES: tf.cast(top.indices, tf.int64),
               TOP_K_NAMES: tf.gather(class_names, top.indices)}
    if spec.reject_threshold is not None:  # only then: clients of models without it see no new output
        outputs[UNKNOWN] = top.values[:, 0] < tf.constant(spec.reject_threshold, tf.float32)
    return outputs


class ServingModule(tf.Module):
    """`serve(images: string [N])` and `serve_images(images: float32 [N, S, S, 3])` -> outputs.

    Single-label outputs: `probabilities` float32 [N, C], `top_k_classes` int64 [N, k],
    `top_k_names` string [N, k], and `unknown` bool [N] (max probability < reject threshold) when the
    spec has a reject threshold. Multi-label: `scores` float32 [N, C], `labels` int32 [N, C] (1 where
    score >= threshold), `label_names` string [N, C] (the class name where labels is 1, else "").
    Serves a copy of `model` with its BNs folded into their convs (same outputs, one op fewer per conv).
    """

    def __init__(self, model, spec: ServingSpec):
        super().__init__(name="kclass_serving")
        if spec.num_classes != int(model.output_shape[-1]):
            raise ValueError(f"{spec.num_classes} class names for a model with {model.output_shape[-1]} outputs")
        self.model = fold_batch_norms(model)
        self.spec = spec
        size = spec.image_size

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
        def serve(images):
            return self._head(self.model(preprocess_batch(images, spec), training=False))

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)])
        def serve_images(images):
            return self._head(self.model(images, training=False))

        self.serve, self.serve_images = serve, serve_images

    def scores_function(self):
        """float32 [N, S, S, 3] -> {"probabilities" or "scores": [N, C], "logits": [N, C]}, for ONNX (no
        strings); the logits let the export check the network itself (softmax saturates)."""
        size, key = self.spec.image_size, scores_name(self.spec.multilabel)

        def scores_and_logits(images):
            logits = tf.cast(self.model(images, training=False), tf.float32)
            return {key: self._scores(logits), LOGITS: logits}

        return tf.function(scores_and_logits,
                           input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)])

    def _scores(self, logits):
        logits = tf.cast(logits, tf.float32)
        return tf.sigmoid(logits) if self.spec.multilabel else tf.nn.softmax(logits, axis=-1)

    def _head(self, logits):
        return head(self._scores(logits), self.spec)

    def signatures(self):
        return {SERVING_SIGNATURE: self.serve.get_concrete_function(),
                FLOAT_SIGNATURE: self.serve_images.get_concrete_function()}
