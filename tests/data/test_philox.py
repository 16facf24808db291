"""The batched Philox draws equal TensorFlow's per-seed stateless ops, seed by seed."""

import numpy as np
import pytest
import tensorflow as tf

from kclass.data import philox


@pytest.fixture(scope="module")
def seeds():
    rng = np.random.default_rng(0)
    extreme = [[0, 0], [-1, -1], [2 ** 63 - 1, -2 ** 63], [42, 2 ** 32], [1, 2 ** 32 - 1]]
    drawn = rng.integers(-2 ** 63, 2 ** 63 - 1, size=(300, 2), dtype=np.int64)
    stream = np.stack([np.full(300, 42), np.arange(300)], axis=1)  # the pipeline's (seed, position)
    return tf.constant(np.concatenate([extreme, drawn, stream]).astype(np.int64))


def _per_seed(fn, seeds, dtype):
    return tf.map_fn(fn, seeds, fn_output_signature=dtype).numpy()


@pytest.mark.parametrize("num", [1, 2, 4])
def test_split_equals_stateless_split(seeds, num):
    want = _per_seed(lambda s: tf.random.experimental.stateless_split(s, num), seeds, tf.int64)
    np.testing.assert_array_equal(philox.split(seeds, num).numpy(), want)


def test_uint32_draw_equals_a_full_range_draw(seeds):
    want = _per_seed(lambda s: tf.random.stateless_uniform([], s, minval=None, maxval=None, dtype=tf.uint32),
                     seeds, tf.uint32)
    np.testing.assert_array_equal(philox.uint32_draw(seeds).numpy(), want.astype(np.int64))


def test_unit_float_and_modulo_give_the_float_and_integer_draws(seeds):
    bits = philox.uint32_draw(seeds)
    floats = _per_seed(lambda s: tf.random.stateless_uniform([], s), seeds, tf.float32)
    np.testing.assert_array_equal(philox.unit_float(bits).numpy(), floats)
    for high in (2, 7, 33, 2 ** 31 - 1):
        ints = _per_seed(lambda s: tf.random.stateless_uniform([], s, 0, high, dtype=tf.int32), seeds, tf.int32)
        np.testing.assert_array_equal((bits % high).numpy(), ints)


def test_the_draws_work_inside_a_graph_on_a_dynamic_number_of_seeds(seeds):
    graph = tf.function(lambda s: philox.split(s, 3), input_signature=[tf.TensorSpec([None, 2], tf.int64)])
    np.testing.assert_array_equal(graph(seeds).numpy(), philox.split(seeds, 3).numpy())
