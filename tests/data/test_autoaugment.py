import numpy as np
import tensorflow as tf

from kclass.data import image_ops
from kclass.data.autoaugment import IMAGENET_POLICY, RANGES, AutoAugment

S = 32


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def _images(n=8):
    return tf.constant(np.random.default_rng(0).integers(0, 256, size=(n, S, S, 3)), tf.uint8)


def test_policy_tables_are_paddleclas():
    assert len(IMAGENET_POLICY) == 25
    assert list(RANGES["posterize"]) == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
    assert RANGES["solarize"][5] == 256 - 5 * 256 / 9
    assert RANGES["rotate"][9] == 30.0
    assert all(p[1] in image_ops.OP_ID and p[4] in image_ops.OP_ID for p in IMAGENET_POLICY)


def test_keeps_dtype_shape_and_changes_images():
    x = _images()
    out = AutoAugment()(x, _seed(1))
    assert out.dtype == tf.uint8 and out.shape == x.shape
    assert np.mean(np.any(out.numpy() != x.numpy(), axis=(1, 2, 3))) > 0.5


def test_stages_chain_and_follow_their_probabilities():
    x = _images(400)
    twice = AutoAugment(policy=[(1.0, "invert", 0, 1.0, "invert", 0)])(x, _seed(2))
    np.testing.assert_array_equal(twice.numpy(), x.numpy())
    posterized = AutoAugment(policy=[(1.0, "posterize", 8, 1.0, "solarize", 0)])(x, _seed(2))
    np.testing.assert_array_equal(posterized.numpy(), x.numpy() & 0xF0)  # 4 bits; threshold 256 = no-op
    half = AutoAugment(policy=[(0.5, "invert", 0, 0.0, "invert", 0)])(x, _seed(3)).numpy()
    inverted = np.all(half == 255 - x.numpy(), axis=(1, 2, 3))
    kept = np.all(half == x.numpy(), axis=(1, 2, 3))
    assert np.all(inverted ^ kept) and abs(inverted.mean() - 0.5) < 0.08


def test_sub_policies_are_drawn_uniformly():
    index, stages = AutoAugment().sample(2500, _seed(4))
    counts = np.bincount(index.numpy(), minlength=25)
    assert counts.min() > 60 and counts.max() < 140
    # Sub-policy 12 has p1 = 0: its first stage never runs.
    ops1 = stages[0][0].numpy()
    assert np.all(ops1[index.numpy() == 12] == image_ops.IDENTITY)


def test_seeded():
    x = _images()
    op = AutoAugment()
    np.testing.assert_array_equal(op(x, _seed(5)).numpy(), op(x, _seed(5)).numpy())
    assert not np.array_equal(op(x, _seed(5)).numpy(), op(x, _seed(6)).numpy())


def test_runs_in_tf_data_with_unknown_batch():
    op = AutoAugment()
    ds = tf.data.Dataset.from_tensor_slices(_images(5)).batch(2).enumerate()
    ds = ds.map(lambda step, b: op(b, tf.stack([tf.constant(3, tf.int64), step])))
    assert ds.element_spec.shape.as_list() == [None, S, S, 3] and ds.element_spec.dtype == tf.uint8
    assert [int(b.shape[0]) for b in ds] == [2, 2, 1]
    # Traced into a graph and used eagerly afterwards: nothing graph-bound is cached.
    assert op(_images(2), _seed(1)).shape[0] == 2
