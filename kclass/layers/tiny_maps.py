"""Convolutions on tiny static feature maps as dense linear maps between positions.

At 32x32 inputs the last stages of ResNet50_vd and MobileNetV3 run on 4x4, 2x2 and 1x1 maps, where
oneDNN's conv kernels (above all their backward passes) are several times slower than the same
arithmetic as one matmul or broadcast product (`tools/bench/conv_paths.py`). On such a map a conv is
y[n, o] = sum_i x[n, i] W[tap(o, i)], positions o, i row-major, so the kernel only has to be gathered
into a [O, I, ...] table once per call (I: the positions any output reads).
"""

import numpy as np
import tensorflow as tf


def tap_index(height, width, kernel_size, strides, padding, whole_input=False):
    """([O, I] int32, (out_h, out_w), window): the tap kh * k + kw joining input position i to output o,
    or k * k where none does. Input positions are those of `window` = (top, bottom, left, right), the
    smallest box of the input any output reads (a strided 'valid' conv may skip the last rows), or the
    whole input with `whole_input`. `padding` is "same" (TF's split: the extra pixel after) or "valid"."""
    k, s = kernel_size, strides
    if padding == "same":
        out_h, out_w = -(-height // s), -(-width // s)
        pad_h = max((out_h - 1) * s + k - height, 0) // 2
        pad_w = max((out_w - 1) * s + k - width, 0) // 2
    else:
        out_h, out_w = (height - k) // s + 1, (width - k) // s + 1
        pad_h = pad_w = 0
    out_i, out_j, kh, kw = np.meshgrid(np.arange(out_h), np.arange(out_w), np.arange(k), np.arange(k),
                                       indexing="ij")
    in_i, in_j = out_i * s + kh - pad_h, out_j * s + kw - pad_w
    valid = (in_i >= 0) & (in_i < height) & (in_j >= 0) & (in_j < width)
    if whole_input:
        top, bottom, left, right = 0, height, 0, width
    else:
        top, bottom = in_i[valid].min(), in_i[valid].max() + 1
        left, right = in_j[valid].min(), in_j[valid].max() + 1
    index = np.full((out_h * out_w, (bottom - top) * (right - left)), k * k, np.int32)
    position = (in_i - top) * (right - left) + (in_j - left)
    index[(out_i * out_w + out_j)[valid], position[valid]] = (kh * k + kw)[valid]
    return index, (out_h, out_w), (int(top), int(bottom), int(left), int(right))


def static_index(layer, input_shape, limit, whole_input=False):
    """`tap_index` for a channels_last square-kernel layer with static H, W, when O * I <= `limit`;
    None when the layer's native path applies."""
    height, width = input_shape[1], input_shape[2]
    square = len(set(layer.kernel_size)) == 1 and len(set(layer.strides)) == 1
    if not (square and height is not None and width is not None and layer.data_format == "channels_last"
            and tuple(layer.dilation_rate) == (1, 1)):
        return None
    found = tap_index(height, width, layer.kernel_size[0], layer.strides[0], layer.padding, whole_input)
    return found if found[0].size <= limit else None


def gather_taps(kernel, index):
    """Kernel [k, k, ...] -> [O, I, ...]: the tap `index` names for each (output, input), zero where none.

    A product with a constant 0/1 selection matrix rather than a gather: the gather, its gradient (a
    scatter-add) and the zero tap's concat cost ResNet50_vd 34 ms of its 458 ms of thread time per step
    at 32 px, the two products ~2 ms (`python tools/bench/ops.py --model ResNet50_vd --num_classes 10`).
    """
    taps = kernel.shape[0] * kernel.shape[1]
    select = np.eye(taps + 1, taps)[index.reshape(-1)]  # [O * I, taps]; row `taps` of eye is zero
    flat = tf.matmul(tf.constant(select, kernel.dtype), tf.reshape(kernel, [taps, -1]))
    return tf.reshape(flat, [*index.shape, *kernel.shape[2:]])


def read_window(inputs, window):
    """inputs [N, H, W, C] cut to `window` = (top, bottom, left, right); no op when it is the whole map,
    whose slice would still cost a StridedSliceGrad as large as the input in the backward pass."""
    top, bottom, left, right = window
    if (top, left) == (0, 0) and (bottom, right) == tuple(inputs.shape[1:3]):
        return inputs
    return inputs[:, top:bottom, left:right, :]
