"""Small data sets with known problems planted in them, for the data-check tests."""

import os
import shutil

import numpy as np
import tensorflow as tf

from kclass.data.demo import make_demo_dataset, make_multilabel_demo_dataset


def _append(list_file, lines):
    with open(list_file, "a") as f:
        f.writelines(f"{line}\n" for line in lines)


def _decode(path):
    return tf.io.decode_png(tf.io.read_file(path), channels=3)


def planted_set(root, per_class=4):
    """The demo set (6 classes, 32x32 PNG; train `per_class`, val 2 per class) plus, in train:
    an exact duplicate, a copy of a val image (leak), that val image's neighbour re-encoded as JPEG and
    another val image resized to 34x34 (near-duplicates), a corrupt PNG, a missing file, and one grey
    (1-channel) image. Returns {what: path(s)}, paths as the list reader joins them.
    """
    root = str(root)
    make_demo_dataset(root, train_per_class=per_class, val_per_class=2, image_size=32, seed=1)
    train_list, p = os.path.join(root, "train_list.txt"), lambda rel: os.path.join(root, rel)
    os.makedirs(p("extra"))
    planted = {"original": p("train/circle/0000.png"), "duplicate": p("extra/dup.png"),
               "val_copied": p("val/square/0000.png"), "leak": p("extra/leak.png"),
               "val_reencoded": p("val/triangle/0001.png"), "near_jpeg": p("extra/near.jpg"),
               "val_resized": p("val/cross/0000.png"), "near_resized": p("extra/resized.png"),
               "corrupt": p("extra/corrupt.png"), "missing": p("extra/missing.png"), "grey": p("extra/grey.png")}
    # The two val images copied as near-duplicates become photo-like (smooth layouts, mild noise): the
    # demo's flat shapes on heavy noise are the one kind of picture a thumbnail cannot recognise.
    rng = np.random.default_rng(7)
    for key in ("val_reencoded", "val_resized"):
        layout = tf.image.resize(rng.uniform(0, 255, (4, 4, 3)), [32, 32]).numpy() + rng.normal(0, 6, (32, 32, 3))
        tf.io.write_file(planted[key], tf.io.encode_png(np.clip(layout, 0, 255).astype(np.uint8)))
    shutil.copy(planted["original"], planted["duplicate"])
    shutil.copy(planted["val_copied"], planted["leak"])
    tf.io.write_file(planted["near_jpeg"], tf.io.encode_jpeg(_decode(planted["val_reencoded"]), quality=90))
    resized = tf.image.resize(_decode(planted["val_resized"]), [34, 34])
    tf.io.write_file(planted["near_resized"], tf.io.encode_png(tf.cast(tf.round(resized), tf.uint8)))
    with open(planted["corrupt"], "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    grey = np.random.default_rng(5).integers(0, 256, (40, 24, 1), dtype=np.uint8)
    tf.io.write_file(planted["grey"], tf.io.encode_png(grey))
    # labels: the duplicate disagrees with its original (circle 0 -> ring 4); the rest keep theirs
    _append(train_list, ["extra/dup.png 4", "extra/leak.png 1", "extra/near.jpg 2", "extra/resized.png 3",
                         "extra/corrupt.png 5", "extra/missing.png 5", "extra/grey.png 5"])
    return planted


def multilabel_set(root):
    """The multi-label demo set: 5 classes, 30 train and 10 val images of 32x32."""
    return make_multilabel_demo_dataset(str(root), train_images=30, val_images=10, image_size=32, seed=2)


def list_labels(list_file, multilabel=False):
    """Labels read straight from a list file's text: ids [N] or multi-hot [N, C]."""
    with open(list_file) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if multilabel:
        return np.array([[int(x) for x in line.split("\t")[1].split(",")] for line in lines])
    return np.array([int(line.rsplit(" ", 1)[1]) for line in lines])
