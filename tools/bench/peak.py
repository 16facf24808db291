"""This CPU's sustained matmul GFLOP/s with TF, fp32 and bf16: the ceiling training is compared to.

python tools/bench/peak.py [--n 2048] [--seconds 3] [--json]
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("n", 2048, "Square matrix side.")
flags.DEFINE_float("seconds", 3.0, "Time per precision after warm-up.")
flags.DEFINE_bool("json", False, "Print only the final JSON line.")
FLAGS = flags.FLAGS


def sustained_gflops(dtype, n, seconds):
    import tensorflow as tf
    a = tf.random.normal([n, n], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)

    @tf.function
    def ten():
        acc = tf.zeros([], tf.float32)
        for _ in range(10):  # ten products per call keeps Python out of the measurement
            acc += tf.cast(tf.matmul(a, b)[0, 0], tf.float32)
        return acc

    ten().numpy()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        ten().numpy()
        calls += 1
    return calls * 10 * 2 * n ** 3 / (time.perf_counter() - began) / 1e9


def main(argv):
    del argv
    import tensorflow as tf
    result = {"n": FLAGS.n}
    for name, dtype in (("fp32", tf.float32), ("bf16", tf.bfloat16)):
        result[f"{name}_gflops"] = round(sustained_gflops(dtype, FLAGS.n, FLAGS.seconds), 1)
        if not FLAGS.json:
            print(f"{name}: {result[f'{name}_gflops']} GFLOP/s")
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
