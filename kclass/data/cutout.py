"""Cutout (PaddleClas ops/cutout.py): zero `n_holes` squares of side `length` per image.

images [N, H, W, C] (normalised float in the pipeline, any dtype works) -> same dtype and shape.
Each hole's centre is uniform over the image; the square [c - length // 2, c + length // 2) is clipped
at the borders, so holes near an edge are smaller (PaddleClas). No Keras layer is used: Keras core has
no Cutout, and its RandomErasing samples area and aspect instead of a fixed side.
"""

import tensorflow as tf

from kclass.data import rng
from kclass.data.boxes import boxes_mask
from kclass.errors import ConfigError


class Cutout:
    """PaddleClas Cutout(n_holes=1, length=112); fill 0 (the dataset mean once normalised)."""

    def __init__(self, n_holes=1, length=112):
        if int(n_holes) < 1 or int(length) < 1:
            raise ConfigError(f"Cutout: n_holes and length must be >= 1, got {n_holes}, {length}")
        self.n_holes = int(n_holes)
        self.length = int(length)

    def mask(self, n, height, width, seed):
        """bool [N, H, W, 1], True where a hole is."""
        seeds = rng.split(seed, 2)
        cy = rng.randint(tf.stack([n, self.n_holes]), seeds[0], 0, height)
        cx = rng.randint(tf.stack([n, self.n_holes]), seeds[1], 0, width)
        half = self.length // 2
        return boxes_mask(tf.clip_by_value(cy - half, 0, height), tf.clip_by_value(cy + half, 0, height),
                          tf.clip_by_value(cx - half, 0, width), tf.clip_by_value(cx + half, 0, width),
                          height, width)

    def __call__(self, images, seed):
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        hole = self.mask(shape[0], shape[1], shape[2], seed)
        return tf.where(hole, tf.zeros([], images.dtype), images)
