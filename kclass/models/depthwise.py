"""DepthwiseConv2D whose training path on tiny feature maps is one broadcast multiply and sum.

oneDNN's depthwise backprop-filter kernel costs several times its forward pass on the 1x1 and 2x2
maps that MobileNetV3's last stages see at 32x32 inputs (`tools/bench/conv_paths.py`). When output
positions x input positions <= `DENSE_LIMIT`, the conv is written as y[n,o,c] = sum_i x[n,i,c] M[o,i,c],
M gathering the kernel tap that links input position i to output o (zero where none does); its
gradients are plain multiplies and sums. Inference keeps the native op, so exported graphs stay standard.
"""

import keras
import numpy as np
import tensorflow as tf

# Above this the [N, O, I, C] product outgrows the native kernel (measured at 16 x 16 = 256: slower).
DENSE_LIMIT = 64


def tap_index(height, width, kernel_size, strides, padding):
    """[O, I] int32: the tap (kh * k + kw) joining input position i to output o, k * k where none does.

    Positions are row-major; `padding` is "same" (TF's split: the extra pixel after) or "valid".
    """
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
    index = np.full((out_h * out_w, height * width), k * k, np.int32)
    index[(out_i * out_w + out_j)[valid], (in_i * width + in_j)[valid]] = (kh * k + kw)[valid]
    return index, (out_h, out_w)


@keras.saving.register_keras_serializable(package="kclass")
class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` (channels_last) that trains tiny static maps by broadcasting."""

    def build(self, input_shape):
        super().build(input_shape)
        self._dense = None
        height, width = input_shape[1], input_shape[2]
        square = len(set(self.kernel_size)) == 1 and len(set(self.strides)) == 1
        if (keras.backend.backend() == "tensorflow" and self.data_format == "channels_last" and square
                and height is not None and width is not None and self.depth_multiplier == 1
                and tuple(self.dilation_rate) == (1, 1)):
            index, out_hw = tap_index(height, width, self.kernel_size[0], self.strides[0], self.padding)
            if index.size <= DENSE_LIMIT:
                self._dense = (index, out_hw)

    def call(self, inputs, training=None):
        if not (training and self._dense is not None):
            return super().call(inputs)
        index, (out_h, out_w) = self._dense
        channels = inputs.shape[-1]
        taps = tf.reshape(self.kernel, [-1, channels])
        taps = tf.concat([taps, tf.zeros_like(taps[:1])], 0)
        weights = tf.gather(taps, index)  # [O, I, C]
        rows = tf.reshape(inputs, [-1, 1, index.shape[1], channels])
        outputs = tf.reshape(tf.reduce_sum(rows * weights, axis=2), [-1, out_h, out_w, channels])
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs
