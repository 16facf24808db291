"""DepthwiseConv2D whose training path on tiny feature maps is one broadcast multiply and sum.

oneDNN's depthwise backprop-filter kernel costs several times its forward pass on the 1x1 and 2x2
maps that MobileNetV3's last stages see at 32x32 inputs (`tools/bench/conv_paths.py`). There the conv
is y[n,o,c] = sum_i x[n,i,c] M[o,i,c] (`kclass.layers.tiny_maps`), whose gradients are plain multiplies
and sums. Inference keeps the native op, so exported graphs stay standard.
"""

import keras
import tensorflow as tf

from kclass.layers.tiny_maps import gather_taps, static_index

# Output x input positions; at 16 x 16 = 256 the [N, O, I, C] product is slower than the native kernel.
DENSE_LIMIT = 64


@keras.saving.register_keras_serializable(package="kclass")
class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` (channels_last) that trains tiny static maps by broadcasting."""

    def build(self, input_shape):
        super().build(input_shape)
        self._dense = None
        if keras.backend.backend() == "tensorflow" and self.depth_multiplier == 1:
            # Positions no output reads get a zero tap: cheaper here than slicing them off, whose
            # gradient (StridedSliceGrad) cost 6.5 ms a step on MobileNetV3's 5x5 stride-2 block.
            self._dense = static_index(self, input_shape, DENSE_LIMIT, whole_input=True)

    def call(self, inputs, training=None):
        if not (training and self._dense is not None):
            return super().call(inputs)
        index, (out_h, out_w), _ = self._dense
        channels = inputs.shape[-1]
        weights = gather_taps(self.kernel[..., 0], index)  # [O, I, C]
        rows = tf.reshape(inputs, [-1, 1, index.shape[1], channels])
        outputs = tf.reshape(tf.reduce_sum(rows * weights, axis=2), [-1, out_h, out_w, channels])
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs
