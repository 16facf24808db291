"""kclass's speed kernels (fused BN, pointwise matmul, tiny-map convs) lose no float32 precision.

On one real CIFAR batch, in training mode, each variable's gradient is compared with the same model
built in float64 from the same weights; kclass's float32 error must not exceed Keras's own layers'.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass.data import lists, transforms
from kclass.models import batch_norm, build, conv, depthwise


def _real_batch(root, n=64):
    samples = lists.read_samples(f"{root}/train_list.txt", root, 10, False)
    pick = np.random.RandomState(0).choice(len(samples), n, replace=False)
    images = [transforms.eval_image(tf.io.read_file(samples.paths[i]), 32) for i in pick]
    return tf.cast(tf.stack(images), tf.float64), tf.constant(samples.labels[pick])


def _gradients(name, dtype, weights, images, labels):
    keras.config.set_dtype_policy(dtype)
    try:
        model = build(name, num_classes=10, input_shape=(32, 32, 3),
                      **({"dropout": 0.0} if name.startswith("MobileNetV3") else {}))
    finally:
        keras.config.set_dtype_policy("float32")
    if weights is not None:
        model.set_weights([w.astype(dtype) for w in weights])
    with tf.GradientTape() as tape:
        logits = tf.cast(model(tf.cast(images, dtype), training=True), tf.float64)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    grads = tape.gradient(loss, model.trainable_variables)
    return [w.numpy() for w in model.weights], [g.numpy().astype(np.float64) for g in grads]


@pytest.fixture
def keras_layers(monkeypatch):
    """Sends every conv and BN of a model built inside the context through Keras's own code."""
    def use():
        monkeypatch.setattr(batch_norm.BatchNormalization, "_can_fuse", lambda self, inputs, mask: False)
        monkeypatch.setattr(conv.Conv2D, "build", keras.layers.Conv2D.build)
        monkeypatch.setattr(conv.Conv2D, "convolution_op", keras.layers.Conv2D.convolution_op)
        monkeypatch.setattr(depthwise.DepthwiseConv2D, "build", keras.layers.DepthwiseConv2D.build)
        monkeypatch.setattr(depthwise.DepthwiseConv2D, "call", keras.layers.DepthwiseConv2D.call)
    return use


def _relative_errors(grads, reference):
    return np.array([np.linalg.norm(g - r) / np.linalg.norm(r)
                     for g, r in zip(grads, reference) if np.linalg.norm(r) > 1e-8])


@pytest.mark.parametrize("name", ["ResNet50_vd", "MobileNetV3_large_x1_0"])
def test_kclass_float32_gradients_are_as_close_to_float64_as_keras_layers(name, real_data, keras_layers):
    images, labels = _real_batch(real_data("cifar10-mini"))
    keras.utils.set_random_seed(1)
    weights, ours = _gradients(name, "float32", None, images, labels)
    _, exact = _gradients(name, "float64", weights, images, labels)
    keras_layers()
    _, stock = _gradients(name, "float32", weights, images, labels)
    ours, stock = _relative_errors(ours, exact), _relative_errors(stock, exact)
    assert np.median(ours) > 0  # float32 really differs from float64: the comparison measures something
    assert np.median(ours) <= 1.5 * np.median(stock), (np.median(ours), np.median(stock))
    assert np.quantile(ours, 0.9) <= 1.5 * np.quantile(stock, 0.9), (np.quantile(ours, 0.9), np.quantile(stock, 0.9))


def _trained_weights(name, root, steps=20, lr=0.01):
    """The weights after `steps` float32 SGD-momentum steps of kclass's model on real CIFAR batches."""
    samples = lists.read_samples(f"{root}/train_list.txt", root, 10, False)
    rng = np.random.RandomState(1)
    keras.utils.set_random_seed(1)
    model = build(name, num_classes=10, input_shape=(32, 32, 3))
    optimizer = keras.optimizers.SGD(lr, momentum=0.9)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, model(images, training=True), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

    for _ in range(steps):
        pick = rng.choice(len(samples), 64, replace=False)
        step(tf.stack([transforms.eval_image(tf.io.read_file(samples.paths[i]), 32) for i in pick]),
             tf.constant(samples.labels[pick]))
    return [w.numpy() for w in model.weights]


@pytest.mark.slow
def test_float32_gradients_stay_as_close_to_float64_as_keras_layers_at_trained_weights(real_data, keras_layers):
    # Where the test above passed (initial weights), 20 steps of training were enough for TF's fused BN
    # kernel to lose three digits: 90% quantile of the errors 6.0e-3 (Keras's layers 3.0e-3), against
    # 2.8e-6 with the input centred before the kernel.
    root = real_data("cifar10-mini")
    weights = _trained_weights("ResNet50_vd", root)
    images, labels = _real_batch(root)
    _, ours = _gradients("ResNet50_vd", "float32", weights, images, labels)
    _, exact = _gradients("ResNet50_vd", "float64", weights, images, labels)
    keras_layers()
    _, stock = _gradients("ResNet50_vd", "float32", weights, images, labels)
    ours, stock = _relative_errors(ours, exact), _relative_errors(stock, exact)
    assert np.median(ours) > 0
    assert np.median(ours) <= 1.5 * np.median(stock), (np.median(ours), np.median(stock))
    assert np.quantile(ours, 0.9) <= 1.5 * np.quantile(stock, 0.9), (np.quantile(ours, 0.9), np.quantile(stock, 0.9))
    assert np.quantile(ours, 0.9) < 1e-4  # float32's own rounding, not a lost digit
