"""The report's charts: Matplotlib's object API on the Agg canvas (no display and no pyplot state, so
it runs in servers, tests and threads)."""

from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

CELL_TEXT_MAX = 20  # classes up to which the confusion matrix prints each cell's value
NAME_CHARS = 24  # tick labels are cut to this many characters


def short(name: str, chars: int = NAME_CHARS) -> str:
    return name if len(name) <= chars else name[:chars - 1] + "…"


def save(fig: Figure, path, dpi: int = 100) -> Figure:
    """Writes `fig` as PNG with the Agg canvas to `path` (a file name or a binary file object, e.g. the
    io.BytesIO a TensorBoard image is made from); returns it (tests read what was drawn)."""
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi, format="png")
    return fig


def row_normalised(cm) -> np.ndarray:
    """Each row divided by its sum (the share of a true class given each prediction); empty rows 0."""
    cm = np.asarray(cm, np.float64)
    support = cm.sum(1, keepdims=True)
    return np.divide(cm, support, out=np.zeros_like(cm), where=support > 0)


def confusion_png(path: str, cm, names: Sequence[str], title: str = "") -> Figure:
    """Row-normalised confusion matrix: the diagonal is each class's recall.

    Sized by the class count so 100 classes keep a cell of ~0.15 inch with 6 pt names; beyond ~120
    classes every n-th name is shown. Cell values are printed up to CELL_TEXT_MAX classes.
    """
    norm = row_normalised(cm)
    c = len(norm)
    side = float(np.clip(3.0 + 0.16 * c, 6.0, 24.0))
    fig = Figure(figsize=(side + 1.5, side), layout="constrained")
    ax = fig.add_subplot()
    # A square-root colour scale: with many classes the confusions worth seeing are shares of a few %.
    image = ax.imshow(norm, cmap="Blues", norm=PowerNorm(0.5, vmin=0.0, vmax=1.0), interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.6, label="share of the true class's images (square-root scale)")
    font = float(np.clip(600.0 / c, 4.0, 10.0))
    ticks = np.arange(0, c, max(1, int(np.ceil(c / 120))))
    labels = [short(names[i]) for i in ticks]
    ax.set_xticks(ticks, labels, rotation=90, fontsize=font)
    ax.set_yticks(ticks, labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if c <= CELL_TEXT_MAX:
        counts = np.asarray(cm)
        for i in range(c):
            for j in range(c):
                if counts[i, j]:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=font * 0.9,
                            color="white" if norm[i, j] > 0.3 else "black")
    ax.set_title(title or "Confusion matrix (rows: true class, normalised; diagonal = recall)")
    return save(fig, path)


def reliability_png(path: str, bins, ece: float, title: str = "") -> Figure:
    """Accuracy against mean confidence per bin (kclass.report.calibration.reliability_bins), the gap
    to the diagonal shaded, and below it how many images each bin holds."""
    lower, upper = np.asarray(bins["lower"]), np.asarray(bins["upper"])
    count = np.asarray(bins["count"])
    filled = count > 0
    width = upper - lower
    fig = Figure(figsize=(6, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.bar(lower[filled], bins["accuracy"][filled], width[filled], align="edge", color="tab:blue",
            edgecolor="black", linewidth=0.5, label="accuracy")
    gap = bins["confidence"][filled] - bins["accuracy"][filled]
    top.bar(lower[filled], gap, width[filled], bottom=bins["accuracy"][filled], align="edge",
            color="tab:red", alpha=0.3, edgecolor="tab:red", hatch="//", label="gap to mean confidence")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title or f"Reliability: ECE {ece:.4f} ({len(count)} bins, {int(count.sum())} images)")
    bottom.bar(lower[filled], count[filled], width[filled], align="edge", color="grey", edgecolor="black",
               linewidth=0.5)
    # Log counts: a bin of 1 image, whose bar above can look decisive, stays visible beside one of 400.
    bottom.set(xlabel="confidence (top-1 probability)", ylabel="images (log)", yscale="log",
               ylim=(0.5, max(2.0, float(count.max()) * 2)))
    return save(fig, path)


def pr_curves_png(path: str, curves: Sequence[Optional[tuple]], ap: Sequence[float], names: Sequence[str],
                  micro: Optional[tuple] = None, highlight: int = 3) -> Figure:
    """Precision-recall curves, one per class: `curves[c]` = (precision, recall) arrays or None (no
    positive). Up to 10 classes each is named; beyond, the rest are thin grey lines and the
    `highlight` best and worst classes by AP are named. `micro` (precision, recall): all classes pooled.
    """
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    ap = np.asarray(ap, np.float64)
    ranked = [c for c in np.argsort(-np.nan_to_num(ap, nan=-1.0), kind="stable") if curves[c] is not None]
    named = set(ranked) if len(ranked) <= 10 else set(ranked[:highlight]) | set(ranked[-highlight:])
    for c in ranked:
        precision, recall = curves[c]
        # A step curve: precision holds until the next recall step, as average precision sums it.
        r, p = np.r_[0.0, recall], np.r_[precision[0], precision]
        if c in named:
            ax.step(r, p, where="pre", linewidth=1.5, label=f"{short(names[c])} AP {ap[c]:.3f}")
        else:
            ax.step(r, p, where="pre", linewidth=0.6, color="lightgrey")
    if micro is not None:
        ax.step(np.r_[0.0, micro[1]], np.r_[micro[0][0], micro[0]], where="pre", color="black", linewidth=2.5,
                label="all classes pooled (micro)")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
    mean = float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan")
    shown = "" if len(ranked) <= 10 else f"; named: best and worst {highlight} by AP"
    ax.set_title(f"Precision-recall per class, mAP {mean:.4f}{shown}")
    ax.legend(loc="lower left", fontsize=7)
    return save(fig, path)
