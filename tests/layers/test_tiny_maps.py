"""tap_index: which kernel tap joins each input position to each output, and the window outputs read."""

import numpy as np

from kclass.layers.tiny_maps import tap_index


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
