"""Metrics as sums that reduce exactly across replicas and workers (no averaging of averages)."""

import numpy as np
import tensorflow as tf


def topk_ks(topk: int, num_classes: int):
    """The k of the top-k metrics a recipe reports: 1, and `topk` if it is below the class count.

    A top-k with k >= num_classes counts every image a hit (a 3-class "top-5" is always 1.0), so it
    is left out rather than clamped to a top-C that says nothing either.
    """
    return (1, topk) if 1 < topk < num_classes else (1,)


def topk_sums(topk=(1, 5)):
    """metric_fn for single-label: {'top1': weighted hits, 'top5': ...} summed over the batch."""

    def metric_fn(labels, logits, weights):
        if labels.shape.rank == 2:
            labels = tf.argmax(labels, axis=-1)
        logits = tf.cast(logits, tf.float32)
        # top_k breaks ties by index; in_top_k would count every tied class a hit (a constant output
        # would score 100%).
        best = tf.math.top_k(logits, min(max(topk), logits.shape[-1])).indices
        hits = tf.cast(tf.equal(best, tf.cast(labels, tf.int32)[:, None]), tf.float32)
        return {f"top{k}": tf.reduce_sum(tf.reduce_sum(hits[:, :k], axis=1) * weights) for k in topk}

    return metric_fn


def predicted_classes(labels, logits):
    """What a single-label task collects with rows="classes" (kclass.tasks), for the confusion matrix of
    training-time evaluation: per image the label [N] int32 (argmax of one-hot labels) and the top-1
    class [N] int32 with topk_sums's tie rule (two int32 per image to gather, whatever the class count)."""
    if labels.shape.rank == 2:
        labels = tf.argmax(labels, axis=-1)
    return {"labels": tf.cast(labels, tf.int32),
            "pred": tf.math.top_k(tf.cast(logits, tf.float32), 1).indices[:, 0]}


def prediction_rows(labels, logits):
    """What a single-label task collects with rows="probabilities", for reports: `predicted_classes` (so
    the report's top-1 is evaluate's) and the softmax probabilities [N, C] float32."""
    return dict(predicted_classes(labels, logits), probs=tf.nn.softmax(tf.cast(logits, tf.float32)))


# ---- exact metrics over gathered probabilities and scores (host side, NumPy) ---------------------

