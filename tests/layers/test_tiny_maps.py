"""tap_index: which kernel tap joins each input position to each output, and the window outputs read;
gather_taps: the kernel laid out by those taps; read_window: the cut to that window."""

import numpy as np
import tensorflow as tf

from kclass.layers.tiny_maps import gather_taps, read_window, tap_index


def test_one_by_one_map_reads_only_the_centre_tap():
    index, out_hw, window = tap_index(1, 1, kernel_size=5, strides=1, padding="same")
    assert out_hw == (1, 1) and window == (0, 1, 0, 1)
    np.testing.assert_array_equal(index, [[12]])


def test_strided_valid_conv_reads_only_its_window():
    # A 3x3 stride-2 'valid' conv on 4x4 (symmetric padding done outside) reads rows/cols 0..2 only.
    index, out_hw, window = tap_index(4, 4, kernel_size=3, strides=2, padding="valid")
    assert out_hw == (1, 1) and window == (0, 3, 0, 3)
    np.testing.assert_array_equal(index, [np.arange(9)])


def test_same_padding_marks_taps_that_see_no_pixel():
    index, out_hw, _ = tap_index(2, 2, kernel_size=3, strides=1, padding="same")
    assert out_hw == (2, 2)
    # Output (0, 0) sees input (0, 0) through the centre tap 4 and input (1, 1) through tap 8.
    assert index[0, 0] == 4 and index[0, 3] == 8 and index[3, 0] == 0
    assert (index < 9).all()  # on a 2x2 map every output reads every input


def test_whole_input_reads_every_position_with_zero_taps_outside_the_window():
    index, out_hw, window = tap_index(6, 6, kernel_size=5, strides=2, padding="valid", whole_input=True)
    assert out_hw == (1, 1) and window == (0, 6, 0, 6) and index.shape == (1, 36)
    taps = index.reshape(6, 6)
    np.testing.assert_array_equal(taps[:5, :5].ravel(), np.arange(25))
    assert (taps[5, :] == 25).all() and (taps[:, 5] == 25).all()


def test_read_window_slices_only_a_part_of_the_map():
    x = tf.reshape(tf.range(2 * 4 * 4 * 3, dtype=tf.float32), [2, 4, 4, 3])
    assert read_window(x, (0, 4, 0, 4)) is x  # no slice op, hence no StridedSliceGrad to pay
    np.testing.assert_array_equal(read_window(x, (0, 3, 1, 4)), x[:, :3, 1:, :])


def test_gather_taps_lays_out_the_kernel_and_its_gradient_is_no_scatter():
    index, _, _ = tap_index(2, 2, kernel_size=3, strides=1, padding="same")  # ResNet50_vd's 2x2 maps at 32 px
    kernel = tf.Variable(tf.random.stateless_normal([3, 3, 4, 5], seed=(1, 2)))
    taps = np.concatenate([kernel.numpy().reshape(9, 4, 5), np.zeros([1, 4, 5], np.float32)])
    np.testing.assert_array_equal(gather_taps(kernel, index), taps[index])  # exact: one 1 per row
    step = tf.function(lambda: tf.gradients(tf.reduce_sum(gather_taps(kernel, index) ** 2), kernel))
    types = {op.type for op in step.get_concrete_function().graph.get_operations()}
    # A gather's gradient is a scatter-add (UnsortedSegmentSum): ~2 ms a layer on ResNet50_vd's 2x2 maps,
    # where the selection matrix's product costs a fraction of that.
    assert "UnsortedSegmentSum" not in types and "MatMul" in types
