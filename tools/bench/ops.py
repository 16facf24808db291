"""Where a training step's time goes: TF's profiler, summed by op type (and by op with --by_op).

python tools/bench/ops.py --model MobileNetV3_large_x1_0 [--batch 64 --image_size 32] [--steps 10] \
    [--precision fp32] [--top 25] [--by_op] [--mode train|eval|eval_folded]

Profiles `steps` steps of `train_step.build` (the engine's step), or `steps` inference calls (with
--mode eval, eval_folded), after a warm-up and prints, per op
type, the milliseconds per step summed over both cores' compute threads, its share, and the call
count per step. An op's time is its wall time on the thread that ran it (its intra-op work on the
other core included); ops that overlap are both counted, so shares are of the sum, not of the step.
"""

import collections
import glob
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "MobileNetV3_large_x1_0", "Registered model name.")
flags.DEFINE_integer("batch", 64, "Global batch.")
flags.DEFINE_integer("image_size", 32, "Input side in pixels.")
flags.DEFINE_integer("num_classes", 100, "Classes.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "mixed_bfloat16"], "Keras dtype policy.")
flags.DEFINE_integer("steps", 10, "Profiled steps.")
flags.DEFINE_integer("top", 25, "Rows printed.")
flags.DEFINE_bool("by_op", False, "One row per op name (layer) instead of per op type.")
flags.DEFINE_enum("mode", "train", ["train", "eval", "eval_folded"],
                  "train: the engine's step; eval: model(x, training=False); eval_folded: the same after "
                  "fold_batch_norms (what ServingModule serves).")
FLAGS = flags.FLAGS


def op_times(logdir, by_op):
    """{key: (total_us, calls)} over the compute threads of the host plane of the newest profile."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.defaultdict(lambda: [0.0, 0])
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                # Op events are "op_name:OpType"; the executor's own ("ExecutorState::Process") enclose them.
                if ":" not in name or "::" in name:
                    continue
                op_name, op_type = name.rsplit(":", 1)
                key = op_name if by_op else op_type
                totals[key][0] += event.duration_ps / 1e6
                totals[key][1] += 1
    return totals


def eval_calls(fold):
    """A function running `steps` inference calls of the model on one random batch."""
    import tensorflow as tf

    from kclass.models import registry
    from kclass.layers.fold_batch_norm import fold_batch_norms

    model = registry.build(FLAGS.model, FLAGS.num_classes, (FLAGS.image_size, FLAGS.image_size, 3))
    model = fold_batch_norms(model) if fold else model
    images = tf.random.stateless_normal([FLAGS.batch, FLAGS.image_size, FLAGS.image_size, 3], seed=(0, 1))
    call = tf.function(lambda x: model(x, training=False))

    def run():
        for _ in range(FLAGS.steps):
            call(images).numpy()
    return run


def main(argv):
    del argv
    import tensorflow as tf

    import train_step

    if FLAGS.mode == "train":
        train, iterator, steps, _ = train_step.build(FLAGS.model, FLAGS.batch, FLAGS.image_size, FLAGS.num_classes,
                                                     FLAGS.steps, FLAGS.precision)

        def run():
            float(train(iterator, steps)["loss"])
    else:
        run = eval_calls(FLAGS.mode == "eval_folded")
    run()  # warm-up: tracing and oneDNN primitive caches
    logdir = tempfile.mkdtemp(prefix="kclass-ops-")
    tf.profiler.experimental.start(logdir)
    run()
    tf.profiler.experimental.stop()
    totals = op_times(logdir, FLAGS.by_op)
    whole = sum(t for t, _ in totals.values())
    print(f"{FLAGS.model} {FLAGS.mode} {FLAGS.precision} batch {FLAGS.batch} at {FLAGS.image_size}px: "
          f"{whole / 1e3 / FLAGS.steps:.1f} ms of thread time per step")
    print(f"{'ms/step':>8} {'share':>6} {'calls':>6}  op")
    for key, (t, n) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:FLAGS.top]:
        print(f"{t / 1e3 / FLAGS.steps:8.2f} {100 * t / whole:5.1f}% {n / FLAGS.steps:6.0f}  {key}")


if __name__ == "__main__":
    app.run(main)
