"""A recipe's own mistakes, refused before anything is written or prepared: numbers out of range, names
the registry lacks, options that do not go together. Each error names the macro and the field to fix."""

import math
import re

import numpy as np

from kclass import losses, metrics, models
from kclass.data import pipeline
from kclass.errors import ConfigError
from kclass.model_builder import PRECISIONS


def check(exp) -> None:
    """Refuses, before anything is written or prepared, the mistakes recipe `exp` (an Experiment) shows
    by itself.

    Numbers are named by the macro a user overrides (`--gin_param LR=-1`) and the field it fills.
    """
    models.check_name(exp.model)
    if exp.teacher:
        models.check_name(exp.teacher)
        if exp.distill_loss not in losses.DISTILL_LOSSES:
            raise ConfigError(f"DISTILL_LOSS={exp.distill_loss!r}: expected one of {', '.join(losses.DISTILL_LOSSES)}")
    if exp.on_bad_image not in ("error", "skip"):
        raise ConfigError(f"on_bad_image={exp.on_bad_image!r}: expected 'error' or 'skip'")
    if exp.precision not in PRECISIONS:
        raise ConfigError(f"precision {exp.precision!r}: expected one of {', '.join(PRECISIONS)}")
    opt = exp.optimizer
    for name, value in (("NUM_CLASSES (Experiment.num_classes)", exp.num_classes),
                        ("IMAGE_SIZE (Experiment.image_size)", exp.image_size),
                        ("EPOCHS (Experiment.epochs)", exp.epochs),
                        ("BATCH_SIZE (Experiment.batch_size)", exp.batch_size),
                        ("Experiment.topk", exp.topk), ("Experiment.steps_per_loop", exp.steps_per_loop),
                        ("Experiment.keep_checkpoints", exp.keep_checkpoints)):
        _expect(_is_int(value) and value > 0, name, value, "a whole number > 0")
    optional = [("EVAL_BATCH_SIZE (Experiment.eval_batch_size)", exp.eval_batch_size),
                ("Experiment.checkpoint_every_steps", exp.checkpoint_every_steps),
                ("OptimizerConfig.reference_batch", opt.reference_batch)]
    for split, cfg in (("train", exp.train_data), ("val", exp.val_data)):
        if cfg is not None:
            optional += [(f"{split}/DataConfig.resize_short", cfg.resize_short)]
    for name, value in optional:
        _expect(value is None or (_is_int(value) and value > 0), name, value, "a whole number > 0 or None")
    _expect(exp.intra_op_threads is None or (_is_int(exp.intra_op_threads) and exp.intra_op_threads >= 0),
            "Experiment.intra_op_threads", exp.intra_op_threads, "a whole number >= 0 (0: TF's default) or None")
    _expect(_is_int(exp.inter_op_threads) and exp.inter_op_threads >= 0, "Experiment.inter_op_threads",
            exp.inter_op_threads, "a whole number >= 0 (0: TF's default)")
    _expect(_is_number(opt.lr) and opt.lr > 0, "LR (OptimizerConfig.lr)", opt.lr, "a number > 0")
    top = re.fullmatch(r"top(\d+)", str(exp.best_metric))
    if top and not exp.multilabel:  # else the first eval, an epoch into training, would refuse it
        ks = metrics.topk_ks(exp.topk, exp.num_classes)
        _expect(int(top.group(1)) in ks, "Experiment.best_metric", exp.best_metric,
                f"one of {', '.join(f'top{k}' for k in ks)} (top-k with k >= NUM_CLASSES={exp.num_classes} "
                "is not reported: every image would be a hit)")
    for name, value in (("OptimizerConfig.l2", opt.l2), ("OptimizerConfig.warmup_epochs", opt.warmup_epochs),
                        ("OptimizerConfig.warmup_start_lr", opt.warmup_start_lr),
                        ("OptimizerConfig.eta_min", opt.eta_min),
                        ("HARD_LABEL_WEIGHT (Experiment.hard_label_weight)", exp.hard_label_weight)):
        _expect(_is_number(value) and value >= 0, name, value, "a number >= 0")
    _expect(_is_number(opt.momentum) and 0 <= opt.momentum < 1, "OptimizerConfig.momentum", opt.momentum,
            "a number in [0, 1)")
    _expect(_is_number(exp.label_smoothing) and 0 <= exp.label_smoothing < 1, "Experiment.label_smoothing",
            exp.label_smoothing, "a number in [0, 1)")
    _expect(_is_number(exp.distill_temperature) and exp.distill_temperature > 0, "Experiment.distill_temperature",
            exp.distill_temperature, "a number > 0")
    if exp.pos_weight is not None:
        weights = list(exp.pos_weight)
        _expect(len(weights) == exp.num_classes and all(_is_number(w) and w > 0 for w in weights),
                "Experiment.pos_weight", exp.pos_weight, f"{exp.num_classes} numbers > 0 (one per class)")
    _check_balance(exp)
    if exp.train_data is not None:
        scale, ratio = exp.train_data.scale, exp.train_data.ratio
        _expect(_is_pair(scale) and 0 < scale[0] <= scale[1] <= 1, "train/DataConfig.scale", scale,
                "(low, high) with 0 < low <= high <= 1")
        _expect(_is_pair(ratio) and 0 < ratio[0] <= ratio[1], "train/DataConfig.ratio", ratio,
                "(low, high) with 0 < low <= high")


def _check_balance(exp) -> None:
    """Class weights and balanced sampling: single-label recipes without a teacher only."""
    sampling = exp.train_data.sampling if exp.train_data is not None else "uniform"
    _expect(sampling in pipeline.SAMPLINGS, "train/DataConfig.sampling", sampling,
            " or ".join(repr(s) for s in pipeline.SAMPLINGS))
    if exp.val_data is not None:
        _expect(exp.val_data.sampling == "uniform", "val/DataConfig.sampling", exp.val_data.sampling,
                "'uniform' (evaluation reads every image once)")
    for name, value, used in (("Experiment.class_weights", exp.class_weights, exp.class_weights is not None),
                              ("train/DataConfig.sampling", sampling, sampling == "balanced")):
        if not used:
            continue
        if exp.multilabel:
            raise ConfigError(f"{name} = {value!r}: single-label recipes only (multi-label ones weigh "
                              "positives per class with Experiment.pos_weight)")
        if exp.teacher:
            raise ConfigError(f"{name} = {value!r}: not with distillation (Experiment.teacher): the "
                              "student learns the teacher's outputs, not the labels")
    weights = exp.class_weights
    if isinstance(weights, str) and weights == "balanced" and sampling == "balanced":
        raise ConfigError("Experiment.class_weights = 'balanced' with train/DataConfig.sampling = 'balanced' "
                          "corrects the imbalance twice (minority classes would outweigh the rest): choose one")
    if weights is None or (isinstance(weights, str) and weights == "balanced"):
        return
    ok = isinstance(weights, (list, tuple, np.ndarray))
    weights = list(weights) if ok else []
    _expect(ok and len(weights) == exp.num_classes and all(_is_number(w) and w >= 0 for w in weights)
            and sum(weights) > 0, "Experiment.class_weights", exp.class_weights,
            f"'balanced' or {exp.num_classes} numbers >= 0, not all 0 (one per class)")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_pair(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)


def _expect(ok, name, value, expected):
    if not ok:
        raise ConfigError(f"{name} = {value!r}: expected {expected}")
