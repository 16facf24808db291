"""PaddleClas's per-image transforms as pure TF ops (graph-safe, stateless seeds).

Images are uint8 [H, W, 3] until `normalize`, as in PaddleClas (cv2 returns uint8 after resizing).
`eval_image` is THE eval preprocessing: the eval pipeline and the exported SavedModel both call it.
"""

import math

import tensorflow as tf

from kclass.data import philox

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def decode(encoded):
    """Encoded JPEG/PNG/BMP/GIF bytes -> uint8 [H, W, 3]; grayscale/RGBA/16-bit converted to RGB8.

    JPEGs use libjpeg's accurate integer IDCT, as cv2 (PaddleClas's decoder) does: TensorFlow's
    default fast IDCT is off by up to 5 grey levels on most pixels of real CIFAR JPEGs (21 on COCO
    photos), the accurate one gives cv2's pixels exactly.
    """
    image = tf.cond(
        tf.io.is_jpeg(encoded),
        lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False))
    image.set_shape([None, None, 3])
    return image


def _resize_uint8(image, height, width):
    resized = tf.image.resize(image, tf.stack([height, width]), method="bilinear")
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def crop_box(height, width, seed, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
    """PaddleClas RandCropImage's box (y, x, h, w) int32 for an image of `height` x `width`.

    Area ~ U(scale) x image area and aspect ~ U(ratio), both linear (not log) uniform; the scale range
    is clipped by `bound` so the box always fits, as PaddleClas does (no retries). `seed` int [2].
    """
    s = tf.random.experimental.stateless_split(seed, 4)
    bits = tf.stack([_uint32_draw(s[i]) for i in range(4)])
    return box_from_bits(height, width, bits, scale, ratio)


def _uint32_draw(seed):
    return tf.cast(tf.random.stateless_uniform([], seed, minval=None, maxval=None, dtype=tf.uint32), tf.int64)


def box_from_bits(height, width, bits, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
    """`crop_box` from its four uint32 draws, int64 [4]: aspect, area, x, y."""
    unit = philox.unit_float(bits[:2])
    # As tf.random.stateless_uniform scales a draw: float32 u * (max - min) + min.
    low, high = tf.constant(ratio[0], tf.float32), tf.constant(ratio[1], tf.float32)
    aspect = tf.sqrt(unit[0] * (high - low) + low)
    img_h, img_w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    w_ratio, h_ratio = aspect, 1.0 / aspect
    bound = tf.minimum((img_w / img_h) / (w_ratio ** 2), (img_h / img_w) / (h_ratio ** 2))
    scale_max = tf.minimum(float(scale[1]), bound)
    scale_min = tf.minimum(float(scale[0]), bound)
    area = img_w * img_h * (scale_min + unit[1] * (scale_max - scale_min))
    side = tf.sqrt(area)
    w = tf.clip_by_value(tf.cast(side * w_ratio, tf.int32), 1, width)
    h = tf.clip_by_value(tf.cast(side * h_ratio, tf.int32), 1, height)
    # An integer draw in [0, n) is the uint32 modulo n.
    x = tf.cast(bits[2] % tf.cast(width - w + 1, tf.int64), tf.int32)
    y = tf.cast(bits[3] % tf.cast(height - h + 1, tf.int64), tf.int32)
    return y, x, h, w


def rand_crop(image, size, seed, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
    """PaddleClas RandCropImage: uint8 [H, W, 3] -> uint8 [size, size, 3], bilinear resize."""
    shape = tf.shape(image)
    return _crop_resize(image, size, crop_box(shape[0], shape[1], seed, scale, ratio))


def _crop_resize(image, size, box):
    y, x, h, w = box
    return _resize_uint8(image[y:y + h, x:x + w], size, size)


def rand_flip(image, seed):
    """PaddleClas RandFlipImage(flip_code=1): horizontal flip with probability 0.5."""
    return _flip_from_bits(image, _uint32_draw(seed))


def _flip_from_bits(image, bits):
    flip = philox.unit_float(bits) < 0.5
    return tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)


def resize_short(image, short):
    """PaddleClas ResizeImage(resize_short): scale so the short side is `short`, sides rounded."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    percent = float(short) / tf.reduce_min(shape)
    height = tf.cast(tf.round(shape[0] * percent), tf.int32)
    width = tf.cast(tf.round(shape[1] * percent), tf.int32)
    return _resize_uint8(image, height, width)


def center_crop(image, size):
    """PaddleClas CropImage: centre crop with offset (side - size) // 2 (zero pads a smaller image)."""
    return tf.image.resize_with_crop_or_pad(image, size, size)


def normalize(images, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """PaddleClas NormalizeImage(scale 1/255): uint8 [..., 3] -> float32 (x / 255 - mean) / std."""
    x = tf.cast(images, tf.float32) / 255.0
    return (x - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def default_resize_short(image_size):
    """PaddleClas's eval resize for a crop: 36 for 32, 256 for 224 (crop / 0.875)."""
    return int(math.floor(image_size * 8 / 7))


def eval_image(encoded, image_size, resize=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Eval preprocessing: bytes -> float32 [image_size, image_size, 3]. Used by eval AND export."""
    image = decode(encoded)
    image = resize_short(image, resize or default_resize_short(image_size))
    return normalize(center_crop(image, image_size), mean, std)


def train_image(encoded, image_size, seed, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), flip=True):
    """Train preprocessing before normalisation: bytes -> uint8 [image_size, image_size, 3]."""
    return train_crop(decode(encoded), image_size, seed, scale, ratio, flip)


def train_crop(image, image_size, seed, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), flip=True):
    """`train_image` after the decode: uint8 [H, W, 3] -> uint8 [image_size, image_size, 3]."""
    s = tf.random.experimental.stateless_split(seed, 2)
    image = rand_crop(image, image_size, s[0], scale, ratio)
    return rand_flip(image, s[1]) if flip else image


def train_crop_bits(seeds):
    """The uint32 draws `train_crop` makes from each seed, for many seeds at once: int64 [N, 2] -> [N, 5].

    Columns: the crop box's four (`box_from_bits`) and the flip's. The pipeline draws a whole epoch's
    in one go: per image they were a dozen scalar ops, ~14 us of CPU at 32 px (tools/bench/RESULTS.md).
    """
    halves = philox.split(seeds, 2)
    box = philox.uint32_draw(tf.reshape(philox.split(halves[:, 0], 4), [-1, 2]))
    return tf.concat([tf.reshape(box, [-1, 4]), philox.uint32_draw(halves[:, 1])[:, None]], axis=1)


def train_crop_from_bits(image, image_size, bits, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), flip=True):
    """`train_crop` given its draws, int64 [5] (a row of `train_crop_bits`)."""
    shape = tf.shape(image)
    image = _crop_resize(image, image_size, box_from_bits(shape[0], shape[1], bits[:4], scale, ratio))
    return _flip_from_bits(image, bits[4]) if flip else image
