"""What is wrong with a data set before training: class balance, image sizes and modes, undecodable
files, exact duplicates, train/val leaks and near-duplicates.

Plain arguments (validated `lists.Samples`), no Gin; `kclass.check_data` is the command line.
One tf.data pass decodes every image in parallel (`scan.decoded_batches`) and returns, per image, its
size, channel count and a normalised 8x8 grey thumbnail; Python adds the SHA-1 of the file's bytes.
Near-duplicates are pairs whose thumbnails correlate at >= NEAR_SIMILARITY: on real CIFAR images,
JPEG re-encoding (quality 50-95) and resizing (28-64 px) keep it >= 0.99, while distinct images
rarely pass 0.97 (a 1,000 x 5,000 CIFAR-10 sample: the best distinct pair 0.970, one true
near-duplicate, a shifted copy, 0.984).
"""

import dataclasses
import hashlib
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from kclass.data import lists, scan

MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # channel count -> PIL's name for it
NEAR_SIMILARITY = 0.98  # thumbnail correlation from which two images are called near-duplicates
THUMB = 8  # thumbnail side: grey, area-averaged
# Thumbnails with less contrast than this (grey levels, standard deviation) count as flat: their norm is
# floored, so a flat image (whose shape is noise) is near nothing rather than near every flat image.
FLAT_STD = 4.0
MAX_NEAR_PAIRS = 10_000  # keeps the report bounded however alike the images are


@dataclasses.dataclass
class ImageFacts:
    """Per image of one split, in list order: [N] arrays; undecodable images have size 0 and ok False."""
    sha1: List[Optional[str]]  # None when the file cannot be read
    height: np.ndarray  # int32
    width: np.ndarray  # int32
    channels: np.ndarray  # int32, as stored in the file (1 gray, 3 RGB, ...)
    thumb: np.ndarray  # float32 [N, THUMB * THUMB], zero mean, unit norm (less when flat)
    ok: np.ndarray  # bool


def _decode_native(encoded):
    """The file's own channel count, not training's RGB: what `modes` reports."""
    return tf.io.decode_image(encoded, channels=0, dtype=tf.uint8, expand_animations=False)


