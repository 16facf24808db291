"""Decision thresholds fitted on the validation split, and the files export and predict read them from:
per-class thresholds for multi-label recipes, a reject ("unknown") threshold for single-label ones."""

import json
import os
from typing import Dict, Optional

import tensorflow as tf

from kclass import atomic_write, metrics, splits, tasks
from kclass.data import lists
from kclass.data.undecodable import named_on_failure
from kclass.engine.evaluator import Evaluator
from kclass.errors import ConfigError
from kclass.export.spec import REJECT_FILE, THRESHOLDS_FILE
from kclass.model_builder import model_with_weights


def fit_thresholds(exp, weights: str, strategy=None, samples: Optional[lists.Samples] = None):
    """Per-class F1-maximising thresholds [C] of `weights` for recipe `exp` on its validation split (or
    `samples`), and its metrics (with `images`, the count evaluated)."""
    strategy = strategy or tf.distribute.get_strategy()
    samples = splits.val_split(exp)[0] if samples is None else samples
    evaluator = Evaluator(model_with_weights(exp, weights, strategy), tasks.for_experiment(exp), strategy)
    with named_on_failure(samples):
        evaluator(splits.eval_dataset_fn(exp, samples))
    thresholds = metrics.fit_thresholds(evaluator.rows["labels"], evaluator.rows["scores"])
    report = metrics.multilabel_report(evaluator.rows["labels"], evaluator.rows["scores"], thresholds)
    return thresholds, dict(report, images=len(samples))


def write_thresholds(best_dir: str, thresholds):
    """`best_dir/thresholds.json`: {"thresholds": [C]}; predict and export read it (default 0.5)."""
    text = json.dumps({"thresholds": [float(t) for t in thresholds], "rule": "score >= threshold",
                       "fitted_on": "validation split, per-class max F1"}, indent=1)
    atomic_write.text(os.path.join(best_dir, THRESHOLDS_FILE), text + "\n")


def fit_reject_threshold(exp, weights: str, target_precision: float, strategy=None) -> Dict:
    """The max-probability threshold under which `weights` answer "unknown", fitted on the validation
    split so that the accepted images reach top-1 `target_precision` (metrics.fit_reject_threshold):
    {"reject_threshold", "precision", "coverage", "target_precision", "reached", "images"}."""
    if exp.multilabel:
        raise ConfigError("--fit_reject is for single-label recipes; multi-label ones fit per-class "
                          "thresholds (--fit_thresholds) and answer no label when no score reaches its own")
    if not 0.0 < target_precision <= 1.0:
        raise ConfigError(f"--target_precision {target_precision:g}: expected a precision in (0, 1]")
    strategy = strategy or tf.distribute.get_strategy()
    samples, skipped = splits.val_split(exp, prepare=True)
    evaluator = Evaluator(model_with_weights(exp, weights, strategy), tasks.for_experiment(exp, rows="probabilities"),
                          strategy)
    with named_on_failure(samples):
        evaluator(splits.eval_dataset_fn(exp, samples))
    threshold, precision, coverage = metrics.fit_reject_threshold(
        evaluator.rows["probs"], evaluator.rows["labels"], target_precision)
    result = {"reject_threshold": threshold, "precision": precision, "coverage": coverage,
              "target_precision": float(target_precision), "reached": precision >= target_precision,
              "images": len(samples)}
    return dict(result, skipped=skipped) if exp.on_bad_image == "skip" else result


def write_reject_threshold(best_dir: str, fit: Dict) -> str:
    """`best_dir/reject_threshold.json` from `fit_reject_threshold`'s result; export and predict read it."""
    text = json.dumps({"threshold": fit["reject_threshold"], "rule": "unknown when max probability < threshold",
                       "target_precision": fit["target_precision"], "precision": fit["precision"],
                       "coverage": fit["coverage"], "fitted_on": f"validation split, {fit['images']} images"},
                      indent=1)
    path = os.path.join(best_dir, REJECT_FILE)
    atomic_write.text(path, text + "\n")
    return path
