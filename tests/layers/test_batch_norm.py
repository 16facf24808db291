"""BatchNormalization must equal keras.layers.BatchNormalization: outputs, gradients, moving statistics."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass.layers.batch_norm import BatchNormalization


def _pair(shape, **kwargs):
    ref = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
    fused = BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
    for layer in (ref, fused):
        layer.build(shape)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, shape[-1]), rng.normal(size=shape[-1]),
               rng.normal(size=shape[-1]), rng.uniform(0.5, 2.0, shape[-1])]
    ref.set_weights(weights)
    fused.set_weights(weights)
    return ref, fused


@pytest.mark.parametrize("shape", [(8, 5, 5, 6), (16, 1, 1, 4)])
def test_training_step_matches_keras(shape):
    ref, fused = _pair(shape)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape), tf.float32)
    upstream = tf.constant(np.random.default_rng(2).normal(size=shape), tf.float32)
    results = []
    for layer in (ref, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y, *grads, layer.moving_mean, layer.moving_variance])
    for want, got in zip(*results):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_inference_uses_moving_statistics_like_keras():
    ref, fused = _pair((4, 3, 3, 5))
    x = tf.random.stateless_normal((4, 3, 3, 5), seed=(1, 2))
    np.testing.assert_allclose(fused(x, training=False), ref(x, training=False), rtol=1e-5, atol=1e-5)


def test_non_4d_input_falls_back_to_keras():
    ref, fused = _pair((6, 5))
    x = tf.random.stateless_normal((6, 5), seed=(3, 4))
    np.testing.assert_allclose(fused(x, training=True), ref(x, training=True), rtol=1e-5, atol=1e-5)


def test_config_round_trip_restores_the_fused_class():
    layer = BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is BatchNormalization and clone.epsilon == 1e-5 and clone.momentum == 0.9


def test_weights_h5_is_interchangeable_with_keras_batch_normalization(tmp_path):
    def net(bn_class):
        x = keras.Input((4, 4, 3))
        return keras.Model(x, bn_class(momentum=0.9, epsilon=1e-5)(keras.layers.Conv2D(5, 3)(x)))

    keras_net, ours = net(keras.layers.BatchNormalization), net(BatchNormalization)
    keras_net.layers[-1].set_weights([np.full(5, v, np.float32) for v in (1.5, 0.5, 0.2, 2.0)])
    keras_net.save_weights(tmp_path / "keras.weights.h5")
    ours.load_weights(tmp_path / "keras.weights.h5")
    for want, got in zip(keras_net.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_unknown_batch_size_in_training_matches_keras():
    ref, fused = _pair((8, 3, 3, 4))
    x = tf.random.stateless_normal((8, 3, 3, 4), seed=(5, 6))
    spec = [tf.TensorSpec([None, 3, 3, 4])]
    for layer in (ref, fused):
        tf.function(lambda v, layer=layer: layer(v, training=True), input_signature=spec)(x)
    np.testing.assert_allclose(fused.moving_variance, ref.moving_variance, rtol=1e-5, atol=1e-5)
