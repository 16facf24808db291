"""fold_batch_norms: an inference copy without BN layers that computes the same logits."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass.models import registry
from kclass.layers.fold_batch_norm import fold_batch_norms, foldable_pairs
from kclass.models.blocks import batch_norm


def _trained_statistics(model, seed=0):
    """BN gamma/beta/mean/var far from their initial 1/0/0/1, as after training."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.2, shape),
                               rng.normal(0, 0.2, shape), rng.uniform(0.5, 1.5, shape)])


def _count_bn(model):
    return sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


@pytest.mark.parametrize("name", ["ResNet18_vd", "MobileNetV3_small_x0_35"])
def test_folded_model_has_no_bn_and_the_same_logits(name):
    model = registry.build(name, 7, (32, 32, 3))
    _trained_statistics(model)
    x = tf.random.stateless_normal([4, 32, 32, 3], seed=(1, 2))
    want = model(x, training=False).numpy()
    folded = fold_batch_norms(model)
    got = folded(x, training=False).numpy()
    assert _count_bn(folded) == 0 and _count_bn(model) > 0       # the original keeps its BNs
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    np.testing.assert_array_equal(model(x, training=False).numpy(), want)


def test_bn_after_an_activated_or_shared_conv_stays():
    inputs = keras.Input((6, 6, 3))
    relu_conv = keras.layers.Conv2D(4, 3, activation="relu", name="relu_conv")(inputs)
    kept_1 = batch_norm(relu_conv, name="kept_1")               # conv has an activation
    shared = keras.layers.Conv2D(4, 1, name="shared")(kept_1)
    kept_2 = batch_norm(shared, name="kept_2")                  # conv output also read by Add
    folded_conv = keras.layers.Conv2D(4, 1, name="plain")(keras.layers.Add()([kept_2, shared]))
    outputs = batch_norm(folded_conv, name="folds")
    model = keras.Model(inputs, outputs)
    _trained_statistics(model)
    assert set(foldable_pairs(model)) == {"folds"}
    x = tf.random.stateless_normal([2, 6, 6, 3], seed=(3, 4))
    folded = fold_batch_norms(model)
    assert _count_bn(folded) == 2
    np.testing.assert_allclose(folded(x, training=False), model(x, training=False), rtol=1e-4, atol=1e-4)


def test_a_float64_model_folds_in_float64():
    model = registry.build("ResNet18_vd", 7, (16, 16, 3), dtype="float64")
    _trained_statistics(model)
    x = tf.random.stateless_normal([2, 16, 16, 3], seed=(5, 6))
    folded = fold_batch_norms(model)
    assert {layer.compute_dtype for layer in folded.layers[1:]} == {"float64"}
    want = model(x, training=False).numpy()
    np.testing.assert_allclose(folded(x, training=False).numpy(), want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
