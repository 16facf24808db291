"""How fast kclass.check_data checks a CIFAR-size data set: images/s of the whole check.

    python tools/bench/check_data.py [--images 50000] [--val_fraction 0.2] [--plant 10] [--cli]

Writes `--images` 32x32 PNGs (smooth random colour layouts plus noise, ~3 KB each, as CIFAR's PNGs) into a temp
folder, lists a `--val_fraction` of them as val and the rest as train, and plants `--plant` exact
duplicates in train and as many train/val leaks (copies). Then times `kclass.data.check.check` on the
two lists (list reading, the parallel decode/hash pass, duplicates, leaks and the near-duplicate
search), checks that it found exactly the planted duplicates and leaks, and with `--cli` also times
`python -m kclass.check_data` end to end (Python and TF start-up, report files, class_counts.png).
The files were just written, so they are read from the page cache. Last line: JSON.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("images", 50000, "PNGs written and checked (train + val).")
flags.DEFINE_float("val_fraction", 0.2, "Share of the images listed as val.")
flags.DEFINE_integer("plant", 10, "Exact duplicates planted in train, and train/val leaks planted.")
flags.DEFINE_bool("cli", False, "Also time `python -m kclass.check_data` on the same lists.")
flags.DEFINE_integer("classes", 10, "Classes the labels cycle over.")
FLAGS = flags.FLAGS
SIZE = 32


def write_pngs(folder, count):
    """`count` PNGs folder/NNNNNN.png, written by a parallel tf.data map (seeded by the index)."""
    import tensorflow as tf

    def write(i):
        seeds = tf.random.experimental.stateless_split(tf.stack([i, tf.constant(7, tf.int64)]), 2)
        # A random 4x4 colour grid, smoothly upsampled, plus noise: every image has its own layout
        # (as photos do), so the perceptual hashes are spread, not all alike.
        grid = tf.random.stateless_uniform([4, 4, 3], seeds[0], 0, 255)
        image = tf.image.resize(grid, [SIZE, SIZE]) + tf.random.stateless_normal([SIZE, SIZE, 3], seeds[1], 0, 12)
        png = tf.io.encode_png(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8))
        path = tf.strings.join([folder, "/", tf.strings.as_string(i, width=6, fill="0"), ".png"])
        with tf.control_dependencies([tf.io.write_file(path, png)]):
            return tf.identity(i)

    for _ in tf.data.Dataset.range(count).map(write, num_parallel_calls=tf.data.AUTOTUNE).batch(4096):
        pass


def make_lists(root, count, val_fraction, plant, classes):
    n_val = int(count * val_fraction)
    names = [f"img/{i:06d}.png" for i in range(count)]
    train = [f"{n} {i % classes}" for i, n in enumerate(names[:count - n_val])]
    val = [f"{n} {i % classes}" for i, n in enumerate(names[count - n_val:])]
    for k in range(plant):  # train image k copied into train (a duplicate), image plant + k into val (a leak)
        for kind, source, lines in (("dup", k, train), ("leak", plant + k, val)):
            shutil.copy(os.path.join(root, names[source]), os.path.join(root, f"img/{kind}{k}.png"))
            lines.append(f"img/{kind}{k}.png {source % classes}")
    for split, lines in (("train", train), ("val", val)):
        with open(os.path.join(root, f"{split}_list.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return len(train), len(val)


def time_library(root, classes):
    from kclass.data import check, lists

    start = time.perf_counter()
    train = lists.read_list(os.path.join(root, "train_list.txt"), root, classes, check_files=False)
    val = lists.read_list(os.path.join(root, "val_list.txt"), root, classes, check_files=False)
    report = check.check(train, val, classes, image_size=SIZE)
    return time.perf_counter() - start, report


def time_cli(root, classes):
    params = [f"DATA_ROOT='{root}'", f"TRAIN_LIST='{root}/train_list.txt'", f"VAL_LIST='{root}/val_list.txt'",
              f"NUM_CLASSES={classes}", f"MODEL_DIR='{root}/run'", "LABEL_LIST=None", "Experiment.prepare=None"]
    cmd = [sys.executable, "-m", "kclass.check_data", "--gin_file", "gin/quick_start/demo.gin", "--json"]
    for p in params:
        cmd += ["--gin_param", p]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"check_data failed:\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    root = tempfile.mkdtemp(prefix="kclass-bench-check-")
    try:
        os.makedirs(os.path.join(root, "img"))
        start = time.perf_counter()
        write_pngs(os.path.join(root, "img"), FLAGS.images)
        n_train, n_val = make_lists(root, FLAGS.images, FLAGS.val_fraction, FLAGS.plant, FLAGS.classes)
        print(f"wrote {FLAGS.images} PNGs (+{2 * FLAGS.plant} planted copies) in {time.perf_counter() - start:.1f} s; "
              f"train {n_train}, val {n_val}", flush=True)
        seconds, report = time_library(root, FLAGS.classes)
        images = n_train + n_val
        found = {"duplicates": len(report["duplicates"]), "leaks": len(report["leaks"])}
        if found != {"duplicates": FLAGS.plant, "leaks": FLAGS.plant} or report["undecodable"]:
            raise SystemExit(f"check found {found}, undecodable {len(report['undecodable'])}; "
                             f"planted {FLAGS.plant} each")
        result = {"images": images, "seconds": round(seconds, 2), "img_per_s": round(images / seconds),
                  "near_leaks_total": report["near_leaks_total"], "cpus": os.cpu_count()}
        print(f"library check: {images} images in {seconds:.2f} s = {images / seconds:.0f} img/s", flush=True)
        if FLAGS.cli:
            cli_seconds, cli_report = time_cli(root, FLAGS.classes)
            assert len(cli_report["leaks"]) == FLAGS.plant
            result.update(cli_seconds=round(cli_seconds, 2), cli_check_seconds=cli_report["seconds"])
            print(f"python -m kclass.check_data: {cli_seconds:.2f} s wall (check itself {cli_report['seconds']} s)",
                  flush=True)
        print(json.dumps(result))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    app.run(main)
