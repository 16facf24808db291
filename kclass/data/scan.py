"""One parallel decoding pass over image files: which do not decode, and facts about those that do.

Used before training (on_bad_image='skip') and by `kclass.check_data`.
"""

from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from kclass.data import transforms


def decoded_batches(paths: Sequence[str], describe: Optional[Callable] = None, max_pixels: int = 0,
                    decode: Callable = transforms.decode, batch: int = 256
                    ) -> Iterator[Tuple[np.ndarray, Dict[str, np.ndarray]]]:
    """Yields (indices int64 [B], {name: [B, ...]}) for the `paths` whose image decodes.

    `describe(encoded, image)` -> dict of fixed-shape tensors, computed in the tf.data map (parallel);
    `decode` turns the file's bytes into an image (default: training's decoder). A file that cannot be
    read or decoded (or has more than `max_pixels` pixels, when > 0) is dropped by `ignore_errors`: the
    indices never yielded are exactly the bad files.
    """
    def one(index, path):
        encoded = tf.io.read_file(path)
        image = decode(encoded)
        if max_pixels:
            pixels = tf.cast(tf.shape(image)[0], tf.int64) * tf.cast(tf.shape(image)[1], tf.int64)
            tf.debugging.assert_less_equal(pixels, tf.constant(max_pixels, tf.int64), "image too large")
        facts = describe(encoded, image) if describe else {}
        # The index must depend on the decode, or graph pruning would skip decoding altogether.
        return index + 0 * tf.cast(tf.size(image), tf.int64), facts

    ds = tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), list(paths)))
    ds = ds.map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).ignore_errors()
    yield from ds.batch(batch).prefetch(2).as_numpy_iterator()


def undecodable(paths: Sequence[str], max_pixels: int = 0) -> List[int]:
    """Indices of `paths` whose image cannot be decoded (corrupt, truncated, not an image, too big)."""
    if not len(paths):
        return []
    good = np.concatenate([indices for indices, _ in decoded_batches(paths, max_pixels=max_pixels)] or
                          [np.zeros([0], np.int64)])
    return sorted(set(range(len(paths))) - set(good.tolist()))
