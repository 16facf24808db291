import numpy as np
import pytest
import tensorflow as tf

from kclass.data import image_ops
from kclass.data.randaugment import RandAugment, level_map
from kclass.errors import ConfigError

S = 32


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def _images(n=8):
    return tf.constant(np.random.default_rng(0).integers(0, 256, size=(n, S, S, 3)), tf.uint8)


def test_level_map_is_paddleclas():
    levels = level_map(5)
    assert levels["posterize"] == 2 and levels["solarize"] == 128.0 and levels["rotate"] == 15.0
    assert abs(levels["translateX"] - 150 / 331 / 2) < 1e-12 and levels["shearX"] == 0.15
    assert set(levels) == set(image_ops.OP_NAMES)


def test_each_image_gets_its_drawn_op():
    x = _images(28)
    op = RandAugment(num_layers=1, magnitude=7)
    seeds = tf.random.experimental.stateless_split(_seed(1), 2)
    ops = op.sample(28, seeds[0]).numpy()[0]
    out = op(x, _seed(1)).numpy()
    levels = level_map(7)
    for i, k in enumerate(ops):
        name = image_ops.OP_NAMES[k]
        m = float(levels[name])
        expected = [image_ops.apply_ops(x[i:i + 1], [k], [m], _seed(0), signs=[s]).numpy()[0] for s in (1, -1)]
        assert any(np.array_equal(out[i], e) for e in expected), name
    assert len(set(ops.tolist())) > 8


def test_ops_are_uniform_and_layers_compose():
    ops = RandAugment(num_layers=2).sample(2800, _seed(2)).numpy()
    assert ops.shape == (2, 2800)
    counts = np.bincount(ops.ravel(), minlength=14)
    assert counts.min() > 300 and counts.max() < 500
    x = _images()
    np.testing.assert_array_equal(RandAugment(num_layers=0)(x, _seed(3)).numpy(), x.numpy())


def test_keeps_dtype_shape_range_and_is_seeded():
    x = _images()
    op = RandAugment()
    out = op(x, _seed(4))
    assert out.dtype == tf.uint8 and out.shape == x.shape
    np.testing.assert_array_equal(out.numpy(), op(x, _seed(4)).numpy())
    assert not np.array_equal(out.numpy(), op(x, _seed(5)).numpy())


def test_runs_in_tf_data_with_unknown_batch():
    op = RandAugment(num_layers=3, magnitude=9)
    ds = tf.data.Dataset.from_tensor_slices(_images(5)).batch(2).enumerate()
    ds = ds.map(lambda step, b: op(b, tf.stack([tf.constant(3, tf.int64), step])))
    assert ds.element_spec.shape.as_list() == [None, S, S, 3] and ds.element_spec.dtype == tf.uint8
    assert [int(b.shape[0]) for b in ds] == [2, 2, 1]


def test_rejects_bad_parameters():
    with pytest.raises(ConfigError):
        RandAugment(magnitude=11)