def _ranked_counts(y_true, scores):
    """Cumulative TP and FP at each distinct score, highest first (ties form one threshold)."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], y_true[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return tps, fps, s[last_of_tie]


def fit_reject_threshold(probs, labels, target_precision):
    """(threshold, precision, coverage) of the rule "unknown when max probability < threshold".

    `probs` [N, C] softmax probabilities, `labels` [N] class ids. The accepted images (max probability
    >= threshold) are the largest set, cut at a max probability, whose top-1 precision is >=
    `target_precision`; coverage is the fraction accepted. If no cut reaches it, the largest set of
    the highest precision is taken and the caller sees precision < target_precision. As in
    `fit_thresholds`, the threshold sits halfway between the lowest accepted max probability and the
    next lower one (5e-5 under it when all are accepted): the same decisions on this set, and a margin
    for the rounding by which the served (BN-folded) model's probabilities differ (seen: over 5e-7).
    """
    probs = np.asarray(probs, np.float64)
    correct = (np.argmax(probs, axis=1) == np.asarray(labels).reshape(-1)).astype(np.float64)
    tps, fps, cut = _ranked_counts(correct, probs.max(axis=1))
    precision = tps / (tps + fps)
    reached = np.flatnonzero(precision >= target_precision)
    # Cuts run from the highest score down: the last index is the lowest threshold.
    best = reached[-1] if len(reached) else np.flatnonzero(precision == precision.max())[-1]
    lower = cut[best + 1] if best + 1 < len(cut) else cut[best] - 1e-4
    return float((cut[best] + lower) / 2), float(precision[best]), float((tps[best] + fps[best]) / len(correct))


def precision_recall_curve(y_true, scores):
    """(precision, recall, threshold) [T] at each distinct score, highest first: the points whose
    recall steps `average_precision` sums over. Needs at least one positive."""
    tps, fps, cut = _ranked_counts(np.asarray(y_true, np.float64), np.asarray(scores, np.float64))
    return tps / (tps + fps), tps / tps[-1], cut


def average_precision(y_true, scores):
    """sklearn's average_precision_score for one class: sum_n (R_n - R_{n-1}) P_n; NaN without positives."""
    y_true = np.asarray(y_true, np.float64)
    if y_true.sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(y_true, scores):
    """Area under the ROC curve (ties as sklearn: one point per distinct score); NaN if one class only."""
    y_true = np.asarray(y_true, np.float64)
    positives = y_true.sum()
    if positives == 0 or positives == len(y_true):
        return float("nan")
    tps, fps, _ = _ranked_counts(y_true, np.asarray(scores, np.float64))
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def fit_thresholds(labels, scores, default=0.5):
    """Per-class threshold [C] maximising F1 of `score >= threshold` on (labels, scores) [N, C].

    The threshold sits halfway between the lowest included score and the next lower one, so it keeps
    the same decisions on this set and a margin on new data. Classes without positives keep `default`.
    """
    labels, scores = np.asarray(labels, np.float64), np.asarray(scores, np.float64)
    thresholds = np.full(labels.shape[1], default, np.float64)
    for c in range(labels.shape[1]):
        positives = labels[:, c].sum()
        if positives == 0:
            continue
        tps, fps, cut = _ranked_counts(labels[:, c], scores[:, c])
        f1 = 2 * tps / (2 * tps + fps + (positives - tps))
        best = int(np.argmax(f1))
        lower = cut[best + 1] if best + 1 < len(cut) else cut[best] - 1e-4
        thresholds[c] = (cut[best] + lower) / 2
    # Saturated sigmoids give scores of exactly 0 or 1; a threshold must stay a probability.
    return np.clip(thresholds, 0.0, 1.0)


def multilabel_report(labels, scores, thresholds=0.5):
    """Exact multi-label metrics from labels {0,1} and scores (probabilities) [N, C].

    mAP: mean over classes with a positive of sklearn's average precision (the others are counted in
    `classes_without_positive`); AUC macro (classes with both labels) and micro; hamming loss and
    PaddleClas's label accuracy (TP + TN) / slots at `thresholds` (scalar or [C], `score >= t`);
    macro precision/recall/F1 and the same per class (lists).
    """
    labels = np.asarray(labels, np.float64) > 0.5
    scores = np.asarray(scores, np.float64)
    ap = np.array([average_precision(labels[:, c], scores[:, c]) for c in range(labels.shape[1])])
    auc = np.array([roc_auc(labels[:, c], scores[:, c]) for c in range(labels.shape[1])])
    pred = scores >= np.broadcast_to(np.asarray(thresholds, np.float64), scores.shape[1:])
    tp = (pred & labels).sum(0).astype(np.float64)
    fp = (pred & ~labels).sum(0).astype(np.float64)
    fn = (~pred & labels).sum(0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    hamming = float(np.mean(pred != labels))
    return {
        "mAP": float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan"),
        "classes_without_positive": int(np.isnan(ap).sum()),
        "auc_macro": float(np.nanmean(auc)) if np.any(~np.isnan(auc)) else float("nan"),
        "auc_micro": roc_auc(labels.ravel(), scores.ravel()),
        "hamming_loss": hamming,
        "label_accuracy": 1.0 - hamming,
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "per_class": {"ap": ap.tolist(), "auc": auc.tolist(), "precision": precision.tolist(),
                      "recall": recall.tolist(), "f1": f1.tolist()},
    }


def multilabel_sums(labels, logits, weights):
    """Hamming loss and label accuracy (sigmoid > 0.5, as PaddleClas) summed per example."""
    wrong = tf.cast(tf.not_equal(tf.cast(logits, tf.float32) > 0.0, labels > 0.5), tf.float32)
    hamming = tf.reduce_mean(wrong, axis=-1) * weights
    return {"hamming_loss": tf.reduce_sum(hamming), "label_accuracy": tf.reduce_sum(weights) - tf.reduce_sum(hamming)}
