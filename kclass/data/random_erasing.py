"""RandomErasing (PaddleClas ops/random_erasing.py), vectorised over the batch and over attempts.

Per image, with probability EPSILON: up to `attempt` tries of area ~ U(sl, sh) x H*W and aspect
~ U(r1, 1/r1) (log-uniform if use_log_aspect); h = round(sqrt(area * aspect)), w = round(sqrt(area /
aspect)); the first try with h < H and w < W is erased at a uniform top-left corner; an image with no
fitting try is left as is. Fill by `mode`: 'const' the per-channel `mean`, 'rand' one normal colour
per image, 'pixel' normal noise per pixel.

images [N, H, W, C] normalised float -> same dtype and shape. All tries are drawn at once ([N, attempt])
and the first valid one is picked with argmax, instead of PaddleClas's Python loop. Keras core's
RandomErasing is not used: it takes scale/aspect ranges of its own and no EPSILON/first-fit rule.
"""

import math

import tensorflow as tf

from kclass.data import rng
from kclass.data.boxes import boxes_mask
from kclass.errors import ConfigError

MODES = ("const", "rand", "pixel")


def _number(value):
    # PaddleClas configs write fractions as strings ("1.0/3.0") and eval them.
    if isinstance(value, str):
        num, _, den = value.partition("/")
        return float(num) / float(den) if den else float(num)
    return float(value)


class RandomErasing:
    """PaddleClas RandomErasing(EPSILON=0.5, sl=0.02, sh=0.4, r1=0.3, mean=(0., 0., 0.), attempt=100,
    use_log_aspect=False, mode='const')."""

    def __init__(self, EPSILON=0.5, sl=0.02, sh=0.4, r1=0.3, mean=(0., 0., 0.), attempt=100,  # noqa: N803
                 use_log_aspect=False, mode="const"):
        self.EPSILON = _number(EPSILON)
        self.sl, self.sh, r1 = _number(sl), _number(sh), _number(r1)
        if not 0 < self.sl <= self.sh:
            raise ConfigError(f"RandomErasing: need 0 < sl <= sh, got sl={sl}, sh={sh}")
        if not r1 > 0:
            raise ConfigError(f"RandomErasing: r1 must be > 0, got {r1}")
        if mode not in MODES:
            raise ConfigError(f"RandomErasing: mode must be one of {MODES}, got {mode!r}")
        if int(attempt) < 1:
            raise ConfigError(f"RandomErasing: attempt must be >= 1, got {attempt}")
        self.r1 = (r1, 1.0 / r1)
        self.use_log_aspect = bool(use_log_aspect)
        self.mean = tuple(float(m) for m in mean)
        self.attempt = int(attempt)
        self.mode = mode

    def boxes(self, n, height, width, seed):
        """Per image (erase bool [N], y1, y2, x1, x2 int32 [N]) for this seed."""
        seeds = rng.split(seed, 5)
        shape = tf.stack([n, self.attempt])
        area = tf.cast(height * width, tf.float32)
        target = tf.random.stateless_uniform(shape, seeds[0], self.sl, self.sh) * area
        lo, hi = self.r1
        if self.use_log_aspect:
            aspect = tf.exp(tf.random.stateless_uniform(shape, seeds[1], math.log(lo), math.log(hi)))
        else:
            aspect = tf.random.stateless_uniform(shape, seeds[1], min(lo, hi), max(lo, hi))
        h = tf.cast(tf.round(tf.sqrt(target * aspect)), tf.int32)
        w = tf.cast(tf.round(tf.sqrt(target / aspect)), tf.int32)
        fits = (h < height) & (w < width)
        first = tf.argmax(tf.cast(fits, tf.int32), axis=1, output_type=tf.int32)
        h = tf.gather(h, first, batch_dims=1)
        w = tf.gather(w, first, batch_dims=1)
        erase = rng.bernoulli([n], seeds[2], self.EPSILON) & tf.reduce_any(fits, axis=1)
        y1 = rng.randint([n], seeds[3], 0, tf.maximum(height - h + 1, 1))
        x1 = rng.randint([n], seeds[4], 0, tf.maximum(width - w + 1, 1))
        return erase, y1, y1 + h, x1, x1 + w

    def __call__(self, images, seed):
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        n, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        seeds = rng.split(seed, 2)
        erase, y1, y2, x1, x2 = self.boxes(n, height, width, seeds[0])
        inside = boxes_mask(y1[:, None], y2[:, None], x1[:, None], x2[:, None], height, width)
        inside = inside & erase[:, None, None, None]
        if self.mode == "const":
            fill = tf.reshape(tf.constant(self.mean, tf.float32), [1, 1, 1, -1])
        elif self.mode == "rand":
            fill = tf.random.stateless_normal(tf.stack([n, 1, 1, channels]), seeds[1])
        else:
            fill = tf.random.stateless_normal(shape, seeds[1])
        return tf.where(inside, tf.cast(fill, images.dtype), images)
