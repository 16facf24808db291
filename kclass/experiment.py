"""A recipe (plain dataclasses) wired into data, model, optimizer and the engine.

This is what the CLIs run after Gin has filled an `Experiment`; it can be used without Gin.
"""

import dataclasses
import json
import math
import os
import re
import sys
from typing import Any, Callable, Dict, Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from kclass import atomic_write, losses, metrics, models, optim
from kclass.data import balance, lists, pipeline, scan
from kclass.data.pipeline import DataConfig
from kclass.engine.strategy import is_chief
from kclass.engine.summary_hooks import SummaryHooks
from kclass.engine.task import Task
from kclass.engine.trainer import Evaluator, LoopConfig, Trainer
from kclass.errors import ConfigError, DataError, WeightsError
from kclass.export.spec import REJECT_FILE, THRESHOLDS_FILE

PRECISIONS = ("fp32", "float64", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass
class Experiment:
    """One training recipe. `batch_size` is GLOBAL (PaddleClas semantics); `optimizer.lr` is for it."""
    model: str = "ResNet50_vd"
    num_classes: int = 1000
    image_size: int = 224
    train_data: Optional[DataConfig] = None
    val_data: Optional[DataConfig] = None
    batch_size: int = 256
    eval_batch_size: Optional[int] = None
    epochs: int = 1
    seed: int = 12345
    model_dir: str = "output/run"
    optimizer: optim.OptimizerConfig = dataclasses.field(default_factory=optim.OptimizerConfig)
    pretrained: Optional[str] = None
    model_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    sync_bn: bool = False
    # fp32 | mixed_bfloat16 | mixed_float16 (loss scaling; heads stay float32) | float64 (every layer:
    # a slow reference run, to tell float32 rounding from a real difference in a fidelity check)
    precision: str = "fp32"
    multilabel: bool = False  # lists `path<TAB>0,1,...`; sigmoid BCE, mAP/AUC, per-class thresholds
    label_smoothing: float = 0.0
    pos_weight: Optional[Sequence[float]] = None  # multi-label: weight of positives per class [C]
    # Single-label: the training CE's weight per class [C], or 'balanced' (inverse class frequency of the
    # train list, mean 1 over its images: `balance.balanced_weights`); `train` resolves it. Evaluation's
    # loss is not weighted. The other cure for imbalance: train/DataConfig.sampling = 'balanced'.
    class_weights: Optional[Union[str, Sequence[float]]] = None
    topk: int = 5
    best_metric: str = "top1"
    prepare: Optional[Callable[[], Any]] = None  # run once before reading data (e.g. make the demo set)
    steps_per_loop: int = 10
    eval_folded: bool = False  # evaluate during training on the BN-folded copy serving uses (see Evaluator)
    checkpoint_every_steps: Optional[int] = None
    keep_checkpoints: int = 3
    on_bad_image: str = "error"  # error | skip (undecodable files dropped and listed in MODEL_DIR)
    verbose: bool = True
    # Distillation (SSLD): set `teacher` to train `model` as the student of a frozen teacher. The train
    # list may then hold unlabelled `path`-only lines; validation, best_model and export are the student's.
    teacher: Optional[str] = None  # registry name, e.g. 'ResNet50_vd'
    teacher_weights: Optional[str] = None  # required with a teacher; any format kclass loads
    teacher_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    distill_loss: str = "jsdiv"  # jsdiv (PaddleClas JSDivLoss) | js (Jensen-Shannon) | kl (Hinton, x T^2)
    distill_temperature: float = 1.0  # kl only
    hard_label_weight: float = 0.0  # > 0: adds weight * CE on labelled lines (unlabelled ones masked)
    teacher_bn_frozen: bool = True  # False: PaddleClas's teacher BN in train mode (statistics drift)


def build_model(exp: Experiment, load_pretrained: bool = True):
    """The recipe's Keras model, with `exp.pretrained` loaded when set (call inside strategy.scope()).

    Initial weights are drawn from `exp.seed` (PaddleClas seeds its framework RNG too), so every
    worker, and every re-run, starts from the same weights.
    """
    keras.utils.set_random_seed(exp.seed)
    model = _build_net(exp, exp.model, exp.sync_bn, exp.model_kwargs)
    if load_pretrained and exp.pretrained:
        load_weights(model, exp.pretrained, finetune=True)  # another class count: a fresh classifier
    return model


def _build_net(exp, name, sync_bn, kwargs):
    if exp.precision not in PRECISIONS:
        raise ConfigError(f"precision {exp.precision!r}: expected one of {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if exp.precision == "fp32" else exp.precision)
    try:  # layers capture the policy when built; the global one is restored for whoever runs next
        return models.build(name, num_classes=exp.num_classes, input_shape=(exp.image_size, exp.image_size, 3),
                            sync_bn=sync_bn, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)


def build_distiller(exp: Experiment, load_pretrained: bool = True):
    """The student (`build_model`, built first so its init is the same as without a teacher) paired with
    the frozen `exp.teacher` holding `exp.teacher_weights`, as a Distiller (call inside strategy.scope()).
    """
    from kclass.models.distiller import Distiller

    if not exp.teacher_weights:
        raise ConfigError(f"teacher {exp.teacher!r} has no weights: set Experiment.teacher_weights "
                          "(TEACHER_WEIGHTS), e.g. the best_model/ of the teacher's run")
    student = build_model(exp, load_pretrained)
    # Frozen, so synchronised BN would only add collectives.
    teacher = _build_net(exp, exp.teacher, False, exp.teacher_kwargs)
    from kclass import weights  # imported late, as in load_weights
    try:  # never fine-tuning: a teacher with a fresh classifier would teach noise
        weights.load_weights(teacher, exp.teacher_weights)
    except WeightsError as e:
        raise WeightsError(f"TEACHER_WEIGHTS {e}") from None
    return Distiller(teacher, student, teacher_bn_frozen=exp.teacher_bn_frozen,
                     name=f"{exp.teacher}_distill_{exp.model}")


def load_weights(model, path, finetune=False):
    """Any weights kclass loads; a distillation run's checkpoint gives its student.

    A classifier of another class count is refused unless `finetune` (PRETRAINED), which skips it.
    """
    from kclass import weights  # imported late: TF-free CLIs stay fast to start
    from kclass.models.distiller import restore_student
    if path and restore_student(model, path):
        return
    weights.load_weights(model, path, finetune=finetune)


def _eval_batch(exp):
    return exp.eval_batch_size or exp.batch_size


def read_split(exp: Experiment, cfg: DataConfig, check_files: bool = True) -> lists.Samples:
    """Samples of `cfg`; a distillation recipe's train split may hold unlabelled lines (label -1).

    `check_files=False` leaves missing and non-image files in (kclass.check_data reports them).
    """
    if cfg is None or not cfg.source:
        raise ConfigError("the recipe has no data source (set TRAIN_LIST / VAL_LIST)")
    unlabeled = bool(exp.teacher) and cfg is exp.train_data
    return lists.read_samples(cfg.source, cfg.data_root, exp.num_classes, exp.multilabel,
                              allow_unlabeled=unlabeled, check_files=check_files)


def make_task(exp: Experiment, class_weights: Optional[Sequence[float]] = None) -> Task:
    """Single-label: softmax CE and top-k (no train top-k under a mix op, as PaddleClas); `class_weights`
    [C] (see `train_class_weights`) weigh the training CE, evaluation reports the plain one.

    Multi-label: sigmoid BCE; hamming loss / label accuracy as sums, and mAP, AUC, P/R/F1 exactly
    from the gathered sigmoid scores.

    Distillation: see `distill_task`.
    """
    if exp.teacher:
        return distill_task(exp)
    if exp.multilabel:
        return Task(
            loss=lambda labels, logits: losses.sigmoid_cross_entropy(labels, logits, exp.label_smoothing,
                                                                     exp.pos_weight),
            eval_sums=metrics.multilabel_sums, train_sums=metrics.multilabel_sums,
            collect=lambda labels, logits: {"labels": labels, "scores": tf.sigmoid(tf.cast(logits, tf.float32))},
            summarize=lambda rows: _scalars(metrics.multilabel_report(rows["labels"], rows["scores"])))
    topk = metrics.topk_sums(metrics.topk_ks(exp.topk, exp.num_classes))
    mixed = exp.train_data is not None and exp.train_data.mix_op is not None
    weights = None if class_weights is None else np.asarray(class_weights, np.float32)
    return Task(loss=lambda labels, logits: losses.softmax_cross_entropy(labels, logits, exp.label_smoothing, weights),
                eval_sums=topk, train_sums=None if mixed else topk,
                eval_loss=None if weights is None else lambda labels, logits: losses.softmax_cross_entropy(
                    labels, logits, exp.label_smoothing))


def train_class_weights(exp: Experiment, train_samples: lists.Samples) -> Optional[np.ndarray]:
    """The training CE's class weights float [C] for `exp.class_weights` (None: unweighted).

    'balanced' is computed from `train_samples`, the images training will really see.
    """
    if exp.class_weights is None:
        return None
    if isinstance(exp.class_weights, str):
        return balance.balanced_weights(train_samples.labels, exp.num_classes)
    return np.asarray(exp.class_weights, np.float64)


def _describe_weights(weights: np.ndarray) -> str:
    present = weights[weights > 0]
    empty = np.flatnonzero(weights == 0)
    return (f"class weights from {present.min():.3g} to {present.max():.3g}"
            + (f"; {len(empty)} class(es) weigh 0: {empty.tolist()[:10]}" if len(empty) else ""))


def distill_task(exp: Experiment) -> Task:
    """Training outputs {"student", "teacher"}: `exp.distill_loss` (+ masked hard-label CE), and the
    train metric `agree` = share of images whose student top-1 is the teacher's (needs no labels).
    Evaluation outputs are the student's logits: CE and top-k against the validation labels.
    """
    if exp.multilabel:
        raise ConfigError("distillation (Experiment.teacher) is implemented for single-label recipes only")
    if exp.distill_loss not in losses.DISTILL_LOSSES:
        raise ConfigError(f"distill_loss {exp.distill_loss!r}: expected one of {', '.join(losses.DISTILL_LOSSES)}")

    def loss(labels, outputs):
        if isinstance(outputs, dict):
            return losses.distillation_loss(labels, outputs["student"], outputs["teacher"], exp.distill_loss,
                                            exp.distill_temperature, exp.hard_label_weight, exp.label_smoothing)
        return losses.softmax_cross_entropy(labels, outputs, exp.label_smoothing)

    def agree(labels, outputs, weights):
        same = tf.equal(tf.argmax(outputs["student"], -1), tf.argmax(outputs["teacher"], -1))
        return {"agree": tf.reduce_sum(tf.cast(same, tf.float32) * weights)}

    topk = metrics.topk_sums(metrics.topk_ks(exp.topk, exp.num_classes))
    return Task(loss=loss, eval_sums=topk, train_sums=agree)


def _scalars(report):
    return {k: v for k, v in report.items() if isinstance(v, (int, float))}


def eval_dataset_fn(exp: Experiment, samples: lists.Samples) -> Callable:
    return lambda ctx: pipeline.eval_dataset(exp.val_data, samples, exp.image_size, _eval_batch(exp), ctx)


def make_trainer(exp: Experiment, strategy, steps_per_epoch: int, model=None,
                 class_weights: Optional[Sequence[float]] = None) -> Trainer:
    """Model, schedule and optimizer under `strategy.scope()`, in a Trainer for `exp.model_dir`.

    `class_weights` [C]: the training CE's (`train_class_weights` resolves the recipe's).
    """
    with strategy.scope():
        model = model or (build_distiller(exp) if exp.teacher else build_model(exp))
        schedule = optim.build_schedule(exp.optimizer, exp.batch_size, steps_per_epoch, exp.epochs)
        optimizer = optim.build_optimizer(exp.optimizer, schedule,
                                          l2_exclude=models.l2_exclude_fn(model))
        if exp.precision == "mixed_float16":  # float16 gradients underflow without loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    loop = LoopConfig(epochs=exp.epochs, steps_per_epoch=steps_per_epoch, global_batch=exp.batch_size,
                      steps_per_loop=exp.steps_per_loop, checkpoint_every_steps=exp.checkpoint_every_steps,
                      keep_checkpoints=exp.keep_checkpoints, best_metric=exp.best_metric, verbose=exp.verbose,
                      eval_folded=exp.eval_folded)
    task = make_task(exp, class_weights)
    if task.collect is None:  # single-label: each image's label and top-1 for the confusion matrix summary
        task = dataclasses.replace(task, collect=metrics.predicted_classes)
    # A distiller's checkpoints hold the pair (resume); best_model holds the student alone.
    return Trainer(model, optimizer, task, strategy, exp.model_dir, loop,
                   saved_model=getattr(model, "student", None), summaries=summary_hooks(exp))


def summary_hooks(exp: Experiment) -> SummaryHooks:
    """TensorBoard during training (kclass.report.summaries): the first augmented batch, de-normalised
    with the train split's mean/std; at each eval the confusion matrix (single-label) or PR curves
    (multi-label) and the per-class table, with the validation label list's class names."""
    def first_batch(images, step):
        from kclass.report import summaries  # Matplotlib and TensorBoard's plugins: the chief only
        summaries.first_batch(images, exp.train_data.mean, exp.train_data.std, step)

    def eval_rows(rows, step):
        from kclass.export.spec import class_names
        from kclass.report import summaries
        names = class_names(exp.val_data.label_list, exp.num_classes)
        if exp.multilabel:
            summaries.multi_label_eval(rows["labels"], rows["scores"], names, step)
        else:
            summaries.single_label_eval(rows["labels"], rows["pred"], names, step)

    return SummaryHooks(first_batch=first_batch if exp.train_data is not None else None,
                        eval_rows=eval_rows if exp.val_data is not None else None)


def check(exp: Experiment) -> None:
    """Refuses, before anything is written or prepared, the mistakes a recipe shows by itself.

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


def _check_balance(exp: Experiment) -> None:
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


def train(exp: Experiment, strategy=None) -> Dict[str, float]:
    """Runs (or resumes) the recipe to its last epoch; returns the final eval metrics."""
    strategy = strategy or tf.distribute.get_strategy()
    check(exp)  # python -m kclass.train checks earlier still, before writing config.gin
    if exp.prepare is not None:
        exp.prepare()
    train_samples = read_split(exp, exp.train_data)
    val_samples = read_split(exp, exp.val_data) if exp.val_data is not None else None
    if exp.on_bad_image == "skip":
        train_samples = drop_undecodable(train_samples, exp.model_dir, "train")
        val_samples = val_samples and drop_undecodable(val_samples, exp.model_dir, "val")
    spe = pipeline.steps_per_epoch(len(train_samples), exp.batch_size, strategy.num_replicas_in_sync,
                                   exp.train_data.drop_last)
    class_weights = train_class_weights(exp, train_samples)
    trainer = make_trainer(exp, strategy, spe, class_weights=class_weights)
    if class_weights is not None and exp.verbose and trainer.chief:
        print(f"Experiment.class_weights={exp.class_weights!r}: {_describe_weights(class_weights)}", flush=True)
    os.makedirs(exp.model_dir, exist_ok=True)
    train_fn = lambda start, ctx: pipeline.train_dataset(  # noqa: E731
        exp.train_data, train_samples, exp.image_size, exp.batch_size, exp.num_classes, exp.seed, start, ctx)
    try:
        result = trainer.fit(train_fn, eval_dataset_fn(exp, val_samples) if val_samples else None)
    except tf.errors.OpError:  # the train loop names its own input errors: this is the validation set
        error = val_samples and undecodable_error(val_samples)
        if not error:
            raise
        raise error from None
    best_dir = os.path.join(exp.model_dir, "best_model")
    if exp.multilabel and val_samples and os.path.isdir(best_dir):
        # Every worker evaluates (collectives); only the chief writes.
        thresholds, _ = fit_thresholds(exp, best_dir, strategy, val_samples)
        if trainer.chief:
            write_thresholds(best_dir, thresholds)
    return result


def drop_undecodable(samples: lists.Samples, model_dir: Optional[str], split: str) -> lists.Samples:
    """Samples without the files that do not decode (on_bad_image='skip'); those are listed in
    MODEL_DIR/skipped_images_<split>.txt, or on stderr when `model_dir` is None (evaluation writes nothing).
    """
    bad = set(scan.undecodable(samples.paths))
    if not bad:
        return samples
    skipped = [samples.paths[i] for i in sorted(bad)]
    if model_dir is None:
        for path in skipped:
            print(f"skipped (undecodable): {path}", file=sys.stderr, flush=True)
        where = "listed above"
    else:
        where = os.path.join(model_dir, f"skipped_images_{split}.txt")
        atomic_write.text(where, "".join(f"{path}\n" for path in skipped))
        where = f"listed in {where}"
    print(f"on_bad_image=skip: {len(bad)} undecodable {split} image(s) skipped, {where}", flush=True)
    keep = [i for i in range(len(samples)) if i not in bad]
    return lists.Samples([samples.paths[i] for i in keep], samples.labels[keep], samples.source)


def undecodable_error(samples: lists.Samples) -> Optional[DataError]:
    """A one-line DataError naming the first file of `samples` that does not decode, or None."""
    bad = scan.undecodable(samples.paths)
    if not bad:
        return None
    more = f"; {len(bad) - 1} more of its files do not decode either" if len(bad) > 1 else ""
    return DataError(f"{samples.paths[bad[0]]} (listed in {samples.source}) cannot be decoded as an image{more}; "
                     "fix or remove it, or set Experiment.on_bad_image='skip' to leave such files out")


def indexed_eval_dataset_fn(exp: Experiment, samples: lists.Samples) -> Callable:
    """`eval_dataset_fn` whose batches also carry each row's position in `samples` (int64 [b]).

    The positions follow pipeline.eval_dataset's layout (list order padded to whole global batches,
    sharded per input pipeline, batched per replica); `ordered_rows` checks them against the labels.
    """
    global_batch = _eval_batch(exp)

    def fn(ctx):
        padded = -(-len(samples) // global_batch) * global_batch
        index = tf.data.Dataset.range(padded)
        if ctx and ctx.num_input_pipelines > 1:
            index = index.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        index = index.batch(pipeline.per_replica_batch(global_batch, ctx), drop_remainder=True)
        batches = pipeline.eval_dataset(exp.val_data, samples, exp.image_size, global_batch, ctx)
        return tf.data.Dataset.zip((batches, index)).map(lambda batch, i: (*batch, i))
    return fn


def ordered_rows(rows: Dict[str, Any], samples: lists.Samples) -> Dict[str, Any]:
    """Evaluator rows gathered with `index` (in replica/worker order) -> in `samples` order, checked."""
    order = np.argsort(rows["index"], kind="stable")
    rows = {k: v[order] for k, v in rows.items()}
    if not np.array_equal(rows["index"], np.arange(len(samples))) or not np.array_equal(
            np.asarray(rows["labels"]).reshape(len(samples), -1),
            np.asarray(samples.labels).reshape(len(samples), -1).astype(np.asarray(rows["labels"]).dtype)):
        raise RuntimeError("evaluation rows do not match the validation list: pipeline.eval_dataset's order "
                           "changed and indexed_eval_dataset_fn no longer follows it")
    return rows


def _evaluate(exp: Experiment, evaluator: Evaluator, samples: lists.Samples,
              dataset_fn: Optional[Callable] = None) -> Dict[str, float]:
    """`evaluator` over `samples`; an image that does not decode is named instead of a TF stack trace."""
    try:
        return evaluator(dataset_fn or eval_dataset_fn(exp, samples))
    except tf.errors.OpError:
        error = undecodable_error(samples)  # only on failure: a second decode pass costs nothing otherwise
        if error is None:
            raise
        raise error from None


def _val_samples(exp: Experiment):
    """(validation samples, how many undecodable ones on_bad_image='skip' left out)."""
    samples = read_split(exp, exp.val_data)
    if exp.on_bad_image != "skip":
        return samples, 0
    kept = drop_undecodable(samples, None, "val")
    if not len(kept):
        raise DataError(f"{exp.val_data.source}: none of its images decodes")
    return kept, len(samples) - len(kept)


def fit_thresholds(exp: Experiment, weights: str, strategy=None, samples: Optional[lists.Samples] = None):
    """Per-class F1-maximising thresholds [C] of `weights` on the validation split (or `samples`), and
    its metrics (with `images`, the count evaluated)."""
    strategy = strategy or tf.distribute.get_strategy()
    samples = _val_samples(exp)[0] if samples is None else samples
    with strategy.scope():
        model = build_model(exp, load_pretrained=False)
        load_weights(model, weights)
    evaluator = Evaluator(model, make_task(exp), strategy)
    _evaluate(exp, evaluator, samples)
    thresholds = metrics.fit_thresholds(evaluator.rows["labels"], evaluator.rows["scores"])
    report = metrics.multilabel_report(evaluator.rows["labels"], evaluator.rows["scores"], thresholds)
    return thresholds, dict(report, images=len(samples))


def write_thresholds(best_dir: str, thresholds):
    """`best_dir/thresholds.json`: {"thresholds": [C]}; predict and export read it (default 0.5)."""
    text = json.dumps({"thresholds": [float(t) for t in thresholds], "rule": "score >= threshold",
                       "fitted_on": "validation split, per-class max F1"}, indent=1)
    atomic_write.text(os.path.join(best_dir, THRESHOLDS_FILE), text + "\n")


def _model_and_val_split(exp: Experiment, weights: Optional[str], strategy):
    """(strategy, the recipe's model with `weights` loaded when given, validation samples, skipped files)."""
    strategy = strategy or tf.distribute.get_strategy()
    if exp.prepare is not None:
        exp.prepare()
    samples, skipped = _val_samples(exp)
    with strategy.scope():
        model = build_model(exp, load_pretrained=False)
        if weights:
            load_weights(model, weights)
    return strategy, model, samples, skipped


def fit_reject_threshold(exp: Experiment, weights: str, target_precision: float, strategy=None) -> Dict:
    """The max-probability threshold under which `weights` answer "unknown", fitted on the validation
    split so that the accepted images reach top-1 `target_precision` (metrics.fit_reject_threshold):
    {"reject_threshold", "precision", "coverage", "target_precision", "reached", "images"}."""
    if exp.multilabel:
        raise ConfigError("--fit_reject is for single-label recipes; multi-label ones fit per-class "
                          "thresholds (--fit_thresholds) and answer no label when no score reaches its own")
    if not 0.0 < target_precision <= 1.0:
        raise ConfigError(f"--target_precision {target_precision:g}: expected a precision in (0, 1]")
    strategy, model, samples, skipped = _model_and_val_split(exp, weights, strategy)
    evaluator = Evaluator(model, dataclasses.replace(make_task(exp), collect=metrics.prediction_rows), strategy)
    _evaluate(exp, evaluator, samples)
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


def evaluate(exp: Experiment, weights: Optional[str], strategy=None,
             report_dir: Optional[str] = None) -> Dict[str, float]:
    """Metrics of `weights` (any format kclass loads) on the recipe's validation split.

    `report_dir`: also write kclass.report's files there (the chief does), from the per-image rows
    this same evaluation gathered over every replica and worker.
    """
    strategy, model, samples, skipped = _model_and_val_split(exp, weights, strategy)
    task = make_task(exp)
    if report_dir and not exp.multilabel:  # multi-label tasks collect their labels and scores anyway
        task = dataclasses.replace(task, collect=metrics.prediction_rows)
    evaluator = Evaluator(model, task, strategy)
    result = _evaluate(exp, evaluator, samples, indexed_eval_dataset_fn(exp, samples) if report_dir else None)
    if report_dir and is_chief(strategy):
        write_report(exp, ordered_rows(evaluator.rows, samples), samples, report_dir)
    return dict(result, skipped=skipped) if exp.on_bad_image == "skip" else result


def write_report(exp: Experiment, rows: Dict[str, Any], samples: lists.Samples, report_dir: str) -> Dict:
    """kclass.report's files for evaluation `rows` in `samples` order; returns report.json's content."""
    from kclass.export.spec import class_names
    from kclass.report import multi_label, single_label  # Matplotlib only when a report is asked

    names = class_names(exp.val_data.label_list, exp.num_classes)
    if exp.multilabel:
        return multi_label.write(report_dir, rows["labels"], rows["scores"], names)
    return single_label.write(report_dir, rows["labels"], rows["pred"], rows["probs"], names, samples.paths)
