"""BatchNormalization on TF's fused kernel: Keras's numerics, a fraction of its CPU time.

Keras 3 normalises with ~10 elementwise ops per layer (moments, rsqrt, scale, shift) and as many in
the gradient; TF's FusedBatchNormV3 does it in one oneDNN kernel each way, and in inference Grappler
folds it into the preceding conv. Same variables, same config, same results (biased batch variance
for both the normalisation and the moving average, as Keras and Paddle), so checkpoints and
`.pdparams` mappings are unchanged. Synchronized BN, masks and non-4D inputs use Keras's path.
"""

import keras
import tensorflow as tf

_FUSED_DTYPES = (tf.float32, tf.bfloat16, tf.float16)


@keras.saving.register_keras_serializable(package="kclass")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` over NHWC [N, H, W, C] with axis -1, run by FusedBatchNormV3.

    Keras's own class name, so `.weights.h5` files (grouped by class name) stay interchangeable.
    """

    def _can_fuse(self, inputs, mask):
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.synchronized
                and not self.renorm and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and tf.as_dtype(inputs.dtype) in _FUSED_DTYPES)

    def call(self, inputs, training=None, mask=None):
        if not self._can_fuse(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels], tf.float32)
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels], tf.float32)
        # The kernel wants x in bf16/fp16 or fp32 with float32 statistics; Keras upcasts to float32.
        x = tf.cast(inputs, tf.float32) if inputs.dtype == tf.float16 else inputs
        if training and self.trainable:
            # At trained weights the kernel's gradients drifted ~1000x further from float64 than Keras's
            # two-pass layer's (channels whose batch mean dwarfs their spread). BN, and its gradient, do
            # not see a per-channel shift, so centring x first costs one reduction and restores Keras's
            # precision (tests/layers/test_precision.py, trained weights).
            shift = tf.stop_gradient(tf.reduce_mean(x, [0, 1, 2]))
            y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x - tf.cast(shift, x.dtype), scale=gamma, offset=beta, mean=tf.zeros([0], tf.float32),
                variance=tf.zeros([0], tf.float32), epsilon=self.epsilon, is_training=True)
            mean = mean + tf.cast(shift, tf.float32)
            # The kernel returns the Bessel-corrected variance; Keras (and Paddle) average the biased one.
            variance = variance * _biased_factor(x)
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum))
            self.moving_variance.assign(self.moving_variance * momentum
                                        + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum))
        else:
            y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon, is_training=False)
        return tf.cast(y, self.compute_dtype)


def _biased_factor(x):
    """(n - 1) / n for the n = N*H*W values per channel; a Python float when the shape is static."""
    if x.shape[:3].is_fully_defined():
        n = x.shape[:3].num_elements()
        return max(n - 1, 0) / max(n, 1)
    n = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
    return tf.maximum(n - 1.0, 0.0) / tf.maximum(n, 1.0)
