"""A recipe (+ the weights' run directory) -> the ServingSpec of its exported model."""

import json
import math
import os
from typing import List, Optional

from kclass.data.lists import read_label_names
from kclass.errors import ConfigError, WeightsError
from kclass.export.serving_module import DEFAULT_MAX_PIXELS, ServingSpec

# Written by kclass.thresholds into best_model/, read here beside the weights.
THRESHOLDS_FILE = "thresholds.json"  # multi-label: per-class thresholds
REJECT_FILE = "reject_threshold.json"  # single-label: "unknown" below this max probability


def class_names(label_list: Optional[str], num_classes: int) -> List[str]:
    """Names by class id from `label_list.txt`; ids it does not name are shown as their number."""
    names = read_label_names(label_list) or []
    if len(names) > num_classes:
        raise ConfigError(f"{label_list}: names {len(names)} classes but NUM_CLASSES={num_classes}")
    return names + [str(i) for i in range(len(names), num_classes)]


def find_beside(weights: Optional[str], name: str = THRESHOLDS_FILE) -> Optional[str]:
    """File `name` of the best_model/ directory `weights` names (or holds a file of), if it exists."""
    if not weights:
        return None
    folder = weights if os.path.isdir(weights) else os.path.dirname(os.path.abspath(weights))
    path = os.path.join(folder, name)
    return path if os.path.isfile(path) else None


def read_thresholds(path: str, num_classes: int) -> List[float]:
    """`{"thresholds": [C floats], ...}` -> C floats in [0, 1]."""
    try:
        with open(path) as f:
            values = json.load(f)["thresholds"]
        values = [float(v) for v in values]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path}: not a thresholds file ({{\"thresholds\": [...]}}): {e}") from None
    if len(values) != num_classes:
        raise WeightsError(f"{path}: {len(values)} thresholds for NUM_CLASSES={num_classes}")
    if not all(0.0 <= v <= 1.0 and math.isfinite(v) for v in values):
        raise WeightsError(f"{path}: thresholds must lie in [0, 1]")
    return values


def read_reject_threshold(path: str) -> float:
    """`{"threshold": t, ...}` (kclass.thresholds.write_reject_threshold) -> t in [0, 1]."""
    try:
        with open(path) as f:
            value = float(json.load(f)["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path}: not a reject threshold file ({{\"threshold\": t, ...}}): {e}") from None
    if not (0.0 <= value <= 1.0 and math.isfinite(value)):
        raise WeightsError(f"{path}: threshold {value} must lie in [0, 1]")
    return value


def spec_from_experiment(exp, weights: Optional[str] = None, top_k: Optional[int] = None,
                         max_pixels: Optional[int] = None, thresholds_file: Optional[str] = None,
                         reject_file: Optional[str] = None) -> ServingSpec:
    """The eval preprocessing, class names and output head of `exp` (a kclass.experiment.Experiment).

    Thresholds (multi-label) and the reject threshold (single-label) come from the given files, else
    from the files of those names beside `weights`; without them the outputs stay the plain ones.
    """
    val = exp.val_data
    if val is None:
        raise ConfigError("the recipe has no val/DataConfig: its eval preprocessing is what gets exported")
    multilabel = bool(exp.multilabel)
    thresholds = reject = None
    if multilabel:
        if reject_file:
            raise ConfigError("--reject_threshold is for single-label recipes: a multi-label model answers "
                              "no label at all when every score is under its threshold")
        path = thresholds_file or find_beside(weights, THRESHOLDS_FILE)
        thresholds = read_thresholds(path, exp.num_classes) if path else None
    else:
        if thresholds_file:
            raise ConfigError("--thresholds is for multi-label recipes (Experiment.multilabel = True)")
        path = reject_file or find_beside(weights, REJECT_FILE)
        reject = read_reject_threshold(path) if path else None
    return ServingSpec(image_size=exp.image_size, class_names=class_names(val.label_list, exp.num_classes),
                       resize_short=val.resize_short, mean=tuple(val.mean), std=tuple(val.std),
                       multilabel=multilabel, thresholds=thresholds, top_k=top_k or exp.topk,
                       max_pixels=max_pixels or DEFAULT_MAX_PIXELS, reject_threshold=reject)
