"""The multi-label report: per-class AP/AUC (and P/R/F1 at the thresholds) and precision-recall curves."""

import os
from typing import Dict, Sequence

import numpy as np

from kclass import metrics
from kclass.report import files, plots


def write(out_dir: str, labels, scores, names: Sequence[str], thresholds=0.5) -> Dict:
    """Writes per_class.csv, pr_curves.png and report.json into `out_dir`; returns report.json's content.

    labels {0, 1} and scores (sigmoid probabilities) [N, C]; names [C]; thresholds scalar or [C]
    (`score >= t` decides P/R/F1). mAP and AUC are kclass.metrics.multilabel_report's, as evaluate's.
    """
    labels = np.asarray(labels, np.float64) > 0.5
    scores = np.asarray(scores, np.float64)
    names = [str(n) for n in names]
    os.makedirs(out_dir, exist_ok=True)
    path = lambda name: os.path.join(out_dir, name)  # noqa: E731

    result = metrics.multilabel_report(labels, scores, thresholds)
    per = result.pop("per_class")
    positives = labels.sum(0)
    per_class = [{"id": c, "name": names[c], "ap": per["ap"][c], "auc": per["auc"][c],
                  "precision": per["precision"][c], "recall": per["recall"][c], "f1": per["f1"][c],
                  "positives": int(positives[c])} for c in range(len(names))]
    files.write_csv(path("per_class.csv"), list(per_class[0]) if per_class else [],
                    (list(row.values()) for row in per_class))
    curves = [metrics.precision_recall_curve(labels[:, c], scores[:, c])[:2] if positives[c] else None
              for c in range(len(names))]
    micro = metrics.precision_recall_curve(labels.ravel(), scores.ravel())[:2] if labels.any() else None
    plots.pr_curves_png(path("pr_curves.png"), curves, per["ap"], names, micro)
    report = dict(kind="multi-label", images=len(labels), num_classes=len(names),
                  thresholds=np.asarray(thresholds, np.float64).tolist(), **result, per_class=per_class,
                  files=["per_class.csv", "pr_curves.png", "report.json"])
    files.write_json(path("report.json"), report)
    return files.json_safe(report)