def _describe(encoded, image):
    """Size, channels and the normalised grey thumbnail of one decoded image (any channel count)."""
    shape = tf.shape(image)
    channels = shape[2]
    # Luminance-ish grey: mean of the colour channels; a grey+alpha image keeps its grey channel only.
    colour = image[..., :tf.where(channels == 2, 1, tf.minimum(channels, 3))]
    grey = tf.reduce_mean(tf.cast(colour, tf.float32), axis=-1, keepdims=True)
    # Area averaging blinds the thumbnail to re-encoding noise and small resizes; removing the mean and
    # the contrast makes the correlation blind to brightness and contrast changes.
    thumb = tf.reshape(tf.image.resize(grey, [THUMB, THUMB], method="area"), [THUMB * THUMB])
    thumb -= tf.reduce_mean(thumb)
    thumb /= tf.maximum(tf.norm(thumb), FLAT_STD * THUMB)  # norm of THUMB^2 values of std FLAT_STD
    return {"contents": encoded, "height": shape[0], "width": shape[1], "channels": channels, "thumb": thumb}


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def image_facts(paths: Sequence[str]) -> ImageFacts:
    """Decodes and hashes every image of `paths` (one parallel tf.data pass)."""
    n = len(paths)
    facts = ImageFacts([None] * n, np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, np.int32),
                       np.zeros((n, THUMB * THUMB), np.float32), np.zeros(n, bool))
    if not n:
        return facts
    for indices, batch in scan.decoded_batches(paths, _describe, decode=_decode_native):
        facts.height[indices], facts.width[indices] = batch["height"], batch["width"]
        facts.channels[indices], facts.ok[indices] = batch["channels"], True
        facts.thumb[indices] = batch["thumb"]
        for i, data in zip(indices, batch["contents"]):
            facts.sha1[i] = _sha1(data)
    for i in np.flatnonzero(~facts.ok):  # few: read again to still find duplicated broken files
        try:
            with open(paths[i], "rb") as f:
                facts.sha1[i] = _sha1(f.read())
        except OSError:
            pass
    return facts


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per class int64 [C]: single-label ids [N] (unlabelled -1 ignored) or positives of multi-hot [N, C]."""
    if labels.ndim == 2:
        return labels.astype(np.int64).sum(axis=0) if len(labels) else np.zeros(num_classes, np.int64)
    labelled = labels[labels >= 0]
    return np.bincount(labelled, minlength=num_classes).astype(np.int64)


def imbalance_ratio(counts: np.ndarray) -> Optional[float]:
    """Largest class count / smallest non-zero one; None when no class has an image."""
    present = counts[counts > 0]
    return float(present.max() / present.min()) if len(present) else None


def size_summary(facts: ImageFacts, image_size: Optional[int] = None) -> Dict:
    """min / median / max height and width, the commonest sizes and the modes of the decodable images."""
    ok = facts.ok
    if not ok.any():
        return {"decoded": 0}
    h, w, c = facts.height[ok], facts.width[ok], facts.channels[ok]
    sizes, counts = np.unique(np.stack([h, w], 1), axis=0, return_counts=True)
    common = sorted(zip(counts.tolist(), sizes.tolist()), key=lambda x: (-x[0], x[1]))[:5]
    modes, mode_counts = np.unique(c, return_counts=True)
    summary = {
        "decoded": int(ok.sum()),
        "height": {"min": int(h.min()), "median": float(np.median(h)), "max": int(h.max())},
        "width": {"min": int(w.min()), "median": float(np.median(w)), "max": int(w.max())},
        "most_common": [[f"{hw[0]}x{hw[1]}", n] for n, hw in common],  # HxW
        "modes": {MODES.get(int(m), f"{m}ch"): int(n) for m, n in zip(modes, mode_counts)},
    }
    if image_size:  # these get upsampled to the model's input
        summary["smaller_than_image_size"] = int((np.minimum(h, w) < image_size).sum())
    return summary


def duplicate_groups(digests: Sequence[Optional[str]], paths: Sequence[str]) -> List[List[str]]:
    """Groups (>= 2 paths, list order) of files with the same bytes; groups ordered by first path."""
    by_digest: Dict[str, List[str]] = {}
    for digest, path in zip(digests, paths):
        if digest is not None:
            by_digest.setdefault(digest, []).append(path)
    return [group for group in by_digest.values() if len(group) > 1]


def exact_leaks(train_sha1: Sequence[Optional[str]], val_sha1: Sequence[Optional[str]]):
    """(train index, val index) pairs of files with the same bytes, in train then val order."""
    val_by_digest: Dict[str, List[int]] = {}
    for j, digest in enumerate(val_sha1):
        if digest is not None:
            val_by_digest.setdefault(digest, []).append(j)
    return [(i, j) for i, digest in enumerate(train_sha1) for j in val_by_digest.get(digest, ())]


def near_pairs(train: np.ndarray, val: np.ndarray, min_similarity: float = NEAR_SIMILARITY,
               limit: int = MAX_NEAR_PAIRS, block: int = 1 << 22):
    """(pairs [(train index, val index, similarity)] sorted, total found) of thumbnails [N, D] whose dot
    product (correlation, for unit vectors) is >= min_similarity.

    Brute force, the train x val similarity matrix in blocks of about `block` entries (BLAS matmuls:
    50,000 x 10,000 64-d thumbnails in about a second on 2 cores); at most `limit` pairs are kept.
    """
    train, val = np.asarray(train, np.float32), np.asarray(val, np.float32)
    rows = max(1, block // max(1, len(train)))
    found, total = [], 0
    for start in range(0, len(val), rows):
        similarity = val[start:start + rows] @ train.T
        v, t = np.nonzero(similarity >= min_similarity)
        total += len(v)
        keep = slice(0, max(0, limit - len(found)))
        found += zip(t[keep].tolist(), (v[keep] + start).tolist(), similarity[v[keep], t[keep]].tolist())
    return sorted(found)[:limit], total


def _groups_with_other_labels(groups, label_of):
    """The duplicate groups whose copies do not all carry the same label."""
    return [g for g in groups if len({label_of[p] for p in g}) > 1]


def check(train: lists.Samples, val: Optional[lists.Samples], num_classes: int,
          class_names: Optional[Sequence[str]] = None, image_size: Optional[int] = None,
          near_similarity: float = NEAR_SIMILARITY) -> Dict:
    """The data report as a JSON-able dict (see docs/data_check.md for each key)."""
    splits = {"train": train} if val is None else {"train": train, "val": val}
    names = list(class_names or [])[:num_classes]
    names += [str(i) for i in range(len(names), num_classes)]
    report = {"lists": {s: samples.source for s, samples in splits.items()},
              "images": {s: len(samples) for s, samples in splits.items()},
              "multilabel": train.labels.ndim == 2, "class_names": names,
              "class_counts": {}, "imbalance_ratio": {}, "empty_classes": {}, "sizes": {},
              "undecodable": [], "undecodable_why": {}, "duplicates": [], "duplicate_label_conflicts": [],
              "leaks": [], "near_leaks": [], "near_leaks_total": 0, "near_similarity": near_similarity}
    facts = {}
    for split, samples in splits.items():
        counts = class_counts(samples.labels, num_classes)
        report["class_counts"][split] = counts.tolist()
        report["imbalance_ratio"][split] = imbalance_ratio(counts)
        report["empty_classes"][split] = [names[i] for i in np.flatnonzero(counts == 0)]
        if samples.labels.ndim == 1 and (samples.labels < 0).any():
            report.setdefault("unlabeled", {})[split] = int((samples.labels < 0).sum())
        if samples.labels.ndim == 2:
            report.setdefault("no_positive_label", {})[split] = int((samples.labels.sum(1) == 0).sum())
        facts[split] = f = image_facts(samples.paths)
        report["sizes"][split] = size_summary(f, image_size)
        for i in np.flatnonzero(~f.ok):
            path = samples.paths[i]
            report["undecodable"].append(path)
            report["undecodable_why"][path] = lists.file_problem(path) or "does not decode (corrupt or truncated)"
        groups = duplicate_groups(f.sha1, samples.paths)
        report["duplicates"] += groups
        label_of = {p: tuple(np.atleast_1d(label).tolist()) for p, label in zip(samples.paths, samples.labels)}
        report["duplicate_label_conflicts"] += _groups_with_other_labels(groups, label_of)
    if val is not None:
        report.update(_across(train, val, facts["train"], facts["val"], near_similarity))
    return report


def _across(train, val, train_facts: ImageFacts, val_facts: ImageFacts, near_similarity: float) -> Dict:
    """Leaks (same bytes) and near-duplicates (similar thumbnails, exact copies left out) across splits."""
    exact = exact_leaks(train_facts.sha1, val_facts.sha1)
    t_ok, v_ok = np.flatnonzero(train_facts.ok), np.flatnonzero(val_facts.ok)
    pairs, total = near_pairs(train_facts.thumb[t_ok], val_facts.thumb[v_ok], near_similarity)
    pairs = [(t_ok[t], v_ok[v], similarity) for t, v, similarity in pairs]
    known = set(exact)
    near = [[train.paths[i], val.paths[j], round(s, 4)] for i, j, s in pairs if (i, j) not in known]
    # `total` counted the exact copies too, except flat ones (a flat thumbnail is near nothing).
    exact_near = sum(bool(train_facts.ok[i] and val_facts.ok[j] and
                          train_facts.thumb[i] @ val_facts.thumb[j] >= near_similarity) for i, j in exact)
    return {"leaks": [[train.paths[i], val.paths[j]] for i, j in exact], "near_leaks": near,
            "near_leaks_total": total - exact_near}


def problems(report: Dict) -> List[str]:
    """What `--strict` refuses: train/val leaks and undecodable files, as short phrases."""
    found = []
    if report["leaks"]:
        found.append(f"{len(report['leaks'])} train/val leak(s) (same file bytes)")
    if report["undecodable"]:
        found.append(f"{len(report['undecodable'])} undecodable file(s)")
    return found

