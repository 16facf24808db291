"""A recipe (plain dataclasses) and the runs it drives: training, and evaluation of weights.

This is what the CLIs run after Gin has filled an `Experiment`; it can be used without Gin. What a run
optimises and measures is its task's (`kclass.tasks`); the checks a recipe passes first are
`kclass.recipe_check`'s.
"""

import dataclasses
import os
from typing import Any, Callable, Dict, Optional, Sequence, Union

import keras
import tensorflow as tf

from kclass import models, optim, splits, tasks, thresholds
from kclass.data import lists, pipeline
from kclass.data.pipeline import DataConfig
from kclass.data.undecodable import drop_undecodable, named_on_failure
from kclass.engine.strategy import is_chief
from kclass.engine.evaluator import Evaluator
from kclass.engine.trainer import LoopConfig, Trainer
from kclass.model_builder import model_with_weights
from kclass.recipe_check import check


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
    low_priority_input: bool = True  # the train pipeline at nice 19: the step first on a few cores
    # TF's op pools, set by `python -m kclass.train` before TF starts (0: TF's default, one per core);
    # None: one intra-op thread for a small CPU step, else TF's default (`kclass.engine.op_threads`).
    intra_op_threads: Optional[int] = None
    inter_op_threads: int = 0
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


def make_trainer(exp: Experiment, strategy, steps_per_epoch: int, model=None,
                 class_weights: Optional[Sequence[float]] = None) -> Trainer:
    """Model, schedule and optimizer under `strategy.scope()`, in a Trainer for `exp.model_dir`.

    `class_weights` [C]: the training CE's (`tasks.train_class_weights` resolves the recipe's). During
    training, single-label evaluation gathers each image's label and top-1 (the confusion matrix summary).
    """
    task = tasks.for_experiment(exp, class_weights, rows="classes")
    with strategy.scope():
        model = model or task.build_training_model()
        schedule = optim.build_schedule(exp.optimizer, exp.batch_size, steps_per_epoch, exp.epochs)
        optimizer = optim.build_optimizer(exp.optimizer, schedule,
                                          l2_exclude=models.l2_exclude_fn(model))
        if exp.precision == "mixed_float16":  # float16 gradients underflow without loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    loop = LoopConfig(epochs=exp.epochs, steps_per_epoch=steps_per_epoch, global_batch=exp.batch_size,
                      steps_per_loop=exp.steps_per_loop, checkpoint_every_steps=exp.checkpoint_every_steps,
                      keep_checkpoints=exp.keep_checkpoints, best_metric=exp.best_metric, verbose=exp.verbose,
                      eval_folded=exp.eval_folded, low_priority_input=exp.low_priority_input)
    return Trainer(model, optimizer, task, strategy, exp.model_dir, loop,
                   saved_model=task.saved_part(model), summaries=task.summary_hooks())


def train(exp: Experiment, strategy=None) -> Dict[str, float]:
    """Runs (or resumes) the recipe to its last epoch; returns the final eval metrics."""
    strategy = strategy or tf.distribute.get_strategy()
    check(exp)  # python -m kclass.train checks earlier still, before writing config.gin
    if exp.prepare is not None:
        exp.prepare()
    train_samples = splits.read_split(exp, exp.train_data)
    val_samples = splits.read_split(exp, exp.val_data) if exp.val_data is not None else None
    if exp.on_bad_image == "skip":
        train_samples = drop_undecodable(train_samples, exp.model_dir, "train")
        val_samples = val_samples and drop_undecodable(val_samples, exp.model_dir, "val")
    spe = pipeline.steps_per_epoch(len(train_samples), exp.batch_size, strategy.num_replicas_in_sync,
                                   exp.train_data.drop_last)
    class_weights = tasks.train_class_weights(exp, train_samples)
    trainer = make_trainer(exp, strategy, spe, class_weights=class_weights)
    if class_weights is not None and exp.verbose and trainer.chief:
        print(f"Experiment.class_weights={exp.class_weights!r}: {tasks.describe_weights(class_weights)}", flush=True)
    os.makedirs(exp.model_dir, exist_ok=True)
    train_fn = lambda start, ctx: pipeline.train_dataset(  # noqa: E731
        exp.train_data, train_samples, exp.image_size, exp.batch_size, exp.num_classes, exp.seed, start, ctx)
    # The train loop names its own input errors: those named here are the validation set's.
    with named_on_failure(val_samples):
        result = trainer.fit(train_fn, splits.eval_dataset_fn(exp, val_samples) if val_samples else None)
    best_dir = os.path.join(exp.model_dir, "best_model")
    if exp.multilabel and val_samples and os.path.isdir(best_dir):
        # Every worker evaluates (collectives); only the chief writes.
        fitted, _ = thresholds.fit_thresholds(exp, best_dir, strategy, val_samples)
        if trainer.chief:
            thresholds.write_thresholds(best_dir, fitted)
    return result


def evaluate(exp: Experiment, weights: Optional[str], strategy=None,
             report_dir: Optional[str] = None) -> Dict[str, float]:
    """Metrics of `weights` (any format kclass loads) on the recipe's validation split.

    `report_dir`: also write kclass.report's files there (the chief does), from the per-image rows
    this same evaluation gathered over every replica and worker.
    """
    strategy = strategy or tf.distribute.get_strategy()
    samples, skipped = splits.val_split(exp, prepare=True)
    model = model_with_weights(exp, weights, strategy)
    # Multi-label tasks gather their labels and scores anyway.
    evaluator = Evaluator(model, tasks.for_experiment(exp, rows="probabilities" if report_dir else None), strategy)
    with named_on_failure(samples):
        result = evaluator(splits.indexed_eval_dataset_fn(exp, samples) if report_dir
                           else splits.eval_dataset_fn(exp, samples))
    if report_dir and is_chief(strategy):
        write_report(exp, splits.ordered_rows(evaluator.rows, samples), samples, report_dir)
    return dict(result, skipped=skipped) if exp.on_bad_image == "skip" else result


def write_report(exp: Experiment, rows: Dict[str, Any], samples: lists.Samples, report_dir: str) -> Dict:
    """kclass.report's files for evaluation `rows` in `samples` order; returns report.json's content."""
    from kclass.export.spec import class_names
    from kclass.report import multi_label, single_label  # Matplotlib only when a report is asked

    names = class_names(exp.val_data.label_list, exp.num_classes)
    if exp.multilabel:
        return multi_label.write(report_dir, rows["labels"], rows["scores"], names)
    return single_label.write(report_dir, rows["labels"], rows["pred"], rows["probs"], names, samples.paths)
