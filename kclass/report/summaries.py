"""The report's views as TensorBoard summaries, written while training runs.

Each function writes into the default summary writer at `step` (`with writer.as_default():`); NumPy
in, no Gin. The figures and tables are the report's own (kclass.report.plots, confusion, metrics), so
what TensorBoard shows during training is what `evaluate --report` writes afterwards.
"""

import io
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from kclass import metrics
from kclass.report import confusion, plots

GRID_IMAGES = 64  # the first batch's images shown, at most
GRID_COLUMNS = 8
GRID_GAP = 2  # grey pixels between two images, so neighbouring crops do not merge into one
PR_THRESHOLDS = 201  # TensorBoard's pr_curve default: thresholds every 0.005 in [0, 1]


def _png_image(draw) -> tf.Tensor:
    """uint8 [1, H, W, 3] of the figure `draw(file)` writes as PNG (kclass.report.plots functions)."""
    buffer = io.BytesIO()
    draw(buffer)
    return tf.image.decode_png(buffer.getvalue(), channels=3)[None]


def _markdown_table(header: Sequence[str], rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _worst_first(names, recall, columns):
    """Table rows by class, lowest recall first (ties: lower id): the classes to look at come first."""
    order = np.lexsort((np.arange(len(names)), recall))
    return [[int(c), plots.short(names[c]), *(f"{col[c]:.3f}" if col.dtype.kind == "f" else int(col[c])
                                             for col in columns)] for c in order]


def single_label_eval(labels, pred, names: Sequence[str], step: int) -> np.ndarray:
    """Confusion matrix image, per-class table (text) and recall histogram of one evaluation.

    labels, pred int [N] (true and top-1 class); names [C]. Returns the confusion matrix int64 [C, C].
    Per-class recall is one text table and one histogram rather than a scalar per class: at 100
    classes, 100 scalar charts bury the loss and top-1 in TensorBoard's scalar page, while a table sorts
    the weakest classes to the top and a histogram shows how the spread moves from eval to eval.
    """
    cm = confusion.confusion_matrix(labels, pred, len(names))
    scores = confusion.per_class(cm)
    image = _png_image(lambda f: plots.confusion_png(
        f, cm, names, f"Confusion matrix at step {step} (rows: true class, normalised; diagonal = recall)"))
    tf.summary.image("confusion_matrix", image, step=step)
    table = _markdown_table(["id", "class", "recall", "precision", "F1", "support"], _worst_first(
        names, scores["recall"], [scores["recall"], scores["precision"], scores["f1"], scores["support"]]))
    tf.summary.text("per_class", table, step=step)
    tf.summary.histogram("per_class_recall", scores["recall"], step=step, buckets=20)
    return cm


def multi_label_eval(labels, scores, names: Sequence[str], step: int) -> Dict:
    """PR curves (TensorBoard's pr_curve plugin) per class and pooled, the per-class table (text) and
    recall histogram of one evaluation; labels {0, 1} and scores (sigmoid) float [N, C].

    Returns kclass.metrics.multilabel_report at threshold 0.5 (the table's numbers).
    """
    from tensorboard.plugins.pr_curve import summary as pr_curve  # TensorBoard's own counts and format

    labels = np.asarray(labels, np.float64) > 0.5
    scores = np.asarray(scores, np.float32)
    report = metrics.multilabel_report(labels, scores, 0.5)
    per = report["per_class"]
    positives = labels.sum(0)
    columns = [per["recall"], per["precision"], per["f1"], per["ap"], per["auc"], positives.astype(np.int64)]
    table = _markdown_table(["id", "class", "recall@0.5", "precision@0.5", "F1@0.5", "AP", "AUC", "positives"],
                            _worst_first(names, np.asarray(per["recall"]), [np.asarray(c) for c in columns]))
    tf.summary.text("per_class", table, step=step)
    tf.summary.histogram("per_class_recall", np.asarray(per["recall"], np.float64), step=step, buckets=20)
    curves = [(f"pr_curve/{c:02d}_{plots.short(name)}", labels[:, c], scores[:, c]) for c, name in enumerate(names)]
    curves.append(("pr_curve/all_classes_pooled", labels.ravel(), scores.ravel()))
    for name, y, s in curves:
        # pb() computes the plugin's [6, thresholds] tensor (TP, FP, TN, FN, precision, recall) in NumPy;
        # the plugin ships no TF2 summary op, so its proto is written as it is.
        proto = pr_curve.pb(name, y, np.clip(s, 0.0, 1.0), num_thresholds=PR_THRESHOLDS)
        tf.summary.experimental.write_raw_pb(proto.SerializeToString(), step=step)
    return report


def denormalize(images, mean, std) -> np.ndarray:
    """float32 [N, H, W, 3] normalised as kclass.data.transforms.normalize (mean/std of 0..1 pixels)
    -> uint8 [N, H, W, 3]. Values that augmentation pushed outside the pixel range are clipped."""
    pixels = (np.asarray(images, np.float32) * np.asarray(std, np.float32) + np.asarray(mean, np.float32)) * 255.0
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def image_grid(images, columns: int = GRID_COLUMNS, gap: int = GRID_GAP) -> np.ndarray:
    """uint8 [N, H, W, 3] -> one uint8 [rows * (H + gap) - gap, columns * (W + gap) - gap, 3] image,
    row by row; the gaps and the empty cells of the last row are grey (128)."""
    images = np.asarray(images, np.uint8)
    n, h, w, channels = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    cells = np.full((rows * columns, h + gap, w + gap, channels), 128, np.uint8)
    cells[:n, :h, :w] = images
    grid = cells.reshape(rows, columns, h + gap, w + gap, channels).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * (h + gap), columns * (w + gap), channels)[:-gap or None, :-gap or None]


def first_batch(images, mean, std, step: int = 0, limit: int = GRID_IMAGES) -> np.ndarray:
    """The first training batch as the model receives it (float32 [N, H, W, 3], normalised with `mean`,
    `std`, augmented and mixed), de-normalised, its first `limit` images in one grid image
    `train_batch`; returns the grid uint8 [H', W', 3]."""
    grid = image_grid(denormalize(np.asarray(images)[:limit], mean, std))
    tf.summary.image("train_batch", grid[None], step=step,
                     description=f"the first {min(len(images), limit)} images of the first training batch, "
                                 "after augmentation (de-normalised)")
    return grid
