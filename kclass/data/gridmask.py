"""GridMask (PaddleClas ops/grid.py), computed analytically per pixel instead of drawing a mask image.

Per image, with probability `prob`: d ~ randint(d1, d2), l = int(d * ratio + 0.5), offsets st_h, st_w ~
randint(d), angle ~ randint(rotate) degrees. On a canvas of int(1.5 H) x int(1.5 W), rows with
(y - st_h) mod d < l and columns with (x - st_w) mod d < l are 0, the rest 1; the canvas is rotated
(PIL nearest, outside -> 0), its centre H x W crop is the mask; mode 1 inverts it; image * mask.
With the defaults (mode 0, ratio 0.5) about 3/4 of each image is zeroed, as in PaddleClas.

Deviation: PaddleClas scales `prob` by CURR_EPOCH / NUM_EPOCHS through module globals that its trainer
never advances; kclass applies `prob` as given.

images [N, H, W, C] normalised float -> same dtype and shape. No Keras layer has these semantics.
"""

import math

import tensorflow as tf

from kclass.data import rng
from kclass.errors import ConfigError


class GridMask:
    """PaddleClas GridMask(d1=96, d2=224, rotate=1, ratio=0.5, mode=0, prob=1.0)."""

    def __init__(self, d1=96, d2=224, rotate=1, ratio=0.5, mode=0, prob=1.0):
        if not 1 <= int(d1) < int(d2):
            raise ConfigError(f"GridMask: need 1 <= d1 < d2, got d1={d1}, d2={d2}")
        if int(rotate) < 1:
            raise ConfigError(f"GridMask: rotate must be >= 1 (angles are randint(rotate)), got {rotate}")
        if int(mode) not in (0, 1):
            raise ConfigError(f"GridMask: mode must be 0 or 1, got {mode}")
        self.d1, self.d2, self.rotate = int(d1), int(d2), int(rotate)
        self.ratio = float(ratio)
        self.mode = int(mode)
        self.prob = float(prob)

    def sample(self, n, seed):
        """Per-image parameters: (d, st_h, st_w int32 [N], angle float32 [N] degrees, apply bool [N])."""
        seeds = rng.split(seed, 5)
        d = rng.randint([n], seeds[0], self.d1, self.d2)
        st_h = rng.randint([n], seeds[1], 0, d)
        st_w = rng.randint([n], seeds[2], 0, d)
        angle = tf.cast(rng.randint([n], seeds[3], 0, self.rotate), tf.float32)
        return d, st_h, st_w, angle, rng.bernoulli([n], seeds[4], self.prob)

    def mask(self, n, height, width, seed):
        """float32 [N, H, W, 1] of 0/1 (all ones where the coin says skip)."""
        return self.mask_from(*self.sample(n, seed), height, width)

    def mask_from(self, d, st_h, st_w, angle, apply, height, width):
        """The mask for given per-image parameters (see `sample`), float32 [N, H, W, 1]."""
        stripe = tf.cast(tf.cast(d, tf.float32) * self.ratio + 0.5, tf.int32)
        hh = tf.cast(tf.cast(height, tf.float32) * 1.5, tf.int32)
        ww = tf.cast(tf.cast(width, tf.float32) * 1.5, tf.int32)
        # Canvas pixel centres of the H x W crop, then PIL rotate's inverse map (centre ww/2, hh/2).
        ys = tf.cast(tf.range(height) + (hh - height) // 2, tf.float32) + 0.5
        xs = tf.cast(tf.range(width) + (ww - width) // 2, tf.float32) + 0.5
        cy = tf.cast(hh, tf.float32) / 2.0
        cx = tf.cast(ww, tf.float32) / 2.0
        theta = -angle * (math.pi / 180.0)
        cos = tf.reshape(tf.cos(theta), [-1, 1, 1])
        sin = tf.reshape(tf.sin(theta), [-1, 1, 1])
        dy = (ys - cy)[None, :, None]
        dx = (xs - cx)[None, None, :]
        src_x = tf.cast(tf.floor(cos * dx + sin * dy + cx), tf.int32)
        src_y = tf.cast(tf.floor(-sin * dx + cos * dy + cy), tf.int32)
        inside = (src_x >= 0) & (src_x < ww) & (src_y >= 0) & (src_y < hh)
        d3 = tf.reshape(d, [-1, 1, 1])
        on_row = tf.math.floormod(src_y - tf.reshape(st_h, [-1, 1, 1]), d3) < tf.reshape(stripe, [-1, 1, 1])
        on_col = tf.math.floormod(src_x - tf.reshape(st_w, [-1, 1, 1]), d3) < tf.reshape(stripe, [-1, 1, 1])
        keep = inside & ~on_row & ~on_col
        if self.mode == 1:
            keep = ~keep
        keep = keep | ~apply[:, None, None]
        return tf.cast(keep, tf.float32)[..., None]

    def __call__(self, images, seed):
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        return images * tf.cast(self.mask(shape[0], shape[1], shape[2], seed), images.dtype)
