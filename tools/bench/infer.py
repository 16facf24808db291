"""Inference speed of exported models: batch-64 throughput and batch-1 latency.

python tools/bench/infer.py [--models ResNet50_vd,MobileNetV3_large_x1_0] [--image_size 32]
    [--num_classes 100] [--batch 64] [--repeats 5] [--latency_calls 50] [--no_onnx] [--json]

For each model (random weights: speed does not depend on them): the Keras model called as the eval
loop calls it, the exported SavedModel's `predict_images` (float input) and `serving_default`
(encoded PNGs: decode + eval preprocessing in-graph, what TF-Serving runs), and the ONNX export in
ONNX Runtime (CPU). Throughput is the median of `repeats` timed runs of 10 batches; latency the median
and 90th percentile of `latency_calls` single-image calls; engines take turns. The last line is JSON.
"""

import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

flags.DEFINE_list("models", ["ResNet50_vd", "MobileNetV3_large_x1_0"], "Registered model names.")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_integer("num_classes", 100, "Classes.")
flags.DEFINE_integer("batch", 64, "Throughput batch.")
flags.DEFINE_integer("repeats", 5, "Timed throughput runs (10 batches each); the median is reported.")
flags.DEFINE_integer("latency_calls", 50, "Timed batch-1 calls.")
flags.DEFINE_bool("no_onnx", False, "Skip the ONNX export and ONNX Runtime.")
flags.DEFINE_bool("json", False, "Print only the final JSON line.")
FLAGS = flags.FLAGS


def measure(engines, repeats, latency_calls, batch):
    """{engine: {"batch_images_per_s", "batch1_ms", "batch1_p90_ms"}} for `engines` name ->
    (call, batch_inputs, single_input). Engines take turns (round-robin) so that load from other
    processes on a shared machine hits them alike."""
    for call, many, one in engines.values():
        for _ in range(3):  # tracing, oneDNN/ORT kernel caches
            call(many)
            call(one)
    rates = {name: [] for name in engines}
    times = {name: [] for name in engines}
    for _ in range(repeats):
        for name, (call, many, _) in engines.items():
            start = time.perf_counter()
            for _ in range(10):
                call(many)
            rates[name].append(10 * batch / (time.perf_counter() - start))
    for _ in range(latency_calls):
        for name, (call, _, one) in engines.items():
            start = time.perf_counter()
            call(one)
            times[name].append((time.perf_counter() - start) * 1000)
    result = {}
    for name in engines:
        ordered = sorted(times[name])
        result[name] = {"batch_images_per_s": round(statistics.median(rates[name]), 1),
                        "batch1_ms": round(statistics.median(ordered), 2),
                        "batch1_p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2)}
    return result


def bench_model(name, work):
    import numpy as np
    import tensorflow as tf

    from kclass import models
    from kclass.export.saved_model import export_version
    from kclass.export.serving_module import ServingModule, ServingSpec
    from kclass.export.signatures import FLOAT_SIGNATURE, INPUT_NAME, SERVING_SIGNATURE

    size, batch = FLAGS.image_size, FLAGS.batch
    model = models.build(name, num_classes=FLAGS.num_classes, input_shape=(size, size, 3))
    rng = np.random.default_rng(0)
    floats = rng.normal(size=(batch, size, size, 3)).astype(np.float32)
    pixels = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    encoded = np.array([tf.io.encode_png(p).numpy() for p in pixels], dtype=object)
    f_batch, f_one = tf.constant(floats), tf.constant(floats[:1])
    s_batch, s_one = tf.constant(encoded), tf.constant(encoded[:1])

    spec = ServingSpec(image_size=size, class_names=[str(i) for i in range(FLAGS.num_classes)])
    exported = export_version(ServingModule(model, spec), os.path.join(work, name), onnx=not FLAGS.no_onnx)
    loaded = tf.saved_model.load(exported.path)
    float_sig, string_sig = loaded.signatures[FLOAT_SIGNATURE], loaded.signatures[SERVING_SIGNATURE]
    keras_call = tf.function(lambda x: model(x, training=False))
    engines = {"keras": (keras_call, f_batch, f_one),
               "saved_model_float": (lambda x: float_sig(**{INPUT_NAME: x}), f_batch, f_one),
               "saved_model_encoded": (lambda x: string_sig(**{INPUT_NAME: x}), s_batch, s_one)}
    if exported.onnx:
        import onnxruntime

        session = onnxruntime.InferenceSession(exported.onnx, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        engines["onnxruntime"] = (lambda x: session.run(None, {input_name: x}), floats, floats[:1])
    results = measure(engines, FLAGS.repeats, FLAGS.latency_calls, batch)
    if exported.onnx:
        results["onnxruntime"]["max_diff_vs_tf"] = exported.onnx_max_diff
    for engine, r in results.items():
        log(name, engine, r)
    return results


def log(model, engine, r):
    if not FLAGS.json:
        print(f"{model:24s} {engine:20s} batch {FLAGS.batch}: {r['batch_images_per_s']:9.1f} images/s   "
              f"batch 1: {r['batch1_ms']:7.2f} ms (p90 {r['batch1_p90_ms']:.2f})", flush=True)


def main(argv):
    del argv
    import tensorflow as tf

    work = tempfile.mkdtemp(prefix="kclass-infer-")
    report = {"image_size": FLAGS.image_size, "num_classes": FLAGS.num_classes, "batch": FLAGS.batch,
              "cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "models": {}}
    try:
        for name in FLAGS.models:
            report["models"][name] = bench_model(name, work)
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    app.run(main)
