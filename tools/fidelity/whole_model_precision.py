"""The whole model's float32 gradient against float64, batch by batch: kclass's kernels and Keras's layers.

  python tools/fidelity/whole_model_precision.py --data ../shared/data/cifar10-mini --model ResNet50_vd \
      --trained_steps 20 --batches 5

Draws the model's initial weights (seed 1) and trains them `--trained_steps` float32 SGD-momentum steps
(LR 0.01) on random real batches; then, for each of `--batches` real batches of 64 (batch b drawn with seed b), computes every
variable's training-mode CE gradient in float64 and in float32, once with kclass's kernels and once with
Keras's own Conv2D / DepthwiseConv2D / BatchNormalization, and prints the median and 90% quantile over
variables of the relative error against float64. One batch is one draw: an activation within rounding
of a ReLU kink or a max-pool tie moves these errors by orders of magnitude (tools/fidelity/RESULTS.md).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder with train_list.txt (10 classes, 32 px)")
    p.add_argument("--model", default="ResNet50_vd")
    p.add_argument("--trained_steps", type=int, default=20)
    p.add_argument("--batches", type=int, default=5)
    args = p.parse_args()

    import keras
    import tensorflow as tf
    from kclass.data import lists, transforms
    from kclass.layers import batch_norm, conv, depthwise
    from kclass.models import build

    samples = lists.read_samples(os.path.join(args.data, "train_list.txt"), args.data, 10, False)
    extra = {"dropout": 0.0} if args.model.startswith("MobileNetV3") else {}

    def batch(rng):
        pick = rng.choice(len(samples), 64, replace=False)
        images = tf.stack([transforms.eval_image(tf.io.read_file(samples.paths[i]), 32) for i in pick])
        return images, tf.constant(samples.labels[pick])

    keras.utils.set_random_seed(1)
    model = build(args.model, num_classes=10, input_shape=(32, 32, 3), **extra)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    rng = np.random.RandomState(1)
    for _ in range(args.trained_steps):
        images, labels = batch(rng)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, model(images, training=True), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    weights = [w.numpy() for w in model.weights]

    def gradients(dtype, images, labels):
        net = build(args.model, num_classes=10, input_shape=(32, 32, 3), dtype=dtype, **extra)
        net.set_weights([w.astype(dtype) for w in weights])
        with tf.GradientTape() as tape:
            logits = tf.cast(net(tf.cast(images, dtype), training=True), tf.float64)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        return [g.numpy().astype(np.float64) for g in tape.gradient(loss, net.trainable_variables)]

    kclass_kernels = (batch_norm.BatchNormalization._can_fuse, conv.Conv2D.build, conv.Conv2D.convolution_op,
                      depthwise.DepthwiseConv2D.build, depthwise.DepthwiseConv2D.call)

    def use_keras_layers(on):
        (batch_norm.BatchNormalization._can_fuse, conv.Conv2D.build, conv.Conv2D.convolution_op,
         depthwise.DepthwiseConv2D.build, depthwise.DepthwiseConv2D.call) = (
            (lambda self, inputs, mask: False, keras.layers.Conv2D.build, keras.layers.Conv2D.convolution_op,
             keras.layers.DepthwiseConv2D.build, keras.layers.DepthwiseConv2D.call) if on else kclass_kernels)

    def errors(grads, exact):
        return np.array([np.linalg.norm(g - e) / np.linalg.norm(e) for g, e in zip(grads, exact)
                         if np.linalg.norm(e) > 1e-8])

    for b in range(args.batches):
        images, labels = batch(np.random.RandomState(b))
        use_keras_layers(False)
        exact = gradients("float64", images, labels)
        ours = errors(gradients("float32", images, labels), exact)
        use_keras_layers(True)
        stock = errors(gradients("float32", images, labels), exact)
        print(f"batch {b}: kclass median {np.median(ours):.2e} q90 {np.quantile(ours, 0.9):.2e} | "
              f"Keras layers median {np.median(stock):.2e} q90 {np.quantile(stock, 0.9):.2e}", flush=True)


if __name__ == "__main__":
    main()
