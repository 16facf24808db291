"""ResNet_vd (Bag of Tricks variant D) as PaddleClas builds it.

Deep stem of three 3x3 convs, stride on the 3x3 conv of the bottleneck, and a shortcut that
downsamples with a 2x2 average pool before its 1x1 conv. Input NHWC float, output logits.
"""

import functools

import keras
from keras import layers

from kclass.models.blocks import classifier, conv_bn
from kclass.models.registry import register_model
from kclass.models.seeds import seeds_from

_DEPTHS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
           152: [3, 8, 36, 3], 200: [3, 12, 48, 3]}
_WIDTHS = [64, 128, 256, 512]


def _shortcut(x, filters, stride, is_first, name, conv, dtype):
    if stride > 1 or not is_first:
        # "ceil mode, exclusive" average pooling: TF's SAME pooling excludes the pad from the mean.
        x = layers.AveragePooling2D(2, 2, padding="same", name=f"{name}_pool", dtype=dtype)(x)
    return conv(x, filters, 1, name=name)


def _bottleneck(x, filters, stride, projection, is_first, name, conv, dtype):
    y = conv(x, filters, 1, act="relu", name=f"{name}_conv0")
    y = conv(y, filters, 3, strides=stride, act="relu", name=f"{name}_conv1")
    y = conv(y, filters * 4, 1, name=f"{name}_conv2")
    short = _shortcut(x, filters * 4, stride, is_first, f"{name}_short", conv, dtype) if projection else x
    return layers.ReLU(name=f"{name}_out", dtype=dtype)(layers.Add(name=f"{name}_add", dtype=dtype)([short, y]))


def _basic(x, filters, stride, projection, is_first, name, conv, dtype):
    y = conv(x, filters, 3, strides=stride, act="relu", name=f"{name}_conv0")
    y = conv(y, filters, 3, name=f"{name}_conv1")
    short = _shortcut(x, filters, stride, is_first, f"{name}_short", conv, dtype) if projection else x
    return layers.ReLU(name=f"{name}_out", dtype=dtype)(layers.Add(name=f"{name}_add", dtype=dtype)([short, y]))


def resnet_vd(depth, num_classes=1000, input_shape=(224, 224, 3), sync_bn=False, seed=None, dtype=None):
    """Builds ResNet{depth}_vd; layer names follow `bb_{stage}_{block}_{conv}` like Paddle 2.1.

    `seed` (int or `Seeds`; None: Keras's global RNG) seeds every initializer; `dtype` is the layers'
    dtype policy (None: Keras's global one); the classifier keeps the variables' dtype.
    """
    seeds = seeds_from(seed)
    conv = functools.partial(conv_bn, sync_bn=sync_bn, dtype=dtype, seeds=seeds)  # every conv_bn of this build
    block = _bottleneck if depth >= 50 else _basic
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv(inputs, 32, 3, strides=2, act="relu", name="conv1_1")
    x = conv(x, 32, 3, act="relu", name="conv1_2")
    x = conv(x, 64, 3, act="relu", name="conv1_3")
    # Zero padding equals Paddle's max-pool padding here because the input is post-ReLU (>= 0).
    x = layers.ZeroPadding2D(1, name="pool1_pad", dtype=dtype)(x)
    x = layers.MaxPooling2D(3, 2, name="pool1", dtype=dtype)(x)
    for stage, (count, width) in enumerate(zip(_DEPTHS[depth], _WIDTHS)):
        for i in range(count):
            # The first block of every stage projects its shortcut, even when shapes already match.
            x = block(x, width, stride=2 if i == 0 and stage > 0 else 1, projection=i == 0,
                      is_first=stage == 0 and i == 0, name=f"bb_{stage}_{i}", conv=conv, dtype=dtype)
    x = layers.GlobalAveragePooling2D(name="avg_pool", dtype=dtype)(x)
    outputs = classifier(x, num_classes, name="fc", dtype=dtype, seeds=seeds)
    return keras.Model(inputs, outputs, name=f"ResNet{depth}_vd")


def _factory(depth):
    def factory(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
        return resnet_vd(depth, num_classes=num_classes, input_shape=input_shape, **kwargs)
    factory.__name__ = f"ResNet{depth}_vd"
    factory.__doc__ = f"ResNet{depth}_vd: logits [N, num_classes] from images [N, H, W, 3]."
    return factory


for _depth in _DEPTHS:
    register_model(_factory(_depth), family="resnet_vd")
