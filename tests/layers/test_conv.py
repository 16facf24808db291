"""kclass Conv2D must equal keras.layers.Conv2D (outputs and gradients) with the same kernel, on every path."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass.layers.conv import Conv2D


@pytest.mark.parametrize("kwargs, shape", [
    (dict(filters=7, kernel_size=1), (3, 5, 4, 6)),               # pointwise: the matmul path
    (dict(filters=7, kernel_size=1, use_bias=True), (2, 1, 1, 9)),
    (dict(filters=5, kernel_size=3, padding="same"), (2, 6, 6, 4)),  # Keras's path
    (dict(filters=4, kernel_size=1, strides=2), (2, 6, 6, 3)),
    (dict(filters=5, kernel_size=3, padding="same"), (3, 1, 1, 4)),               # tiny maps: dense matmul
    (dict(filters=5, kernel_size=3, padding="same", use_bias=True), (2, 2, 2, 3)),
    (dict(filters=6, kernel_size=3, strides=2, padding="valid"), (2, 4, 4, 3)),   # after symmetric padding
    (dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 2, 3, 4)),    # TF's uneven 'same' split
])
def test_matches_keras_conv(kwargs, shape):
    ref, ours = keras.layers.Conv2D(**kwargs), Conv2D(**kwargs)
    ref.build(shape)
    ours.build(shape)
    ours.set_weights([w + 0.1 for w in ref.get_weights()])  # a non-zero bias when there is one
    ref.set_weights(ours.get_weights())
    x = tf.random.stateless_normal(shape, seed=(0, 1))
    results = []
    for layer in (ref, ours):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * tf.sin(y))
        results.append([y, *tape.gradient(loss, [x, *layer.trainable_weights])])
    assert ours.kernel.shape == ref.kernel.shape
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unknown_batch_and_spatial_dims_keep_the_output_shape():
    layer = Conv2D(3, 1)
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 2])])
    assert fn(tf.ones([2, 5, 3, 2])).shape == (2, 5, 3, 3)


def test_dense_path_only_on_tiny_maps():
    tiny, small = Conv2D(4, 3, padding="same"), Conv2D(4, 3, padding="same")
    tiny.build((1, 2, 2, 3))    # 4 outputs x 4 inputs
    small.build((1, 4, 4, 3))   # 16 x 16: oneDNN's conv
    assert tiny._dense is not None and small._dense is None
