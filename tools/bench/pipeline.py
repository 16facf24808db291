"""Input-pipeline throughput alone (no model): images/s of kclass's real training pipeline on this machine.

    python tools/bench/pipeline.py [--images 2048] [--batch 64] [--batches 30] [--rounds 3] [--train_steps 0]

Writes `--images` 32x32 PNGs and a PaddleClas list file into a temp dir, then times
kclass.data.pipeline.train_dataset (decode + RandCrop + flip + normalise, batch `--batch`) with:
  baseline          no batch ops
  mixup_cutout      + Cutout(1, 16) + Mixup(0.2)
  autoaugment       + AutoAugment before normalising, + Cutout + Mixup
  randaugment       + RandAugment(2, 5) before normalising, + Cutout + Mixup
`--train_steps N` also times N ResNet50_vd training steps (batch `--batch`, 32x32, SGD) for the ratio
pipeline / training. Prints one line per figure; the last line is JSON.
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

FLAGS = flags.FLAGS
NUM_CLASSES = 100
SIZE = 32


def define_flags():
    flags.DEFINE_integer("images", 2048, "PNGs to write (the pipeline cycles over them).")
    flags.DEFINE_integer("batch", 64, "Batch size.")
    flags.DEFINE_integer("batches", 30, "Batches timed per configuration and round (after warm-up).")
    flags.DEFINE_integer("rounds", 3, "Rounds over all configurations; the median round is reported.")
    flags.DEFINE_integer("warmup", 8, "Batches discarded first (graph building, autotune).")
    flags.DEFINE_integer("train_steps", 0, "Also time this many ResNet50_vd training steps (0: skip).")
    flags.DEFINE_integer("seed", 0, "Pipeline seed.")


def write_dataset(root, count, seed=0):
    """`count` 32x32 PNGs (smooth colour fields plus noise, CIFAR-like in size) and train_list.txt."""
    import numpy as np
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "img"), exist_ok=True)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    lines = []
    for i in range(count):
        base = rng.uniform(0, 255, 3) + rng.uniform(-120, 120, 3) * xx[..., None] + rng.uniform(-120, 120, 3) * yy[..., None]
        image = np.clip(base + rng.normal(0, 20, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
        rel = f"img/{i:05d}.png"
        tf.io.write_file(os.path.join(root, rel), tf.io.encode_png(image))
        lines.append(f"{rel} {i % NUM_CLASSES}\n")
    path = os.path.join(root, "train_list.txt")
    with open(path, "w") as f:
        f.writelines(lines)
    return path


def configurations():
    from kclass.data.autoaugment import AutoAugment
    from kclass.data.cutout import Cutout
    from kclass.data.mixup import Mixup
    from kclass.data.pipeline import DataConfig
    from kclass.data.randaugment import RandAugment
    batch_ops = dict(post_norm_ops=[Cutout(n_holes=1, length=16)], mix_op=Mixup(alpha=0.2))
    return {
        "baseline": dict(),
        "mixup_cutout": batch_ops,
        "autoaugment": dict(pre_norm_ops=[AutoAugment()], **batch_ops),
        "randaugment": dict(pre_norm_ops=[RandAugment(num_layers=2, magnitude=5)], **batch_ops),
    }, DataConfig


def time_batches(it, batch, batches):
    start = time.perf_counter()
    for _ in range(batches):
        images, _ = next(it)
    images.numpy()
    return batches * batch / (time.perf_counter() - start)


def time_training(batch, steps):
    """ResNet50_vd training images/s at 32x32 (forward, backward, SGD momentum) on fixed data."""
    import keras
    import tensorflow as tf

    from kclass import models
    model = models.build("ResNet50_vd", num_classes=NUM_CLASSES, input_shape=(SIZE, SIZE, 3))
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    x = tf.random.stateless_normal([batch, SIZE, SIZE, 3], [0, 1])
    y = tf.one_hot(tf.range(batch) % NUM_CLASSES, NUM_CLASSES)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, model(x, training=True), from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.numpy()
    return steps * batch / (time.perf_counter() - start)


def run(images=2048, batch=64, batches=30, warmup=8, train_steps=0, seed=0, rounds=3, log=print):
    """Returns the result dict (also what the JSON line holds).

    Configurations are timed round-robin, `rounds` times, and the median round is kept, so a burst of
    load from other processes does not land on one configuration only.
    """
    from kclass.data import lists, pipeline
    configs, data_config = configurations()
    result = {"batch": batch, "image_size": SIZE, "cpus": os.cpu_count(), "images_per_s": {}}
    with tempfile.TemporaryDirectory(prefix="kclass-bench-") as root:
        list_file = write_dataset(root, images, seed)
        samples = lists.read_list(list_file, root, NUM_CLASSES)
        iterators = {}
        for name, ops in configs.items():
            cfg = data_config(source=list_file, data_root=root, **ops)
            iterators[name] = iter(pipeline.train_dataset(cfg, samples, SIZE, batch, NUM_CLASSES, seed))
            for _ in range(warmup):
                next(iterators[name])
        rates = {name: [] for name in configs}
        for _ in range(rounds):
            for name, it in iterators.items():
                rates[name].append(time_batches(it, batch, batches))
        for name, values in rates.items():
            rate = statistics.median(values)
            result["images_per_s"][name] = round(rate, 1)
            log(f"pipeline {name:13s} {rate:9.1f} images/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    if train_steps:
        rate = time_training(batch, train_steps)
        result["train_images_per_s"] = round(rate, 1)
        result["pipeline_over_train"] = {k: round(v / rate, 1) for k, v in result["images_per_s"].items()}
        log(f"train    ResNet50_vd   {rate:9.1f} images/s")
    if hasattr(os, "getloadavg"):
        result["load_avg_1min"] = round(os.getloadavg()[0], 2)
    log(json.dumps(result))
    return result


def main(argv):
    del argv
    run(FLAGS.images, FLAGS.batch, FLAGS.batches, FLAGS.warmup, FLAGS.train_steps, FLAGS.seed, FLAGS.rounds)


if __name__ == "__main__":
    define_flags()
    app.run(main)
