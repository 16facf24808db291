"""Conv2D whose pointwise (1x1, stride 1) case runs as one matmul over [N*H*W, C_in].

TF's oneDNN NHWC convolution re-lays its operands out on every call and slows down sharply on the
tiny feature maps of 32x32 inputs (a 1x1 conv on 1x1 maps: ~10 GFLOP/s forward+backward versus ~50 as
a matmul, tools/bench). The kernel variable keeps its [1, 1, C_in, C_out] shape, so weights and
checkpoints are unchanged; other convs use Keras's path.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kclass")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` (channels_last) with 1x1 stride-1 ungrouped convs done by tf.matmul."""

    def _is_pointwise(self):
        return (keras.backend.backend() == "tensorflow" and tuple(self.kernel_size) == (1, 1)
                and tuple(self.strides) == (1, 1) and tuple(self.dilation_rate) == (1, 1)
                and self.groups == 1 and self.data_format == "channels_last")

    def convolution_op(self, inputs, kernel):
        if not self._is_pointwise():
            return super().convolution_op(inputs, kernel)
        c_in, c_out = kernel.shape[2], kernel.shape[3]
        rows = tf.matmul(tf.reshape(inputs, [-1, c_in]), tf.reshape(kernel, [c_in, c_out]))
        return tf.reshape(rows, tf.concat([tf.shape(inputs)[:-1], [c_out]], 0))
