"""Finding images that do not decode, in parallel, before training starts (on_bad_image='skip')."""

from typing import List, Sequence

import tensorflow as tf

from kclass.data import transforms


def undecodable(paths: Sequence[str], max_pixels: int = 0) -> List[int]:
    """Indices of `paths` whose image cannot be decoded (corrupt, truncated, not an image, too big).

    Decodes everything once with tf.data (parallel); a failing element is dropped by
    `ignore_errors`, so the missing indices are exactly the bad files. `max_pixels` > 0 also rejects
    images larger than that many pixels.
    """
    def check(index, path):
        image = transforms.decode(tf.io.read_file(path))
        if max_pixels:
            pixels = tf.cast(tf.shape(image)[0], tf.int64) * tf.cast(tf.shape(image)[1], tf.int64)
            tf.debugging.assert_less_equal(pixels, tf.constant(max_pixels, tf.int64), "image too large")
        # The index must depend on the decode, or graph pruning would skip decoding altogether.
        return index + 0 * tf.cast(tf.size(image), tf.int64)

    ds = tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), list(paths)))
    ds = ds.map(check, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    good = {int(i) for i in ds.as_numpy_iterator()}
    return [i for i in range(len(paths)) if i not in good]
