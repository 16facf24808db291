"""Conv2D whose pointwise convs run as one matmul and whose convs on tiny maps run as a dense matmul.

TF's oneDNN NHWC convolution re-lays its operands out on every call and slows down sharply on the
small feature maps of 32x32 inputs: a 1x1 conv on 1x1 maps runs at ~10 GFLOP/s forward+backward
versus ~50 as a matmul, and a 3x3 conv's backward passes on 2x2 and 1x1 maps cost several times its
forward (`tools/bench/conv_paths.py`). Pointwise (1x1, stride 1): one matmul over [N*H*W, C_in].
Tiny static maps (output x input positions <= DENSE_LIMIT): y = x[N, I*C_in] @ W'[I*C_in, O*C_out],
W' gathering the kernel tap that joins each input position to each output (`kclass.layers.tiny_maps`).
The kernel variable keeps its [k, k, C_in, C_out] shape, so weights and checkpoints are unchanged.
"""

import keras
import tensorflow as tf

from kclass.layers.tiny_maps import gather_taps, read_window, static_index

# Output x input positions. 2x2 maps at stride 1 (16) waste nothing: every tap sees a pixel.
DENSE_LIMIT = 16


@keras.saving.register_keras_serializable(package="kclass")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` (channels_last) with pointwise and tiny-map convs done by tf.matmul."""

    def build(self, input_shape):
        super().build(input_shape)
        self._dense = None
        if keras.backend.backend() == "tensorflow" and self.groups == 1 and not self._is_pointwise():
            self._dense = static_index(self, input_shape, DENSE_LIMIT)

    def _is_pointwise(self):
        return (keras.backend.backend() == "tensorflow" and tuple(self.kernel_size) == (1, 1)
                and tuple(self.strides) == (1, 1) and tuple(self.dilation_rate) == (1, 1)
                and self.groups == 1 and self.data_format == "channels_last")

    def convolution_op(self, inputs, kernel):
        c_in, c_out = kernel.shape[2], kernel.shape[3]
        if self._is_pointwise():
            rows = tf.matmul(tf.reshape(inputs, [-1, c_in]), tf.reshape(kernel, [c_in, c_out]))
            return tf.reshape(rows, tf.concat([tf.shape(inputs)[:-1], [c_out]], 0))
        if self._dense is None:
            return super().convolution_op(inputs, kernel)
        index, (out_h, out_w), window = self._dense
        outputs, positions = index.shape
        inputs = read_window(inputs, window)
        dense = tf.transpose(gather_taps(kernel, index), [1, 2, 0, 3])  # [I, C_in, O, C_out]
        rows = tf.matmul(tf.reshape(inputs, [-1, positions * c_in]),
                         tf.reshape(dense, [positions * c_in, outputs * c_out]))
        return tf.reshape(rows, [-1, out_h, out_w, c_out])
