"""The single-label report: confusion matrix, per-class scores, calibration, confident mistakes."""

import os
from typing import Dict, Optional, Sequence

import numpy as np

from kclass.report import calibration, confusion, files, gallery, mistakes, plots

BINS = 15  # the usual ECE binning (Guo et al. 2017), so figures compare with published ones
GALLERY = 24
PAIRS = 10
WORST = 5


def write(out_dir: str, labels, pred, probs, names: Sequence[str], paths: Optional[Sequence[str]] = None,
          bins: int = BINS, gallery_size: int = GALLERY) -> Dict:
    """Writes the report of one evaluation into `out_dir`; returns what report.json holds.

    labels, pred int [N] (true and top-1 class); probs float [N, C] (softmax); names [C] class names;
    paths [N] image files (None: no most_confused.png). Files: confusion_matrix.csv (rows true,
    columns predicted, counts), confusion_matrix.png, per_class.csv, reliability_diagram.png,
    most_confused.png, report.json.
    """
    labels, pred = np.asarray(labels, np.int64), np.asarray(pred, np.int64)
    probs = np.asarray(probs, np.float64)
    names = [str(n) for n in names]
    c, n = len(names), len(labels)
    os.makedirs(out_dir, exist_ok=True)
    path = lambda name: os.path.join(out_dir, name)  # noqa: E731

    cm = confusion.confusion_matrix(labels, pred, c)
    scores = confusion.per_class(cm)
    files.write_csv(path("confusion_matrix.csv"), ["true \\ predicted", *names],
                    ([names[i], *cm[i].tolist()] for i in range(c)))
    per_class = [{"id": i, "name": names[i], "precision": float(scores["precision"][i]),
                  "recall": float(scores["recall"][i]), "f1": float(scores["f1"][i]),
                  "support": int(scores["support"][i])} for i in range(c)]
    files.write_csv(path("per_class.csv"), list(per_class[0]) if per_class else [],
                    (list(row.values()) for row in per_class))
    plots.confusion_png(path("confusion_matrix.png"), cm, names)
    written = ["confusion_matrix.csv", "confusion_matrix.png", "per_class.csv"]

    correct = labels == pred
    confidence = probs[np.arange(n), pred]
    reliability = calibration.reliability_bins(confidence, correct, bins)
    ece = calibration.expected_calibration_error(confidence, correct, bins)
    plots.reliability_png(path("reliability_diagram.png"), reliability, ece)
    written.append("reliability_diagram.png")

    worst = mistakes.confident_mistakes(labels, pred, confidence, gallery_size)
    shown = [{"index": int(i), "image": paths[i] if paths is not None else None, "true": names[labels[i]],
              "predicted": names[pred[i]], "confidence": float(confidence[i])} for i in worst]
    if paths is not None:
        gallery.gallery_png(
            path("most_confused.png"), [gallery.load_image(paths[i]) for i in worst],
            [f"true: {plots.short(m['true'], 18)}\npred: {plots.short(m['predicted'], 18)} "
             f"({m['confidence']:.2f})" for m in shown],
            title=f"The {len(shown)} most confident mistakes (of {int((~correct).sum())})")
        written.append("most_confused.png")

    present = [row for row in per_class if row["support"] > 0]
    report = {
        "kind": "single-label", "images": n, "num_classes": c,
        "top1": float(correct.mean()) if n else 0.0,
        "ece": ece, "ece_bins": bins, **confusion.macro(cm),
        "worst_recall": sorted(present, key=lambda r: (r["recall"], r["id"]))[:WORST],
        "most_confused": [dict(pair, true=names[pair["true"]], predicted=names[pair["predicted"]],
                               true_id=pair["true"], predicted_id=pair["predicted"])
                          for pair in confusion.most_confused(cm, PAIRS)],
        "confident_mistakes": shown,
        "reliability": [{k: reliability[k][b] for k in ("lower", "upper", "count", "confidence", "accuracy")}
                        for b in range(bins)],
        "per_class": per_class,
        "files": written + ["report.json"],
    }
    files.write_json(path("report.json"), report)
    return files.json_safe(report)
