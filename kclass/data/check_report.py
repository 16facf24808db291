"""A `check.check` report for people: the console text, class_counts.csv and class_counts.png."""

import csv
import os
from typing import Dict, List

_SHOWN = 10  # paths / groups listed on the console per finding; the files in --out hold them all
_TABLE_ROWS = 60  # classes printed in full up to this; beyond it the smallest and largest


def _split_names(report):
    return list(report["class_counts"])


def class_rows(report: Dict) -> List[List]:
    """[id, name, count per split...] for every class."""
    splits = _split_names(report)
    return [[i, name] + [report["class_counts"][s][i] for s in splits]
            for i, name in enumerate(report["class_names"])]


def _table(report):
    splits = _split_names(report)
    rows = class_rows(report)
    width = max([len("class")] + [len(str(r[1])) for r in rows])
    head = f"{'id':>5}  {'class':<{width}}" + "".join(f"  {s:>7}" for s in splits)
    body = [f"{r[0]:>5}  {str(r[1]):<{width}}" + "".join(f"  {c:>7}" for c in r[2:]) for r in rows]
    if len(body) > _TABLE_ROWS:  # the ends an imbalance is about
        order = sorted(range(len(rows)), key=lambda i: (rows[i][2], i))
        body = ([f"  (the {_SHOWN} smallest and {_SHOWN} largest of {len(rows)} classes by {splits[0]} count; "
                 "every class is in class_counts.csv)"]
                + [body[i] for i in order[:_SHOWN]] + ["  ..."] + [body[i] for i in order[-_SHOWN:]])
    return [head] + body


def _listing(title, items, fmt):
    lines = [f"{title}: {len(items)}"]
    lines += [f"  {fmt(item)}" for item in items[:_SHOWN]]
    if len(items) > _SHOWN:
        lines.append(f"  ... and {len(items) - _SHOWN} more")
    return lines


def _sizes(split, summary):
    if not summary.get("decoded"):
        return [f"  {split}: no decodable image"]
    h, w = summary["height"], summary["width"]
    line = (f"  {split}: height {h['min']}/{h['median']:g}/{h['max']}, width {w['min']}/{w['median']:g}/{w['max']}"
            f" (min/median/max); commonest {', '.join(f'{s} ({n})' for s, n in summary['most_common'][:3])}; "
            f"modes {', '.join(f'{m} {n}' for m, n in summary['modes'].items())}")
    if summary.get("smaller_than_image_size"):
        line += f"; {summary['smaller_than_image_size']} smaller than IMAGE_SIZE (upsampled)"
    return [line]


def text(report: Dict) -> str:
    """The console report: per-class table, imbalance, sizes, then each problem with its paths."""
    kind = "positive labels" if report["multilabel"] else "images"
    lines = [" ".join(f"{s}: {n} images ({report['lists'][s]})" for s, n in report["images"].items()),
             f"{kind} per class:"] + _table(report)
    for split, ratio in report["imbalance_ratio"].items():
        empty = report["empty_classes"][split]
        lines.append(f"imbalance ratio ({split}, largest / smallest non-empty class): "
                     + (f"{ratio:.2f}" if ratio is not None else "n/a")
                     + (f"; {len(empty)} class(es) with no {kind}: {', '.join(empty[:_SHOWN])}"
                        + (" ..." if len(empty) > _SHOWN else "") if empty else ""))
    for key, what in (("unlabeled", "unlabelled (path-only) lines"),
                      ("no_positive_label", "images with no positive label")):
        for split, n in report.get(key, {}).items():
            lines.append(f"{split}: {n} {what}")
    lines.append("image sizes:")
    for split, summary in report["sizes"].items():
        lines += _sizes(split, summary)
    lines += _listing("undecodable files", report["undecodable"], lambda p: f"{p}: {report['undecodable_why'][p]}")
    lines += _listing("exact duplicates within a split (groups)", report["duplicates"], " = ".join)
    if report["duplicate_label_conflicts"]:
        lines += _listing("  of which with different labels", report["duplicate_label_conflicts"], " = ".join)
    if "val" in report["images"]:
        lines += _listing("train/val leaks (same bytes)", report["leaks"], lambda p: f"{p[0]} = {p[1]}")
        near = report["near_leaks"]
        lines += _listing(f"train/val near-duplicates (thumbnail correlation >= {report['near_similarity']})",
                          near, lambda p: f"{p[0]} ~ {p[1]} ({p[2]:.3f})")
        if report["near_leaks_total"] > len(near):
            lines.append(f"  ({report['near_leaks_total']} pairs in all; the report keeps {len(near)})")
    return "\n".join(lines)


def write_csv(report: Dict, path: str):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "class"] + _split_names(report))
        writer.writerows(class_rows(report))


def plot_class_counts(report: Dict, path: str):
    """Horizontal bars per class and split, classes in id order; names on the axis up to 100 classes."""
    import matplotlib
    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt
    import numpy as np

    names, splits = report["class_names"], _split_names(report)
    y = np.arange(len(names))
    height = min(max(3.0, 0.22 * len(names) + 1.2), 40.0)
    fig, ax = plt.subplots(figsize=(8, height))
    bar = 0.8 / len(splits)
    for k, split in enumerate(splits):
        ax.barh(y + (k - (len(splits) - 1) / 2) * bar, report["class_counts"][split], height=bar, label=split)
    if len(names) <= 100:
        ax.set_yticks(y, names, fontsize=8 if len(names) > 40 else 10)
    ax.set_ylim(len(names) - 0.5, -0.5)  # class 0 at the top, as in the table; no empty margins
    kind = "positive labels" if report["multilabel"] else "images"
    ax.set_xlabel(kind)
    ratio = report["imbalance_ratio"].get("train")
    ax.set_title(f"{kind} per class" + (f" (train imbalance {ratio:.2f})" if ratio else ""))
    ax.legend()
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
