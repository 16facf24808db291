"""The demo data set: procedural shapes written as PNGs + PaddleClas list files, made on first use."""

import os

import numpy as np
import tensorflow as tf

from kclass import atomic_write

CLASSES = ("circle", "square", "triangle", "cross", "ring", "stripes")


def _shape_mask(kind, size, rng):
    """Boolean [size, size] mask of one shape at a random place, scale and (for stripes) period."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(0.28, 0.42) * size
    cy, cx = rng.uniform(r, size - r, 2)
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        return dy ** 2 + dx ** 2 <= r ** 2
    if kind == "square":
        return (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
    if kind == "triangle":
        return (dy <= r * 0.7) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if kind == "cross":
        arm = r * 0.3
        return ((np.abs(dy) <= arm) & (np.abs(dx) <= r)) | ((np.abs(dx) <= arm) & (np.abs(dy) <= r))
    if kind == "ring":
        d2 = dy ** 2 + dx ** 2
        return (d2 <= r ** 2) & (d2 >= (0.55 * r) ** 2)
    period = rng.uniform(4, 8)
    return np.sin(2 * np.pi * (yy if rng.random() < 0.5 else xx) / period) > 0.3


def _image(kind, size, rng):
    background = rng.uniform(0, 255, 3)
    foreground = (background + rng.uniform(80, 175, 3)) % 256
    mask = _shape_mask(kind, size, rng)[..., None]
    image = np.where(mask, foreground, background) + rng.normal(0, 12, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _complete(root):
    return os.path.isfile(os.path.join(root, "val_list.txt"))


def _staged(root, prefix):
    """A temp folder that becomes `root` when the block ends. A second process (another worker) finishing
    later keeps the first complete copy, which may be in use; an incomplete older copy is replaced."""
    return atomic_write.directory(root, prefix, replace=True, keep_existing=_complete)


def _write_lines(path, lines):
    with open(path, "w") as f:
        f.writelines(lines)


def make_demo_dataset(root, train_per_class=250, val_per_class=50, image_size=32, seed=0):
    """Writes `root/{train,val}/<class>/*.png`, `train_list.txt`, `val_list.txt`, `label_list.txt`.

    Does nothing when `root/val_list.txt` exists; writes into a temp folder then renames it, so an
    interrupted first run never leaves half a data set behind. Returns `root`.
    """
    if _complete(root):
        return root
    rng = np.random.default_rng(seed)
    with _staged(root, ".demo-") as tmp:
        for split, count in (("train", train_per_class), ("val", val_per_class)):
            lines = []
            for label, kind in enumerate(CLASSES):
                os.makedirs(os.path.join(tmp, split, kind))
                for i in range(count):
                    rel = f"{split}/{kind}/{i:04d}.png"
                    tf.io.write_file(os.path.join(tmp, rel), tf.io.encode_png(_image(kind, image_size, rng)))
                    lines.append(f"{rel} {label}\n")
            rng.shuffle(lines)
            _write_lines(os.path.join(tmp, f"{split}_list.txt"), lines)
        _write_lines(os.path.join(tmp, "label_list.txt"), [f"{i} {name}\n" for i, name in enumerate(CLASSES)])
    return root


def _multilabel_image(kinds, size, rng):
    """One image with every shape of `kinds` drawn at its own place: uint8 [size, size, 3]."""
    image = np.broadcast_to(rng.uniform(0, 255, 3), (size, size, 3)).copy()
    for kind in kinds:
        mask = _shape_mask(kind, size, rng)[..., None]
        image = np.where(mask, (image.mean() + rng.uniform(90, 165, 3)) % 256, image)
    return np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)


def make_multilabel_demo_dataset(root, train_images=600, val_images=150, image_size=32, seed=0,
                                 kinds=("circle", "square", "triangle", "cross", "stripes")):
    """Multi-label shapes: each image holds a random subset of `kinds` (each with p=0.4, at least one).

    Lists use PaddleClas's MultiLabelDataset format `path<TAB>0,1,...`. Idempotent and atomic like
    `make_demo_dataset`. Returns `root`.
    """
    if _complete(root):
        return root
    rng = np.random.default_rng(seed)
    with _staged(root, ".demo-ml-") as tmp:
        for split, count in (("train", train_images), ("val", val_images)):
            os.makedirs(os.path.join(tmp, split))
            lines = []
            for i in range(count):
                flags = rng.random(len(kinds)) < 0.4
                if not flags.any():
                    flags[rng.integers(len(kinds))] = True
                rel = f"{split}/{i:05d}.png"
                image = _multilabel_image([k for k, f in zip(kinds, flags) if f], image_size, rng)
                tf.io.write_file(os.path.join(tmp, rel), tf.io.encode_png(image))
                lines.append(rel + "\t" + ",".join(str(int(f)) for f in flags) + "\n")
            _write_lines(os.path.join(tmp, f"{split}_list.txt"), lines)
        _write_lines(os.path.join(tmp, "label_list.txt"), [f"{i} {name}\n" for i, name in enumerate(kinds)])
    return root
