"""kclass DepthwiseConv2D must equal keras.layers.DepthwiseConv2D, training and inference, on every path."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass.layers.depthwise import DENSE_LIMIT, DepthwiseConv2D


@pytest.mark.parametrize("kwargs, shape, dense", [
    (dict(kernel_size=5, padding="same"), (3, 1, 1, 6), True),                  # MV3's 1x1 maps
    (dict(kernel_size=3, padding="same"), (2, 2, 2, 5), True),
    (dict(kernel_size=5, strides=2, padding="valid"), (2, 6, 6, 4), True),     # after symmetric padding
    (dict(kernel_size=3, strides=2, padding="same"), (2, 4, 3, 3), True),      # TF's uneven 'same' split
    (dict(kernel_size=3, padding="same", use_bias=True, activation="relu"), (2, 2, 3, 4), True),
    (dict(kernel_size=3, padding="same"), (2, 8, 8, 3), False),                 # above DENSE_LIMIT: native
])
def test_matches_keras_depthwise(kwargs, shape, dense):
    ref, ours = keras.layers.DepthwiseConv2D(**kwargs), DepthwiseConv2D(**kwargs)
    ref.build(shape)
    ours.build(shape)
    ours.set_weights([w + 0.1 for w in ref.get_weights()])  # a non-zero bias when there is one
    ref.set_weights(ours.get_weights())
    assert (ours._dense is not None) == dense
    x = tf.random.stateless_normal(shape, seed=(0, 1))
    for training in (True, False):
        results = []
        for layer in (ref, ours):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
                loss = tf.reduce_sum(y * tf.sin(y))
            results.append([y, *tape.gradient(loss, [x, *layer.trainable_weights])])
        for want, got in zip(*results):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dense_path_stays_within_its_limit():
    small, large = DepthwiseConv2D(3, padding="same"), DepthwiseConv2D(3, padding="same")
    small.build((1, 2, 2, 4))   # 4 outputs x 4 inputs
    large.build((1, 4, 4, 4))   # 16 x 16
    assert small._dense[0].size <= DENSE_LIMIT < 16 * 16
    assert large._dense is None


def test_trains_under_mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = DepthwiseConv2D(5, padding="same")
        x = tf.random.stateless_normal((2, 1, 1, 3), seed=(2, 3))
        y = layer(x, training=True)
        want = tf.cast(x, tf.bfloat16) * tf.cast(layer.kernel[2, 2, :, 0], tf.bfloat16)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y, tf.float32), tf.cast(want, tf.float32), rtol=1e-2)


def test_dense_path_trains_without_slicing_the_padded_map():
    # A 5x5 stride-2 'valid' conv on 6x6 reads 5x5 of it; the unread row and column get zero taps,
    # since slicing them off cost a StridedSliceGrad the size of the input in every step.
    layer = DepthwiseConv2D(5, strides=2, padding="valid")
    layer.build((2, 6, 6, 4))
    step = tf.function(lambda x: tf.gradients(tf.reduce_sum(layer(x, training=True)), x))
    graph = step.get_concrete_function(tf.TensorSpec((2, 6, 6, 4))).graph
    sliced = [op.name for op in graph.get_operations()
              if op.type in ("StridedSlice", "Slice") and op.inputs[0].shape == (2, 6, 6, 4)]
    assert not sliced
