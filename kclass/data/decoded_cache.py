"""Every image of a split decoded once and held in memory, when the pixels fit a budget.

Training reads and decodes each file again every epoch; a set whose uint8 pixels fit in memory (CIFAR's
50,000 32x32 images are 150 MB) can be decoded once instead. The pixels come from the same decode op
the file path uses (`transforms.decode`), so the training stream is identical with or without it.
"""

import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from kclass.data import transforms
from kclass.errors import DataError


class DecodedImages:
    """uint8 pixels of N images, concatenated; `image(index)` gives one back as uint8 [H, W, 3]."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, shapes: np.ndarray):
        self.nbytes = int(flat.size)
        self.flat = tf.constant(flat)        # uint8 [sum of H * W * 3]
        self.offsets = tf.constant(offsets)  # int64 [N + 1]
        self.shapes = tf.constant(shapes)    # int64 [N, 3]

    def image(self, index):
        """Graph-safe: int64 scalar index -> uint8 [H, W, 3]."""
        start, end = self.offsets[index], self.offsets[index + 1]
        image = tf.reshape(self.flat[start:end], self.shapes[index])
        image.set_shape([None, None, 3])
        return image


def decode_all(paths: Sequence[str], budget_mb: float) -> Optional[DecodedImages]:
    """Decodes `paths` (in parallel, in order); None as soon as their pixels pass `budget_mb` MB."""
    budget = budget_mb * 2 ** 20
    # Compressed files decode to more bytes than they hold: a set whose files alone pass the budget is
    # refused before anything is decoded.
    if sum(os.path.getsize(p) for p in paths if os.path.isfile(p)) > budget:
        return None
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(list(paths), tf.string))
    ds = ds.map(lambda path: transforms.decode(tf.io.read_file(path)), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True).prefetch(tf.data.AUTOTUNE)
    chunks, shapes, total = [], [], 0
    iterator = ds.as_numpy_iterator()
    while True:
        try:
            image = next(iterator)
        except StopIteration:
            break
        except tf.errors.InvalidArgumentError as e:
            lines = [line.strip() for line in str(e.message).splitlines()]
            detail = next((line for line in lines if ("decode" in line.lower() or "image" in line.lower())
                           and "{{" not in line and "[[" not in line), "not a JPEG/PNG/BMP/GIF TF decodes")[:200]
            raise DataError(f"{paths[len(chunks)]}: the image could not be decoded ({detail}); set "
                            "Experiment.on_bad_image='skip' to drop such files, or fix the file") from None
        total += image.size
        if total > budget:
            return None
        chunks.append(image.reshape(-1))
        shapes.append(image.shape)
    offsets = np.concatenate([[0], np.cumsum([c.size for c in chunks])]).astype(np.int64)
    flat = np.concatenate(chunks) if chunks else np.zeros([0], np.uint8)
    return DecodedImages(flat, offsets, np.asarray(shapes, np.int64).reshape(-1, 3))
