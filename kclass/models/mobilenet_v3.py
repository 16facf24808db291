"""MobileNetV3 large/small at x0_35..x1_25 as PaddleClas builds it (release/2.1 and pip 2.6 agree).

Differs from `keras.applications.MobileNetV3*`: every block has an expand conv (16->16 in the
first large block), the SE squeeze width is `mid // 4` without rounding, the SE gate is
clip(0.2x + 0.5, 0, 1), the 1280-d head conv is never scaled, and dropout follows Paddle's
"downscale in infer". Input NHWC float [N, H, W, 3], output logits [N, num_classes].

Keras layer names mirror pip 2.6's structured names with dots as underscores
(`blocks_3_mid_se_conv1` <-> `blocks.3.mid_se.conv1`), which `kclass.weights` relies on.
"""

import math

import keras
from keras import layers, ops

from kclass.layers.conv import Conv2D
from kclass.models.blocks import batch_norm, conv_bn, conv_init, symmetric_conv, variable_dtype
from kclass.models.registry import register_model
from kclass.models.seeds import seeds_from

# k, expansion, out, SE, activation, stride
_LARGE = [
    (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hard_swish", 2), (3, 200, 80, False, "hard_swish", 1),
    (3, 184, 80, False, "hard_swish", 1), (3, 184, 80, False, "hard_swish", 1),
    (3, 480, 112, True, "hard_swish", 1), (3, 672, 112, True, "hard_swish", 1),
    (5, 672, 160, True, "hard_swish", 2), (5, 960, 160, True, "hard_swish", 1),
    (5, 960, 160, True, "hard_swish", 1),
]
_SMALL = [
    (3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hard_swish", 2), (5, 240, 40, True, "hard_swish", 1),
    (5, 240, 40, True, "hard_swish", 1), (5, 120, 48, True, "hard_swish", 1),
    (5, 144, 48, True, "hard_swish", 1), (5, 288, 96, True, "hard_swish", 2),
    (5, 576, 96, True, "hard_swish", 1), (5, 576, 96, True, "hard_swish", 1),
]
_CONFIGS = {"large": (_LARGE, 960), "small": (_SMALL, 576)}
_STEM = 16
_LAST_CONV = 1280
_SCALES = {"x0_35": 0.35, "x0_5": 0.5, "x0_75": 0.75, "x1_0": 1.0, "x1_25": 1.25}

def make_divisible(v, divisor=8, min_value=None):
    """Paddle's channel rounding: nearest multiple of `divisor`, never below 90% of `v`."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@keras.saving.register_keras_serializable(package="kclass")
def paddle_hard_sigmoid(x):
    """Paddle's SE gate clip(0.2x + 0.5, 0, 1); Keras's hard_sigmoid is relu6(x + 3) / 6."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="kclass")
class DownscaleInInferDropout(layers.Layer):
    """Paddle's Dropout(mode="downscale_in_infer"): train x * mask, infer x * (1 - rate).

    Keras's Dropout rescales at train time instead; folding (1 - rate) into the classifier on
    load would match the logits but change the classifier's effective learning rate by
    1 / (1 - rate)^2, so the Paddle semantics are kept as a layer and weights load unchanged.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
            return inputs * ops.cast(keep, inputs.dtype)
        return inputs * ops.cast(1.0 - self.rate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _depthwise_init(kernel_size, channels, seed=None):
    # Paddle's default conv init is Normal(0, sqrt(2 / (k * k * in_channels))) whatever the groups, so
    # its depthwise kernels start sqrt(C) times smaller than a per-group He init would draw them;
    # PaddleClas's MobileNetV3 keeps that default, and training from scratch depends on it.
    stddev = math.sqrt(2.0 / (kernel_size * kernel_size * channels))
    return keras.initializers.RandomNormal(0.0, stddev, seed=seed)


def _se(x, name, dtype, seeds):
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool", dtype=dtype)(x)
    s = Conv2D(channels // 4, 1, activation="relu", name=f"{name}_conv1", kernel_initializer=conv_init(seeds()),
               dtype=dtype)(s)
    s = Conv2D(channels, 1, name=f"{name}_conv2", kernel_initializer=conv_init(seeds()), dtype=dtype)(s)
    s = layers.Activation(paddle_hard_sigmoid, name=f"{name}_hardsigmoid", dtype=dtype)(s)
    return layers.Multiply(name=f"{name}_mul", dtype=dtype)([x, s])


def _residual_unit(x, mid, out, kernel, stride, use_se, act, name, sync_bn, dtype, seeds):
    shortcut = x
    y = conv_bn(x, mid, 1, act=act, name=f"{name}_expand_conv", sync_bn=sync_bn, dtype=dtype, seeds=seeds)
    y = symmetric_conv(y, mid, kernel, strides=stride, depthwise=True, name=f"{name}_bottleneck_conv_conv",
                       kernel_initializer=_depthwise_init(kernel, mid, seeds()), dtype=dtype)
    y = batch_norm(y, name=f"{name}_bottleneck_conv_bn", sync=sync_bn, dtype=dtype)
    y = layers.Activation(act, name=f"{name}_bottleneck_conv_{act}", dtype=dtype)(y)
    if use_se:
        y = _se(y, f"{name}_mid_se", dtype, seeds)
    y = conv_bn(y, out, 1, name=f"{name}_linear_conv", sync_bn=sync_bn, dtype=dtype, seeds=seeds)
    if stride == 1 and x.shape[-1] == out:
        y = layers.Add(name=f"{name}_add", dtype=dtype)([shortcut, y])
    return y


def mobilenet_v3(size, tag, num_classes=1000, input_shape=(224, 224, 3), sync_bn=False,
                 dropout=0.2, seed=None, dtype=None):
    """Builds MobileNetV3_{size}_{tag}: logits [N, num_classes] from [N, H, W, 3].

    `seed` (int or `Seeds`; None: Keras's global RNG) seeds every initializer and the dropout; `dtype` is
    the layers' dtype policy (None: Keras's global one); the classifier keeps the variables' dtype.
    """
    config, squeeze = _CONFIGS[size]
    scale = _SCALES[tag]
    seeds = seeds_from(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv_bn(inputs, make_divisible(_STEM * scale), 3, strides=2, act="hard_swish", name="conv",
                sync_bn=sync_bn, dtype=dtype, seeds=seeds)
    for i, (k, exp, c, se, act, s) in enumerate(config):
        x = _residual_unit(x, make_divisible(scale * exp), make_divisible(scale * c), k, s, se, act,
                           name=f"blocks_{i}", sync_bn=sync_bn, dtype=dtype, seeds=seeds)
    x = conv_bn(x, make_divisible(scale * squeeze), 1, act="hard_swish", name="last_second_conv",
                sync_bn=sync_bn, dtype=dtype, seeds=seeds)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool", dtype=dtype)(x)
    # The 1280-d head is not scaled with the width multiplier, and has neither bias nor BN.
    x = Conv2D(_LAST_CONV, 1, use_bias=False, name="last_conv", kernel_initializer=conv_init(seeds()),
               dtype=dtype)(x)
    x = layers.Activation("hard_swish", name="last_conv_hard_swish", dtype=dtype)(x)
    if dropout:
        x = DownscaleInInferDropout(dropout, seed=seeds(), name="dropout", dtype=dtype)(x)
    x = layers.Flatten(name="flatten", dtype=dtype)(x)
    # Paddle's Linear default init is Xavier uniform (PaddleClas sets no initializer here). Under
    # mixed precision the logits are computed in the variables' dtype (float32), as for ResNet_vd.
    outputs = layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
                           dtype=variable_dtype(dtype), name="fc")(x)
    return keras.Model(inputs, outputs, name=f"MobileNetV3_{size}_{tag}")


def _factory(size, tag):
    def factory(num_classes=1000, input_shape=(224, 224, 3), sync_bn=False, **kwargs):
        return mobilenet_v3(size, tag, num_classes=num_classes, input_shape=input_shape,
                            sync_bn=sync_bn, **kwargs)
    factory.__name__ = f"MobileNetV3_{size}_{tag}"
    factory.__doc__ = f"MobileNetV3_{size}_{tag}: logits [N, num_classes] from images [N, H, W, 3]."
    return factory


for _size in ("small", "large"):
    for _tag in _SCALES:
        # PaddleClas gives MobileNetV3's BN scale and offset L2Decay(0.0).
        register_model(_factory(_size, _tag), family="mobilenet_v3", no_decay="batch_norm")
