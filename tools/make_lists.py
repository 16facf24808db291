"""A class-per-folder tree -> PaddleClas `train_list.txt`, `val_list.txt` and `label_list.txt`.

  python tools/make_lists.py dataset/flowers --val 0.1 --seed 0 [--out dataset/flowers]

FOLDER holds one sub-folder per class (`FOLDER/<class>/*.jpg`); class ids follow the sorted folder
names, as `kclass.data.lists.read_folder` numbers them. The split is stratified: each class sends
round(n * VAL) of its n images to validation, at least one when it has two or more, never all of them.
The same FOLDER, VAL and SEED always give the same three files, lines in class order then file order.
Paths are relative to FOLDER, so a recipe reads them with DATA_ROOT=FOLDER.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from kclass import atomic_write  # noqa: E402
from kclass.cli import run_main  # noqa: E402
from kclass.data.lists import folder_classes, read_folder  # noqa: E402
from kclass.errors import UserError  # noqa: E402

LIST_FILES = ("train_list.txt", "val_list.txt", "label_list.txt")


class SplitError(UserError):
    """A --val fraction or a folder that cannot be split."""


def val_count(n: int, fraction: float) -> int:
    """Validation images of a class of `n`: round(n * fraction), at least 1 and at most n - 1 when n >= 2."""
    if n < 2:
        return 0
    return min(max(int(round(n * fraction)), 1), n - 1)


def split(labels: np.ndarray, fraction: float, seed: int):
    """Stratified (train indices, val indices), each sorted, for int labels [N].

    Each class draws its own permutation from (seed, class id): adding images to one class never
    changes another class's split.
    """
    train, val = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = np.random.default_rng([seed, int(label)]).permutation(len(members))
        k = val_count(len(members), fraction)
        val += members[order[:k]].tolist()
        train += members[order[k:]].tolist()
    return sorted(train), sorted(val)


def make_lists(folder: str, fraction: float, seed: int, out: str = None):
    """Writes the three list files into `out` (default `folder`); returns {file name: lines written}."""
    if not 0 < fraction < 1:
        raise SplitError(f"--val {fraction}: expected a fraction strictly between 0 and 1 (e.g. 0.1)")
    out = out or folder
    if os.path.realpath(os.path.dirname(os.path.abspath(out))) == os.path.realpath(folder):
        raise SplitError(f"--out {out}: a folder inside {folder} would be read as one more class; "
                         "write the lists into FOLDER itself or outside it")
    samples = read_folder(folder)
    names = folder_classes(folder)
    train, val = split(samples.labels, fraction, seed)
    os.makedirs(out, exist_ok=True)

    def line(i):
        return f"{os.path.relpath(samples.paths[i], folder)} {samples.labels[i]}\n"

    contents = {"train_list.txt": [line(i) for i in train], "val_list.txt": [line(i) for i in val],
                "label_list.txt": [f"{i} {name}\n" for i, name in enumerate(names)]}
    for name in LIST_FILES:  # never a half-written list beside a complete one
        atomic_write.text(os.path.join(out, name), "".join(contents[name]))
    empty = [name for i, name in enumerate(names) if not np.any(samples.labels == i)]
    return {name: len(lines) for name, lines in contents.items()}, empty


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="class-per-folder tree: FOLDER/<class>/<image>")
    parser.add_argument("--val", type=float, default=0.1, help="fraction of each class for validation (0-1)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same split")
    parser.add_argument("--out", default=None, help="where the lists go (default: FOLDER)")
    args = parser.parse_args(argv)
    counts, empty = make_lists(args.folder, args.val, args.seed, args.out)
    out = args.out or args.folder
    print(f"{counts['train_list.txt']} train and {counts['val_list.txt']} val images of "
          f"{counts['label_list.txt']} classes -> {', '.join(os.path.join(out, n) for n in LIST_FILES)}")
    if empty:
        print(f"warning: {len(empty)} class folder(s) hold no image: {', '.join(empty)}", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
