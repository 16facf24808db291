"""A single-label photo set for timing 224-px training: COCO photos, resized, in PaddleClas list format.

python tools/bench/photo_set.py OUT_DIR [--source ../shared/data/coco-multilabel-mini] [--short 256] [--repeat 4]

Reads the multi-label mini COCO set (real JPEG photos of about 640x480), writes each photo resized so
its short side is `short` px (JPEG quality 90, the aspect kept, like an ImageNet copy resized for
training), and writes `train_list.txt` (train2017, each photo under `repeat` names, hard links to one
file, so an epoch has several batches of 64: kclass refuses a list naming a file twice) and
`val_list.txt` (val2017) with `path label`, label = the first class flagged (80 classes). Stdlib and Pillow only: the kclass and the timm environments both run it.
"""

import argparse
import os
import shutil

from PIL import Image

SPLITS = (("train", "train_list.txt"), ("val", "val_list.txt"))


def first_flag(flags):
    values = [int(v) for v in flags.split(",")]
    return values.index(1) if 1 in values else 0


def _repeat_name(out_dir, rel, r):
    """`rel` for the first copy; `stem_r{r}.jpg`, a hard link to it (a copy where links fail), after."""
    if r == 0:
        return rel
    stem, ext = os.path.splitext(rel)
    name = f"{stem}_r{r}{ext}"
    if not os.path.exists(os.path.join(out_dir, name)):
        try:
            os.link(os.path.join(out_dir, rel), os.path.join(out_dir, name))
        except OSError:
            shutil.copyfile(os.path.join(out_dir, rel), os.path.join(out_dir, name))
    return name


def make(out_dir, source, short=256, repeat=4):
    """Writes the set under `out_dir`; returns {"train": list path, "val": list path, "num_classes": 80}."""
    lists = {}
    for split, list_name in SPLITS:
        lines = []
        with open(os.path.join(source, list_name)) as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        for rel, flags in rows:
            target = os.path.join(out_dir, rel)
            if not os.path.exists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with Image.open(os.path.join(source, rel)) as image:
                    image = image.convert("RGB")
                    scale = short / min(image.size)
                    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
                    image.resize(size, Image.BILINEAR).save(target, quality=90)
            lines.append((rel, first_flag(flags)))
        copies = repeat if split == "train" else 1
        lines = [f"{_repeat_name(out_dir, rel, r)} {label}\n" for r in range(copies) for rel, label in lines]
        lists[split] = os.path.join(out_dir, list_name)
        with open(lists[split], "w") as f:
            f.writelines(lines)
    lists["num_classes"] = 80
    return lists


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--source", default=os.path.join(here, "..", "..", "..", "shared", "data",
                                                         "coco-multilabel-mini"))
    parser.add_argument("--short", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    print(make(args.out_dir, args.source, args.short, args.repeat))


if __name__ == "__main__":
    main()
