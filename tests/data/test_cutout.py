import numpy as np
import pytest
import tensorflow as tf

from kclass.data.cutout import Cutout
from kclass.errors import ConfigError


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def _images(n=8, s=32, dtype=tf.float32):
    return tf.constant(np.random.default_rng(0).uniform(0.5, 2.0, size=(n, s, s, 3)), dtype)


def test_zeroes_exactly_one_clipped_square_per_image():
    x = _images(64)
    out = Cutout(n_holes=1, length=10)(x, _seed(1)).numpy()
    zero = np.all(out == 0, axis=-1)
    untouched = np.all(out == x.numpy(), axis=-1)
    assert np.all(zero | untouched)  # nothing but the hole changed
    interior = 0
    for hole in zero:
        rows, cols = np.nonzero(hole)
        assert rows.size > 0
        assert hole.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # one filled rectangle
        assert np.ptp(rows) + 1 <= 10 and np.ptp(cols) + 1 <= 10
        if rows.min() > 0 and rows.max() < 31 and cols.min() > 0 and cols.max() < 31:
            interior += 1
            assert hole.sum() == 100  # [c - 5, c + 5) unclipped
    assert interior > 0


def test_mean_hole_area_matches_uniform_centres():
    s, length, n = 32, 16, 512
    half = length // 2
    sides = [min(c + half, s) - max(c - half, 0) for c in range(s)]
    expected = np.mean(sides) ** 2 / (s * s)
    out = Cutout(n_holes=1, length=length)(tf.ones([n, s, s, 3]), _seed(2)).numpy()
    assert abs(np.mean(out[..., 0] == 0) - expected) < 0.02


def test_several_holes_and_dtypes():
    x = tf.ones([16, 32, 32, 3], tf.bfloat16)
    one = Cutout(n_holes=1, length=8)(x, _seed(3))
    three = Cutout(n_holes=3, length=8)(x, _seed(3))
    assert three.dtype == tf.bfloat16 and three.shape == x.shape
    assert np.mean(three.numpy() == 0) > 1.5 * np.mean(one.numpy() == 0)
    u8 = Cutout(1, 8)(tf.fill([2, 16, 16, 3], tf.constant(7, tf.uint8)), _seed(3))
    assert u8.dtype == tf.uint8 and set(np.unique(u8.numpy())) <= {0, 7}


def test_seeded():
    x = _images()
    op = Cutout(1, 12)
    np.testing.assert_array_equal(op(x, _seed(4)).numpy(), op(x, _seed(4)).numpy())
    assert not np.array_equal(op(x, _seed(4)).numpy(), op(x, _seed(5)).numpy())


def test_runs_in_tf_data_with_unknown_batch():
    op = Cutout(1, 12)
    ds = tf.data.Dataset.from_tensor_slices(_images(7)).batch(3).enumerate()
    ds = ds.map(lambda step, x: op(x, tf.stack([tf.constant(1, tf.int64), step])))
    assert ds.element_spec.shape.as_list() == [None, 32, 32, 3]
    assert [int(b.shape[0]) for b in ds] == [3, 3, 1]


def test_rejects_bad_parameters():
    with pytest.raises(ConfigError):
        Cutout(n_holes=0)
