"""HideAndSeek (PaddleClas ops/hide_and_seek.py): split each image into a grid and zero each cell with
probability `hide_prob`; the grid size is drawn per image from `grid_sizes` (0 = leave the image).

images [N, H, W, C] normalised float (0 is the dataset mean) -> same dtype and shape. Cells are
`grid_size` squares from the top-left corner, the last row/column cut by the border. No Keras layer has
these semantics.
"""

import tensorflow as tf

from kclass.data import rng
from kclass.errors import ConfigError


class HideAndSeek:
    """PaddleClas HideAndSeek: grid_sizes (0, 16, 32, 44, 56), hide_prob 0.5 (its fixed values)."""

    def __init__(self, grid_sizes=(0, 16, 32, 44, 56), hide_prob=0.5):
        sizes = [int(g) for g in grid_sizes]
        if not sizes or any(g < 0 for g in sizes):
            raise ConfigError(f"HideAndSeek: grid_sizes must be non-empty and >= 0, got {grid_sizes}")
        self.grid_sizes = tuple(sizes)
        self.hide_prob = float(hide_prob)

    def mask(self, n, height, width, seed):
        """bool [N, H, W, 1], True where hidden."""
        seeds = rng.split(seed, 2)
        pick = rng.randint([n], seeds[0], 0, len(self.grid_sizes))
        grid = tf.gather(tf.constant(self.grid_sizes, tf.int32), pick)
        # Grid 0 hides nothing; give it one cell covering the image so its indices stay in range.
        safe = tf.where(grid > 0, grid, tf.maximum(height, width))[:, None]
        smallest = max(1, min([g for g in self.grid_sizes if g > 0], default=1))
        cells = (tf.maximum(height, width) + smallest - 1) // smallest
        # One coin per cell of the finest grid; an image uses the first rows/columns it needs.
        coins = tf.random.stateless_uniform(tf.stack([n, cells * cells]), seeds[1]) <= self.hide_prob
        cell_row = tf.range(height)[None, :] // safe
        cell_col = tf.range(width)[None, :] // safe
        index = cell_row[:, :, None] * cells + cell_col[:, None, :]
        hidden = tf.gather(coins, tf.reshape(index, tf.stack([n, -1])), batch_dims=1)
        hidden = tf.reshape(hidden, tf.stack([n, height, width])) & (grid > 0)[:, None, None]
        return hidden[..., None]

    def __call__(self, images, seed):
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        hidden = self.mask(shape[0], shape[1], shape[2], seed)
        return tf.where(hidden, tf.zeros([], images.dtype), images)
