"""CPU time per image of each stage of the per-image train transform, on a real list file.

    python tools/bench/train_image_parts.py [--data ../shared/data/cifar10-mini] [--images 5000] [--size 32]

Maps each stage over the list's first `--images` images with one thread (tf.data, batches of 64) and
prints the process CPU microseconds per image, cumulative: reading the file, decoding it
(`transforms.decode`), the crop box alone (`transforms.crop_box`: scalar ops), and the whole
`transforms.train_image` (decode, crop, resize, flip). Then the path the pipeline takes with the
decoded-image cache: an image from the cache alone (tf.data's per-element cost), and with the crop
from its epoch's batched draws (`transforms.train_crop_from_bits`). The last line is JSON.
"""

import json
import os
import resource
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from absl import app, flags  # noqa: E402

flags.DEFINE_string("data", os.path.join(REPO, "..", "shared", "data", "cifar10-mini"),
                    "Folder with train_list.txt (PaddleClas format) and label_list.txt.")
flags.DEFINE_integer("images", 5000, "Images mapped per stage.")
flags.DEFINE_integer("size", 32, "Train crop side in pixels.")
FLAGS = flags.FLAGS


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv):
    del argv
    import tensorflow as tf

    from kclass.data import decoded_cache, lists, transforms

    folder = os.path.abspath(FLAGS.data)
    with open(os.path.join(folder, "label_list.txt")) as f:
        classes = sum(1 for line in f if line.strip())
    samples = lists.read_samples(os.path.join(folder, "train_list.txt"), folder, classes, False)
    paths = tf.constant(samples.paths[:FLAGS.images])
    n = int(paths.shape[0])

    def seed(i):
        return tf.stack([tf.constant(42, tf.int64), i])

    # The pipeline's own path: pixels decoded once (DataConfig.cache_mb), draws of a whole epoch at once.
    cache = decoded_cache.decode_all(samples.paths[:n], budget_mb=4096)
    bits = transforms.train_crop_bits(tf.stack([tf.fill([n], tf.constant(42, tf.int64)),
                                                tf.range(n, dtype=tf.int64)], axis=1))

    stages = {
        "read_file": lambda i: tf.io.read_file(paths[i]),
        "read_file + decode": lambda i: transforms.decode(tf.io.read_file(paths[i])),
        "crop_box alone": lambda i: transforms.crop_box(FLAGS.size, FLAGS.size, seed(i)),
        "train_image (read, decode, crop, resize, flip)": lambda i: transforms.train_image(
            tf.io.read_file(paths[i]), FLAGS.size, seed(i)),
        "decoded image from the cache": lambda i: cache.image(i),
        "cache + train_crop_from_bits (crop, resize, flip)": lambda i: transforms.train_crop_from_bits(
            cache.image(i), FLAGS.size, bits[i]),
    }
    result = {"images": n, "size": FLAGS.size}
    for name, fn in stages.items():
        ds = tf.data.Dataset.range(n).map(fn, num_parallel_calls=1).batch(64)
        for _ in ds.take(2):  # tracing and thread start-up out of the figure
            pass
        began = cpu_seconds()
        for _ in ds:
            pass
        result[name] = round(1e6 * (cpu_seconds() - began) / n, 1)
        print(f"{name}: {result[name]} us of CPU per image")
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
