import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from kclass.data import balance
from kclass.errors import DataError

# 60 : 6 : 0 : 3 images (class 2 has none): ratio 20.
LABELS = np.array([0] * 60 + [1] * 6 + [3] * 3)


def _seed(a, b):
    return tf.constant([a, b], tf.int64)


def test_balanced_weights_are_sklearns_with_mean_one_over_the_images():
    present = np.array([0, 1, 3])
    weights = balance.balanced_weights(LABELS, 4)
    np.testing.assert_allclose(weights[present], compute_class_weight("balanced", classes=present, y=LABELS))
    assert weights[2] == 0  # no image carries class 2
    assert weights[LABELS].mean() == pytest.approx(1.0)


def test_balanced_weights_refuse_multi_label_and_unlabelled_lists():
    with pytest.raises(DataError, match="pos_weight"):
        balance.balanced_weights(np.eye(3), 3)
    with pytest.raises(DataError, match="unlabelled"):
        balance.balanced_weights(np.array([0, 1, -1]), 2)


def test_a_balanced_epoch_is_a_pure_function_of_its_seed():
    draw = balance.balanced_draw(LABELS)
    first = draw(_seed(7, 0)).numpy()
    np.testing.assert_array_equal(first, balance.balanced_draw(LABELS)(_seed(7, 0)).numpy())
    assert not np.array_equal(first, draw(_seed(7, 1)).numpy())  # another epoch
    assert not np.array_equal(first, draw(_seed(8, 0)).numpy())  # another seed


@pytest.mark.parametrize("epoch", range(4))
def test_a_balanced_epoch_holds_each_class_equally_often(epoch):
    picked = balance.balanced_draw(LABELS)(_seed(3, epoch)).numpy()
    assert len(picked) == len(LABELS)
    counts = np.bincount(LABELS[picked], minlength=4)
    assert counts[2] == 0 and set(counts[[0, 1, 3]]) <= {23, 23 + 1}  # 69 images over 3 classes
    majority = picked[LABELS[picked] == 0]
    assert len(set(majority)) == len(majority)  # a subset of the 60, no repeats
    per_image = np.bincount(picked, minlength=len(LABELS))
    assert set(per_image[LABELS == 1]) <= {3, 4} and set(per_image[LABELS == 3]) <= {7, 8}  # evenly repeated
