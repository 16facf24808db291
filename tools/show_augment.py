"""See a recipe's training augmentation before training: a PNG grid of augmented images and their labels.

    python tools/show_augment.py --gin_file gin/DataAugment/Mixup.gin --out grid.png [--num 16] [--step 0]

The images come from the recipe's real training pipeline (kclass.data.pipeline.train_dataset: crop,
flip, pre-norm ops, normalisation, post-norm ops, mix op), de-normalised for display. Each tile's
caption lists its target: the class, or for mixed targets the classes with their weights. `--num`
images form one batch, so batch ops (Mixup, CutMix) mix within those `--num` images.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from kclass import cli  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    # Defined only when run as a script, so tests can import `show` next to other kclass CLIs' flags.
    cli.define_gin_flags()
    flags.DEFINE_string("out", "augment_grid.png", "PNG file to write.")
    flags.DEFINE_integer("num", 16, "Images to show (one batch of the training pipeline).")
    flags.DEFINE_integer("cols", 8, "Tiles per row.")
    flags.DEFINE_integer("scale", 4, "Upscale factor per tile (nearest), so 32 px images are readable.")
    flags.DEFINE_integer("step", 0, "Training step whose batch to show (different steps, different draws).")

CAPTION_LINES = 2
LINE_HEIGHT = 12


def label_names(label_list, num_classes):
    """id -> name from a PaddleClas label_list.txt (`id name` per line); ids where absent."""
    names = [str(i) for i in range(num_classes)]
    if label_list and os.path.isfile(label_list):
        with open(label_list, encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) < num_classes:
                    names[int(parts[0])] = parts[1]
    return names


def captions(labels, names, multilabel):
    """One caption (list of lines) per image: int labels -> name; soft/multi-hot -> top weights."""
    import numpy as np
    labels = np.asarray(labels)
    out = []
    for row in labels:
        if row.ndim == 0:
            out.append([names[int(row)]])
            continue
        order = [int(k) for k in np.argsort(-row, kind="stable") if row[k] > 0.005]
        if multilabel and np.all((row == 0) | (row == 1)):
            out.append([", ".join(names[k] for k in order)] if order else ["(none)"])
        else:
            out.append([f"{names[k]} {row[k]:.2f}" for k in order[:CAPTION_LINES]])
    return out


def augmented_batch(gin_files, gin_params, num, step=0):
    """(uint8 images [num, S, S, 3], labels, names, multilabel) from the recipe's training pipeline."""
    import numpy as np

    from kclass import splits
    from kclass.data import pipeline
    cli.parse_gin(gin_files, gin_params)
    from kclass import configurables
    exp = configurables.Experiment()
    if exp.prepare is not None:
        exp.prepare()
    cfg = exp.train_data
    samples = splits.read_split(exp, cfg)
    batch = max(1, min(num, len(samples)))
    ds = pipeline.train_dataset(cfg, samples, exp.image_size, batch, exp.num_classes, exp.seed, start_step=step)
    images, labels = next(iter(ds))
    pixels = images.numpy().astype(np.float32) * np.asarray(cfg.std) + np.asarray(cfg.mean)
    pixels = np.clip(np.round(pixels * 255.0), 0, 255).astype(np.uint8)
    return pixels, labels.numpy(), label_names(cfg.label_list, exp.num_classes), exp.multilabel


def render_grid(images, lines, cols=8, scale=4):
    """uint8 [N, S, S, 3] + caption lines -> uint8 RGB grid [rows * (S*scale + caption), cols * S*scale, 3]."""
    import numpy as np
    from PIL import Image, ImageDraw  # Pillow comes with tensorboard, part of the stack

    n, size = images.shape[0], images.shape[1] * scale
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    pad = 4
    tile_w = max(size, 96)
    tile_h = size + CAPTION_LINES * LINE_HEIGHT + pad
    canvas = Image.new("RGB", (cols * (tile_w + pad) + pad, rows * (tile_h + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = pad + c * (tile_w + pad), pad + r * (tile_h + pad)
        tile = np.repeat(np.repeat(images[i], scale, axis=0), scale, axis=1)
        canvas.paste(Image.fromarray(tile), (x0, y0))
        for k, text in enumerate(lines[i][:CAPTION_LINES]):
            draw.text((x0, y0 + size + 1 + k * LINE_HEIGHT), text[:24], fill=(0, 0, 0))
    return np.asarray(canvas)


def write_png(path, grid):
    import tensorflow as tf
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(grid))


def show(gin_files, gin_params, out, num=16, cols=8, scale=4, step=0):
    """Writes the grid PNG to `out`; returns the captions (one list of lines per image)."""
    images, labels, names, multilabel = augmented_batch(gin_files, gin_params, num, step)
    lines = captions(labels, names, multilabel)
    write_png(out, render_grid(images, lines, cols, scale))
    return lines


def main(argv):
    del argv

    def run():
        lines = show(FLAGS.gin_file, FLAGS.gin_param, FLAGS.out, FLAGS.num, FLAGS.cols, FLAGS.scale, FLAGS.step)
        for i, caption in enumerate(lines):
            print(f"{i:3d}  {' | '.join(caption)}")
        print(f"wrote {FLAGS.out} ({len(lines)} images)")

    cli.run_main(run)


if __name__ == "__main__":
    define_flags()
    app.run(main)
