"""PaddleClas list files and class-per-folder trees -> validated (paths, labels).

Single-label line: `relative/path label_id`; multi-label line: `relative/path<TAB>0,1,0,...`.
Every bad line is reported (not just the first) as `list.txt:LINE: what`, before any training.
Distillation lists (`allow_unlabeled=True`) may also hold `path`-only lines: their label is UNLABELED.
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np

from kclass.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# First bytes of each format tf.io.decode_image reads: a cheap pre-flight that catches empty and
# non-image files with their list line before any training step, and non-image requests before the
# exported model decodes them (kclass.export.serving_module).
IMAGE_MAGIC = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",), "bmp": (b"BM",),
               "gif": (b"GIF87a", b"GIF89a")}
_MAGIC = tuple(magic for magics in IMAGE_MAGIC.values() for magic in magics)
UNLABELED = -1  # label of a `path`-only line; losses that use labels mask it
_MAX_REPORTED = 20


@dataclasses.dataclass
class Samples:
    """Absolute image paths [N] and labels: int64 [N] (single-label) or float32 [N, C] (multi-label)."""
    paths: List[str]
    labels: np.ndarray
    source: str

    def __len__(self):
        return len(self.paths)


def _raise_if_errors(errors, source):
    if not errors:
        return
    shown = errors[:_MAX_REPORTED]
    more = f"\n... and {len(errors) - len(shown)} more bad lines" if len(errors) > len(shown) else ""
    raise DataError(f"{len(errors)} bad line(s) in {source}:\n" + "\n".join(shown) + more)


def read_list(list_file: str, data_root: Optional[str], num_classes: int, multilabel: bool = False,
              check_files: bool = True, allow_unlabeled: bool = False) -> Samples:
    """Reads and validates a PaddleClas list file; paths are relative to `data_root` (default: its folder).

    `allow_unlabeled` (single-label only): a line that is just a path, or whose whole text names an
    existing image (a path with spaces), gets the label UNLABELED instead of an error.
    """
    if allow_unlabeled and multilabel:
        raise DataError(f"{list_file}: unlabelled lines are supported in single-label lists only")
    if not os.path.isfile(list_file):
        raise DataError(f"{list_file}: list file not found")
    root = data_root if data_root is not None else os.path.dirname(os.path.abspath(list_file))
    if not os.path.isdir(root):
        raise DataError(f"{root}: dataset root not found (given with list {list_file})")
    with open(list_file, "r", encoding="utf-8-sig") as f:  # utf-8-sig: tolerate a BOM
        lines = f.read().splitlines()
    paths, labels, errors, seen = [], [], [], {}
    real_root = os.path.realpath(root)
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{list_file}:{number}"
        if multilabel:
            parts = line.split("\t")
            if len(parts) != 2:
                errors.append(f"{where}: expected 'path<TAB>0,1,...', got {line[:80]!r}")
                continue
            rel, flags = parts[0].strip(), parts[1].strip().split(",")
            if len(flags) != num_classes:
                errors.append(f"{where}: {len(flags)} label flags, expected NUM_CLASSES={num_classes}")
                continue
            if any(x.strip() not in ("0", "1") for x in flags):
                errors.append(f"{where}: label flags must be 0 or 1, got {parts[1].strip()[:80]!r}")
                continue
            label = np.array([float(x) for x in flags], np.float32)
        elif allow_unlabeled and (len(line.split()) == 1 or os.path.isfile(os.path.join(root, line))):
            rel, label = line, UNLABELED
        else:
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                errors.append(f"{where}: expected 'path label_id', got {line[:80]!r} (path-only lines "
                              "are for distillation recipes, which set Experiment.teacher)")
                continue
            rel, text = parts
            try:
                label = int(text)
            except ValueError:
                errors.append(f"{where}: label {text!r} is not an integer class id")
                continue
            if not 0 <= label < num_classes:
                errors.append(f"{where}: label {label} out of range [0, {num_classes}) for NUM_CLASSES={num_classes}")
                continue
        path = os.path.normpath(os.path.join(root, rel))
        if os.path.isabs(rel) or not os.path.realpath(path).startswith(real_root + os.sep):
            errors.append(f"{where}: path {rel!r} leaves the dataset root {root}")
            continue
        if rel in seen:
            errors.append(f"{where}: duplicate of line {seen[rel]} ({rel})")
            continue
        seen[rel] = number
        if check_files:
            problem = file_problem(path)
            if problem:
                errors.append(f"{where}: {problem}: {path}")
                continue
        paths.append(path)
        labels.append(label)
    _raise_if_errors(errors, list_file)
    if not paths:
        raise DataError(f"{list_file}: no images listed")
    dtype = np.float32 if multilabel else np.int64
    shape = (0, num_classes) if multilabel else (0,)
    array = np.stack(labels).astype(dtype) if labels else np.zeros(shape, dtype)
    return Samples(paths, array, list_file)


def read_list_paths(list_file: str, data_root: Optional[str] = None) -> List[str]:
    """The image paths of a list file, labels (if any) ignored and nothing checked: what prediction reads.

    A line is `path`, `path label_id` or `path<TAB>flags`; paths are relative to `data_root` (default: the
    list's folder).
    """
    root = data_root if data_root is not None else os.path.dirname(os.path.abspath(list_file))
    with open(list_file, encoding="utf-8-sig") as f:
        lines = [line.strip() for line in f.read().splitlines()]
    paths = []
    for line in filter(None, lines):
        if "\t" in line:  # multi-label
            line = line.split("\t", 1)[0]
        else:
            parts = line.rsplit(None, 1)
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                line = parts[0]
        paths.append(os.path.join(root, line))
    return paths


def file_problem(path):
    """Why `path` cannot be an image (missing, empty, not JPEG/PNG/BMP/GIF), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        return "image not found"
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if not head:
        return "empty file (0 bytes)"
    if not head.startswith(_MAGIC):
        return "not a JPEG/PNG/BMP/GIF image"
    return None


def read_folder(folder: str, num_classes: Optional[int] = None) -> Samples:
    """Class-per-folder tree `folder/<class_name>/*.png`; class ids follow sorted folder names."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: image folder not found")
    classes = folder_classes(folder)
    if not classes:
        raise DataError(f"{folder}: no class sub-folders")
    if num_classes is not None and len(classes) > num_classes:
        raise DataError(f"{folder}: {len(classes)} class folders but NUM_CLASSES={num_classes}")
    paths, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(folder, name))):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(folder, name, file))
                labels.append(label)
    if not paths:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in its class folders")
    return Samples(paths, np.array(labels, np.int64), folder)


def folder_classes(folder: str) -> List[str]:
    """Class names of a class-per-folder tree: its sub-folders, sorted (class id = position)."""
    return sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))


def read_samples(source: str, data_root: Optional[str], num_classes: int, multilabel: bool = False,
                 allow_unlabeled: bool = False, check_files: bool = True) -> Samples:
    """A list file or, when `source` is a directory, a class-per-folder tree."""
    if os.path.isdir(source):
        return read_folder(source, num_classes)
    return read_list(source, data_root, num_classes, multilabel, check_files=check_files,
                     allow_unlabeled=allow_unlabeled)


def read_label_names(path: Optional[str]) -> Optional[List[str]]:
    """`label_list.txt` lines `id name` -> names ordered by id; None when no file is given."""
    if not path:
        return None
    if not os.path.isfile(path):
        raise DataError(f"{path}: label list not found")
    names = {}
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.strip().split(None, 1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise DataError(f"{path}:{number}: expected 'id name', got {line.strip()[:80]!r}")
            names[int(parts[0])] = parts[1]
    return [names.get(i, str(i)) for i in range(max(names) + 1)] if names else None
