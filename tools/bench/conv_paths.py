"""Per conv layer of a model: Keras's stock layer versus kclass's, forward + backward, same shapes.

python tools/bench/conv_paths.py --model MobileNetV3_large_x1_0 [--batch 64 --image_size 32] [--repeats 20]

kclass's `Conv2D` runs pointwise and tiny-map convs as matmuls and its `DepthwiseConv2D` trains tiny
maps as a broadcast multiply-sum; this prints, for every such layer whose kclass path differs from Keras's,
milliseconds per forward+backward (training=True, gradients of input and kernel) for both, and the
speed-up. Last line: JSON with the totals.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "MobileNetV3_large_x1_0", "Registered model name.")
flags.DEFINE_integer("batch", 64, "Batch.")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_integer("repeats", 20, "Timed calls per layer (after 3 warm-up calls); the median is kept.")
FLAGS = flags.FLAGS


def time_step(layer, x, repeats):
    """Median ms of one forward + backward of `layer` on `x`."""
    import statistics

    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return tape.gradient(y, [x, *layer.trainable_weights], output_gradients=tf.ones_like(y))

    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        step()[0].numpy()
        times.append(time.perf_counter() - began)
    return 1e3 * statistics.median(times)


def differs(layer):
    """True when kclass's layer takes its own path for this input (else both run Keras's code)."""
    pointwise = getattr(layer, "_is_pointwise", lambda: False)()
    return pointwise or getattr(layer, "_dense", None) is not None


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    from kclass.models import registry

    model = registry.build(FLAGS.model, 100, (FLAGS.image_size, FLAGS.image_size, 3))
    totals = {"keras_ms": 0.0, "kclass_ms": 0.0}
    print(f"{'layer':40} {'input':>16} {'k':>2} {'s':>2} {'keras ms':>9} {'kclass ms':>9} {'x':>5}")
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D) or not differs(layer):
            continue
        stock = getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
        shape = (FLAGS.batch, *layer.input.shape[1:])
        x = tf.random.stateless_normal(shape, seed=(0, 1))
        stock.build(shape)
        stock.set_weights(layer.get_weights())
        ms = [time_step(stock, x, FLAGS.repeats), time_step(layer, x, FLAGS.repeats)]
        totals["keras_ms"] += ms[0]
        totals["kclass_ms"] += ms[1]
        print(f"{layer.name[:40]:40} {str(shape[1:]):>16} {layer.kernel_size[0]:2d} {layer.strides[0]:2d} "
              f"{ms[0]:9.2f} {ms[1]:9.2f} {ms[0] / ms[1]:5.2f}")
    totals = {k: round(v, 1) for k, v in totals.items()}
    print(json.dumps({"model": FLAGS.model, "batch": FLAGS.batch, "image_size": FLAGS.image_size, **totals,
                      "speedup": round(totals["keras_ms"] / totals["kclass_ms"], 2)}))


if __name__ == "__main__":
    app.run(main)
