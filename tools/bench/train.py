"""Training throughput of kclass's real step (the engine's loop, the recipe's Momentum + L2 + CE).

python tools/bench/train.py --model ResNet50_vd --batch 64 --image_size 32 --num_classes 100 \
    [--precision fp32|mixed_bfloat16] [--steps 20 --repeats 3] [--leak_steps 2000] [--intra_op_threads N] [--json]

Random images in memory (no input pipeline cost), in the op thread pools the training CLI would pick
for this batch and size, one warm-up call (tracing), then `repeats` timed calls of `steps` steps each.
Prints one line per repeat and, last, a JSON line with the median, the intra-op threads, the process's
voluntary context switches per timed step and `conv_compute_dtypes` ({dtype: conv layers}: what
`--precision` really built).
`--leak_steps N` then runs N more steps and reports the resident memory after the first tenth and
at the end (`rss_growth_mb`): a leak grows with steps, a cache does not.
"""

import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "ResNet50_vd", "Registered model name.")
flags.DEFINE_integer("batch", 64, "Global batch.")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_integer("num_classes", 100, "Classes.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "mixed_bfloat16", "mixed_float16"], "Keras dtype policy.")
flags.DEFINE_integer("steps", 20, "Steps per timed repeat (compiled into one loop call).")
flags.DEFINE_integer("repeats", 3, "Timed repeats; the median is reported.")
flags.DEFINE_integer("leak_steps", 0, "Steps of the leak check after timing (0: none).")
flags.DEFINE_integer("intra_op_threads", None, "TF's intra-op pool (0: TF's default); unset: as "
                     "`python -m kclass.train` picks it (kclass.engine.op_threads).")
flags.DEFINE_bool("json", False, "Print only the final JSON line.")
FLAGS = flags.FLAGS


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def leak_check(train, iterator, total, steps, chunk):
    """Resident MB after the first tenth of `total` steps and at the end; `steps` (= chunk) per call."""
    calls = max(1, total // chunk)
    settled = None
    for i in range(calls):
        float(train(iterator, steps)["loss"])
        if i + 1 == max(1, calls // 10):
            settled = current_rss_mb()
    end = current_rss_mb()
    return {"leak_steps": calls * chunk, "rss_after_tenth_mb": round(settled, 1), "rss_end_mb": round(end, 1),
            "rss_growth_mb": round(end - settled, 1)}


def main(argv):
    del argv
    import train_step

    from kclass.engine import op_threads

    intra, _, _ = op_threads.configure(FLAGS.batch, FLAGS.image_size, 1, FLAGS.intra_op_threads)
    train, iterator, steps, model = train_step.build(FLAGS.model, FLAGS.batch, FLAGS.image_size,
                                                     FLAGS.num_classes, FLAGS.steps, FLAGS.precision)
    train(iterator, steps)  # warm-up: tracing and oneDNN primitive caches
    rates = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(FLAGS.repeats):
        began = time.perf_counter()
        sums = train(iterator, steps)
        float(sums["loss"])  # waits for the work
        rates.append(FLAGS.steps * FLAGS.batch / (time.perf_counter() - began))
        if not FLAGS.json:
            print(f"repeat {i + 1}: {rates[-1]:.1f} img/s")
    after = resource.getrusage(resource.RUSAGE_SELF)
    result = {"model": FLAGS.model, "precision": FLAGS.precision, "batch": FLAGS.batch,
              "image_size": FLAGS.image_size, "intra_op_threads": intra,
              "conv_compute_dtypes": train_step.conv_compute_dtypes(model),
              "images_per_s": round(statistics.median(rates), 1),
              "min": round(min(rates), 1), "max": round(max(rates), 1),
              # Threads waiting for one another: how small ops' hand-offs show (kclass.engine.op_threads).
              "voluntary_switches_per_step": round((after.ru_nvcsw - before.ru_nvcsw) / (FLAGS.repeats * FLAGS.steps))}
    if FLAGS.leak_steps:
        result.update(leak_check(train, iterator, FLAGS.leak_steps, steps, FLAGS.steps))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
