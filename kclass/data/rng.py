"""Stateless random helpers shared by the augmentation ops (same seed -> same draw, graph-safe)."""

import tensorflow as tf


def split(seed, num):
    """int [2] seed -> [num, 2] independent seeds."""
    return tf.random.experimental.stateless_split(seed, num)


def randint(shape, seed, low, high):
    """Uniform integers in [low, high) (numpy's randint), int32 of `shape`.

    `low`/`high` may be tensors broadcastable to `shape` (per-image bounds); high > low assumed.
    """
    low = tf.cast(low, tf.float32)
    high = tf.cast(high, tf.float32)
    u = tf.random.stateless_uniform(shape, seed)
    value = tf.floor(low + u * (high - low))
    return tf.cast(tf.minimum(value, high - 1.0), tf.int32)


def bernoulli(shape, seed, prob):
    """True with probability `prob`, bool of `shape`."""
    return tf.random.stateless_uniform(shape, seed) < prob
