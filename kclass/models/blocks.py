"""Building blocks with PaddleClas numerics: symmetric padding, BN momentum 0.9 / eps 1e-5, He init."""

import keras
from keras import layers

from kclass.layers.batch_norm import BatchNormalization
from kclass.layers.conv import Conv2D
from kclass.layers.depthwise import DepthwiseConv2D

# Paddle's defaults differ from Keras's; these keep checkpoints and training dynamics comparable.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def conv_init():
    """Paddle's conv init: Normal(0, sqrt(2 / fan_in)), untruncated."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


def symmetric_conv(x, filters, kernel_size, strides=1, groups=1, use_bias=False, name=None,
                   depthwise=False, kernel_initializer=None):
    """Conv with Paddle's symmetric (k - 1) // 2 padding.

    Keras 'same' pads only bottom/right at stride 2, which shifts features by a pixel versus Paddle;
    explicit zero padding + 'valid' reproduces Paddle at every stride.
    """
    pad = (kernel_size - 1) // 2
    if strides > 1 and pad:
        x = layers.ZeroPadding2D(pad, name=None if name is None else name + "_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    init = kernel_initializer or conv_init()
    if depthwise:
        return DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                               depthwise_initializer=init, name=name)(x)
    return Conv2D(filters, kernel_size, strides=strides, padding=padding, groups=groups,
                  use_bias=use_bias, kernel_initializer=init, name=name)(x)


def batch_norm(x, name=None, sync=False):
    """Paddle-parameterised BatchNorm; `sync=True` reduces statistics across replicas."""
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, synchronized=sync, name=name)(x)


def conv_bn(x, filters, kernel_size, strides=1, act=None, name=None, sync_bn=False, groups=1,
            depthwise=False):
    """Conv (no bias) -> BN -> optional activation; layer names `{name}_conv`, `{name}_bn`."""
    x = symmetric_conv(x, filters, kernel_size, strides, groups=groups, name=f"{name}_conv",
                       depthwise=depthwise)
    x = batch_norm(x, name=f"{name}_bn", sync=sync_bn)
    if act:
        x = layers.Activation(act, name=f"{name}_{act}")(x)
    return x


def classifier(x, num_classes, name="fc"):
    """Paddle's Linear init: weight Uniform(+-1/sqrt(fan_in)), bias zero.

    Computed in float32 under mixed precision: logits feed the losses and softmax directly.
    """
    fan_in = x.shape[-1]
    bound = 1.0 / fan_in ** 0.5
    return layers.Dense(num_classes, kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                        dtype=keras.config.dtype_policy().variable_dtype, name=name)(x)
