"""TensorFlow's stateless random draws for a whole vector of seeds at once, bit for bit.

`tf.random.stateless_uniform` and `stateless_split` take one seed [2] per call, so a per-image draw is
a dozen small ops per image in the input pipeline. Here the same Philox-4x32-10 stream (TF's CPU
algorithm) runs on a vector of seeds with a few hundred elementwise ops for all of them: the values
equal the per-seed ops' exactly (tests/data/test_philox.py compares them seed by seed).

Words are uint32 values held in uint64 tensors, so a 32x32-bit product fits.
"""

import tensorflow as tf

_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
_SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)  # TF's seed-scrambling key 0x02461E293EC8F720, low word first
_LOW = 0xFFFFFFFF


def _u64(value):
    return tf.constant(value, tf.uint64)


def philox(counter, key):
    """Philox-4x32-10: counter uint64 [N, 4] and key [N, 2] (uint32 values) -> uint64 [N, 4]."""
    c0, c1, c2, c3 = tf.unstack(counter, 4, axis=-1)
    k0, k1 = tf.unstack(key, 2, axis=-1)
    for round_ in range(10):
        p0, p1 = _u64(_MULTIPLIERS[0]) * c0, _u64(_MULTIPLIERS[1]) * c2
        hi0, lo0 = tf.bitwise.right_shift(p0, _u64(32)), tf.bitwise.bitwise_and(p0, _u64(_LOW))
        hi1, lo1 = tf.bitwise.right_shift(p1, _u64(32)), tf.bitwise.bitwise_and(p1, _u64(_LOW))
        c0, c1, c2, c3 = (tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(hi1, c1), k0), lo1,
                          tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(hi0, c3), k1), lo0)
        if round_ < 9:
            k0 = tf.bitwise.bitwise_and(k0 + _u64(_KEY_STEPS[0]), _u64(_LOW))
            k1 = tf.bitwise.bitwise_and(k1 + _u64(_KEY_STEPS[1]), _u64(_LOW))
    return tf.stack([c0, c1, c2, c3], axis=-1)


def _words(x):
    """int64 [N] -> uint64 [N, 2]: its low and high 32 bits."""
    x = tf.bitcast(x, tf.uint64)
    return tf.stack([tf.bitwise.bitwise_and(x, _u64(_LOW)), tf.bitwise.right_shift(x, _u64(32))], axis=-1)


def key_counter(seeds):
    """seeds int64 [N, 2] -> (key uint64 [N, 2], counter [N, 4]), as TF scrambles a seed (Philox)."""
    counter = tf.concat([_words(seeds[:, 0]), _words(seeds[:, 1])], axis=-1)
    key = tf.broadcast_to(tf.constant(_SCRAMBLE_KEY, tf.uint64), tf.shape(counter[:, :2]))
    mix = philox(counter, key)
    zeros = tf.zeros_like(mix[:, :2])
    return mix[:, :2], tf.concat([zeros, mix[:, 2:]], axis=-1)


def _block(seeds, block):
    """The `block`-th Philox output [N, 4] of each seed's stream (its counter + block)."""
    key, counter = key_counter(seeds)
    # The scrambled counter's low word is 0, so adding a small block number never carries.
    return philox(counter + tf.constant([block, 0, 0, 0], tf.uint64), key)


def split(seeds, num):
    """`tf.random.experimental.stateless_split` of each seed: int64 [N, 2] -> [N, num, 2]."""
    halves = []
    for block in range(num):  # block b holds new seed b: two int64s, low word first
        words = _block(seeds, block)
        low = tf.bitwise.bitwise_or(words[:, 0], tf.bitwise.left_shift(words[:, 1], _u64(32)))
        high = tf.bitwise.bitwise_or(words[:, 2], tf.bitwise.left_shift(words[:, 3], _u64(32)))
        halves.append(tf.bitcast(tf.stack([low, high], axis=-1), tf.int64))
    return tf.stack(halves, axis=1)


def uint32_draw(seeds):
    """`tf.random.stateless_uniform([], seed, dtype=tf.uint32)` (full range) of each seed: int64 [N].

    One uint32 is what every scalar draw starts from: a float is its low 23 bits (`unit_float`),
    an integer in [lo, hi) is lo + bits % (hi - lo).
    """
    return tf.bitcast(_block(seeds, 0)[:, 0], tf.int64)


def unit_float(bits):
    """uint32 draws (int64 [...]) -> float32 in [0, 1), as TF's uniform float: the low 23 bits as mantissa."""
    mantissa = tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(bits, 0x7FFFFF), 0x3F800000)
    return tf.bitcast(tf.cast(mantissa, tf.int32), tf.float32) - 1.0
