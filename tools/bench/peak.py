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
    # An orthogonal factor keeps the chained product bounded; chaining makes each product depend on
    # the last, so Grappler cannot merge ten identical matmuls into one (which reported 3x the
    # hardware's FMA limit).
    q, _ = tf.linalg.qr(tf.random.normal([n, n], seed=0))
    x0, q = tf.cast(tf.random.normal([n, n], seed=1), dtype), tf.cast(q, dtype)

    @tf.function
    def ten(x):
        for _ in range(10):  # ten products per call keeps Python out of the measurement
            x = tf.matmul(x, q)
        return x

    x = ten(x0)
    float(x[0, 0])
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        x = ten(x)
        calls += 1
    float(x[0, 0])
    return calls * 10 * 2 * n ** 3 / (time.perf_counter() - began) / 1e9


def cpu_has_avx512_bf16():
    """Without this flag oneDNN emulates bf16 matmuls in fp32 units, so mixed_bfloat16 cannot pay."""
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read().split()
    except OSError:
        return None


def main(argv):
    del argv
    import tensorflow as tf
    result = {"n": FLAGS.n, "cpu_has_avx512_bf16": cpu_has_avx512_bf16()}
    for name, dtype in (("fp32", tf.float32), ("bf16", tf.bfloat16)):
        result[f"{name}_gflops"] = round(sustained_gflops(dtype, FLAGS.n, FLAGS.seconds), 1)
        if not FLAGS.json:
            print(f"{name}: {result[f'{name}_gflops']} GFLOP/s")
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
