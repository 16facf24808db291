"""Lists a folder of images as an unlabelled distillation train list (one `relative/path` per line).

  python tools/make_unlabeled_list.py dataset/CIFAR100/extra --root dataset/CIFAR100 \
      --val_list dataset/CIFAR100/test_list.txt > dataset/CIFAR100/extra_list.txt
  cat dataset/CIFAR100/train_list.txt dataset/CIFAR100/extra_list.txt > dataset/CIFAR100/distill_list.txt

Paths are relative to --root (default DIR): use the DATA_ROOT of the recipe that reads the list.
With --val_list, refuses (one line, exit status 2, nothing printed) if any image of DIR is also in the
validation list: same bytes, or (unless --bytes_only) same decoded pixels, which catches re-encoded
copies; distilling on evaluation images would inflate the reported accuracy.
"""

import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kclass.cli import run_main  # noqa: E402
from kclass.data.lists import IMAGE_EXTENSIONS  # noqa: E402
from kclass.errors import DataError  # noqa: E402


def find_images(folder):
    """Image files under `folder`, recursively, in sorted order."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: image folder not found")
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(parent, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not found:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    return found


def file_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pixel_hash(path):
    """Hash of the decoded RGB pixels and size; None when the file does not decode."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except OSError:
        return None
    return hashlib.sha256(repr(rgb.size).encode() + rgb.tobytes()).hexdigest()


def validation_paths(val_list, data_root):
    from kclass.data.lists import read_list

    # Any class count: only the paths matter here (labelled or not).
    return read_list(val_list, data_root, num_classes=2 ** 62, allow_unlabeled=True).paths


def overlaps(images, val_paths, pixels=True):
    """[(image, validation image)] pairs with the same bytes or (pixels=True) the same decoded pixels."""
    hashers = [file_hash] + ([pixel_hash] if pixels else [])
    found, seen = [], set()
    for hasher in hashers:
        index = {}
        for path in val_paths:
            key = hasher(path)
            if key is not None:
                index.setdefault(key, path)
        for path in images:
            key = hasher(path)
            if path not in seen and key is not None and key in index:
                seen.add(path)
                found.append((path, index[key]))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", help="folder of images (searched recursively)")
    parser.add_argument("--root", default=None, help="paths are written relative to this (default: DIR)")
    parser.add_argument("--val_list", default=None, help="validation list the images must not overlap")
    parser.add_argument("--data_root", default=None, help="root of --val_list's paths (default: its folder)")
    parser.add_argument("--bytes_only", action="store_true", help="compare file bytes only (skip decoding)")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root or args.dir)
    images = [os.path.abspath(p) for p in find_images(args.dir)]
    outside = [p for p in images if os.path.relpath(p, root).startswith("..")]
    if outside:
        raise DataError(f"{outside[0]} is not under --root {root}")
    if args.val_list:
        pairs = overlaps(images, validation_paths(args.val_list, args.data_root), pixels=not args.bytes_only)
        if pairs:
            image, val = pairs[0]
            raise DataError(f"refusing: {len(pairs)} image(s) of {args.dir} are also in the validation list "
                            f"{args.val_list} (e.g. {image} = {val}); remove them first")
    sys.stdout.write("".join(os.path.relpath(p, root) + "\n" for p in images))


if __name__ == "__main__":
    run_main(main)
