"""A recipe (+ the weights' run directory) -> the ServingSpec of its exported model."""

import json
import math
import os
from typing import List, Optional

from kclass.data.lists import read_label_names
from kclass.errors import ConfigError, WeightsError
from kclass.export_lib.serving_module import DEFAULT_MAX_PIXELS, ServingSpec

THRESHOLDS_FILE = "thresholds.json"


def class_names(label_list: Optional[str], num_classes: int) -> List[str]:
    """Names by class id from `label_list.txt`; ids it does not name are shown as their number."""
    names = read_label_names(label_list) or []
    if len(names) > num_classes:
        raise ConfigError(f"{label_list}: names {len(names)} classes but NUM_CLASSES={num_classes}")
    return names + [str(i) for i in range(len(names), num_classes)]


def find_thresholds(weights: Optional[str]) -> Optional[str]:
    """`thresholds.json` of the best_model/ directory `weights` names (or holds a file of)."""
    if not weights:
        return None
    folder = weights if os.path.isdir(weights) else os.path.dirname(os.path.abspath(weights))
    path = os.path.join(folder, THRESHOLDS_FILE)
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


def spec_from_experiment(exp, weights: Optional[str] = None, top_k: Optional[int] = None,
                         max_pixels: Optional[int] = None, thresholds_file: Optional[str] = None) -> ServingSpec:
    """The eval preprocessing, class names and output head of `exp` (a kclass.experiment.Experiment)."""
    val = exp.val_data
    if val is None:
        raise ConfigError("the recipe has no val/DataConfig: its eval preprocessing is what gets exported")
    multilabel = bool(getattr(exp, "multilabel", False) or getattr(val, "multilabel", False))
    thresholds = None
    if multilabel:
        path = thresholds_file or find_thresholds(weights)
        thresholds = read_thresholds(path, exp.num_classes) if path else None
    elif thresholds_file:
        raise ConfigError("--thresholds is for multi-label recipes (Experiment.multilabel = True)")
    return ServingSpec(image_size=exp.image_size, class_names=class_names(val.label_list, exp.num_classes),
                       resize_short=val.resize_short, mean=tuple(val.mean), std=tuple(val.std),
                       multilabel=multilabel, thresholds=thresholds, top_k=top_k or exp.topk,
                       max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
