"""Building blocks with PaddleClas numerics: symmetric padding, BN momentum 0.9 / eps 1e-5, He init.

Every block takes the build's `dtype` (a Keras dtype policy or its name; None: Keras's global policy)
and passes it to each layer it makes, and takes `seeds` (`kclass.models.seeds.Seeds`), from which
each random initializer gets its seed in the order Keras would have drawn it.
"""

import keras
from keras import layers

from kclass.layers.batch_norm import BatchNormalization
from kclass.layers.conv import Conv2D
from kclass.layers.depthwise import DepthwiseConv2D
from kclass.models.seeds import Seeds

# Paddle's defaults differ from Keras's; these keep checkpoints and training dynamics comparable.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def conv_init(seed=None):
    """Paddle's conv init: Normal(0, sqrt(2 / fan_in)), untruncated."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=seed)


def variable_dtype(dtype):
    """The variables' dtype under policy `dtype` (None: the global policy): float32 for mixed ones."""
    return keras.dtype_policies.get(dtype if dtype is not None else keras.config.dtype_policy()).variable_dtype


def symmetric_conv(x, filters, kernel_size, strides=1, groups=1, use_bias=False, name=None,
                   depthwise=False, kernel_initializer=None, dtype=None, seeds=Seeds()):
    """Conv with Paddle's symmetric (k - 1) // 2 padding; He init (`conv_init`) unless `kernel_initializer`.

    Keras 'same' pads only bottom/right at stride 2, which shifts features by a pixel versus Paddle;
    explicit zero padding + 'valid' reproduces Paddle at every stride.
    """
    pad = (kernel_size - 1) // 2
    if strides > 1 and pad:
        x = layers.ZeroPadding2D(pad, name=None if name is None else name + "_pad", dtype=dtype)(x)
        padding = "valid"
    else:
        padding = "same"
    init = kernel_initializer or conv_init(seeds())
    if depthwise:
        return DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                               depthwise_initializer=init, name=name, dtype=dtype)(x)
    return Conv2D(filters, kernel_size, strides=strides, padding=padding, groups=groups,
                  use_bias=use_bias, kernel_initializer=init, name=name, dtype=dtype)(x)


def batch_norm(x, name=None, sync=False, dtype=None):
    """Paddle-parameterised BatchNorm; `sync=True` reduces statistics across replicas."""
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, synchronized=sync, name=name,
                              dtype=dtype)(x)


def conv_bn(x, filters, kernel_size, strides=1, act=None, name=None, sync_bn=False, groups=1,
            depthwise=False, dtype=None, seeds=Seeds()):
    """Conv (no bias) -> BN -> optional activation; layer names `{name}_conv`, `{name}_bn`."""
    x = symmetric_conv(x, filters, kernel_size, strides, groups=groups, name=f"{name}_conv",
                       depthwise=depthwise, dtype=dtype, seeds=seeds)
    x = batch_norm(x, name=f"{name}_bn", sync=sync_bn, dtype=dtype)
    if act:
        x = layers.Activation(act, name=f"{name}_{act}", dtype=dtype)(x)
    return x


def classifier(x, num_classes, name="fc", dtype=None, seeds=Seeds()):
    """Paddle's Linear init: weight Uniform(+-1/sqrt(fan_in)), bias zero.

    Computed in float32 under mixed precision: logits feed the losses and softmax directly.
    """
    fan_in = x.shape[-1]
    bound = 1.0 / fan_in ** 0.5
    init = keras.initializers.RandomUniform(-bound, bound, seed=seeds())
    return layers.Dense(num_classes, kernel_initializer=init, dtype=variable_dtype(dtype), name=name)(x)
