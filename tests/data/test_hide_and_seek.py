import numpy as np
import tensorflow as tf

from kclass.data.hide_and_seek import HideAndSeek

S = 32


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def _hidden(op, n=64, seed=1):
    return op(tf.fill([n, S, S, 3], 3.0), _seed(seed)).numpy()[..., 0] == 0


def test_cells_are_hidden_whole_with_hide_prob():
    for grid in (8, 12):
        hidden = _hidden(HideAndSeek(grid_sizes=(grid,), hide_prob=0.5), n=128)
        cells = []
        for r in range(0, S, grid):
            for c in range(0, S, grid):
                block = hidden[:, r:r + grid, c:c + grid]
                whole = block.reshape(len(block), -1)
                assert np.all(whole.all(axis=1) | ~whole.any(axis=1))  # all or nothing per cell
                cells.append(whole[:, 0])
        assert abs(np.mean(cells) - 0.5) < 0.05


def test_default_hidden_fraction_and_grid_zero():
    # 32x32 images: size 0 leaves the image (1/5), 16 hides quarters, 32/44/56 the whole image.
    hidden = _hidden(HideAndSeek(), n=600)
    assert abs(hidden.mean() - 0.8 * 0.5) < 0.05
    assert not _hidden(HideAndSeek(grid_sizes=(0,)), n=8).any()
    whole = _hidden(HideAndSeek(grid_sizes=(44,), hide_prob=0.5), n=200)
    per_image = whole.reshape(200, -1)
    assert np.all(per_image.all(axis=1) | ~per_image.any(axis=1))


def test_seeded_dtype_and_tf_data():
    op = HideAndSeek(grid_sizes=(8,))
    x = tf.random.stateless_normal([5, S, S, 3], _seed(0), dtype=tf.float32)
    np.testing.assert_array_equal(op(x, _seed(2)).numpy(), op(x, _seed(2)).numpy())
    assert not np.array_equal(op(x, _seed(2)).numpy(), op(x, _seed(3)).numpy())
    assert op(tf.cast(x, tf.bfloat16), _seed(2)).dtype == tf.bfloat16
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2).enumerate()
    ds = ds.map(lambda step, b: op(b, tf.stack([tf.constant(3, tf.int64), step])))
    assert ds.element_spec.shape.as_list() == [None, S, S, 3]
    assert [int(b.shape[0]) for b in ds] == [2, 2, 1]
