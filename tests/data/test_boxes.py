import numpy as np
import tensorflow as tf

from kclass.data.boxes import boxes_mask


def test_boxes_mask_is_the_union_of_each_images_half_open_boxes():
    # Image 0: two overlapping boxes; image 1: one box and an empty one (y1 == y2).
    y1, y2 = tf.constant([[0, 2], [1, 3]]), tf.constant([[2, 4], [3, 3]])
    x1, x2 = tf.constant([[0, 1], [2, 0]]), tf.constant([[3, 2], [5, 5]])
    mask = boxes_mask(y1, y2, x1, x2, 4, 5).numpy()
    expected = np.zeros([2, 4, 5, 1], bool)
    expected[0, 0:2, 0:3] = expected[0, 2:4, 1:2] = True
    expected[1, 1:3, 2:5] = True
    np.testing.assert_array_equal(mask, expected)
