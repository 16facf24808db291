"""The training loop: a compiled multi-step `strategy.run` loop that works under every strategy.

Keras 3 `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so the loop is ours:
per-example losses are summed and divided by the GLOBAL batch on each replica, and the optimizer
all-reduces (sums) gradients, so N replicas compute exactly the 1-device gradient.
"""

import dataclasses
import math
import os
import time
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf

from kclass.engine import checkpoints, input_priority
from kclass.engine.evaluator import SUM, Evaluator, sums_to_metrics
from kclass.engine.history import write_history
from kclass.engine.progress import Progress
from kclass.engine.strategy import is_chief, task_id
from kclass.engine.summary_hooks import SummaryHooks
from kclass.engine.task import Task
from kclass.errors import DataError, UserError


class TrainingDiverged(UserError):
    """The loss became NaN/Inf; the last good checkpoint is kept."""


@dataclasses.dataclass
class LoopConfig:
    """How the loop runs: lengths in steps of the global batch."""
    epochs: int
    steps_per_epoch: int
    global_batch: int
    steps_per_loop: int = 10  # steps compiled into one tf.function call (fewer Python round trips)
    checkpoint_every_steps: Optional[int] = None  # besides every epoch end
    keep_checkpoints: int = 3
    best_metric: str = "top1"
    eval_every_epochs: int = 1
    eval_folded: bool = False  # evaluate a copy with BNs folded into the convs (what serving runs)
    low_priority_input: bool = True  # the train pipeline on private threads at nice 19 (`input_priority`)
    verbose: bool = True

    @property
    def total_steps(self):
        return self.epochs * self.steps_per_epoch


def _input_error(error, step):
    """A decode failure inside tf.data, as one line instead of a TF stack trace."""
    words = ("decode", "png", "jpeg", "bmp", "gif", "image")
    lines = [line.strip() for line in str(error.message).splitlines()]
    detail = next((line for line in lines if any(w in line.lower() for w in words) and "[[" not in line), None)
    if detail is None:
        return error
    return DataError(f"an image of the training list could not be decoded near step {step} ({detail[:200]}); "
                     "set Experiment.on_bad_image='skip' to drop such files (they are listed in the run "
                     "directory), or fix the file")


def weights_checksum(model) -> float:
    """Sum of |w| over the trainable weights, in float64: equal on workers that stayed in sync."""
    return float(sum(np.abs(np.asarray(v, np.float64)).sum() for v in model.trainable_weights))


class Trainer:
    """Trains `model` on `task` (loss and metrics) under `strategy`, in the run directory `run_dir`.

    Build model and optimizer inside `strategy.scope()`.
    `saved_model` is what best_model holds (the student of a distiller; the model itself otherwise).
    `summaries`: TensorBoard images and tables beyond the scalars (the evaluation rows they read are
    `task.collect`'s).
    """

    def __init__(self, model, optimizer, task: Task, strategy, run_dir: str, loop: LoopConfig, saved_model=None,
                 summaries: Optional[SummaryHooks] = None):
        self.model = model
        self.optimizer = optimizer
        self.task = task
        self.strategy = strategy
        self.run_dir = run_dir
        self.loop = loop
        self.saved_model = saved_model or model
        self.summaries = summaries or SummaryHooks()
        self.chief = is_chief(strategy)
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.best = tf.Variable(-np.inf, dtype=tf.float64, trainable=False, name="best")
            optimizer.build(model.trainable_variables)
        self.store = checkpoints.CheckpointStore(
            os.path.join(run_dir, "checkpoints"),
            dict(model=model, optimizer=optimizer, step=self.step, best=self.best),
            max_to_keep=loop.keep_checkpoints, chief=self.chief, worker_id=task_id(strategy))
        self._train_fn = None
        self._evaluator = None

    # ---- compiled steps -------------------------------------------------------------------------
    def _replica_train_step(self, images, labels):
        replicas = self.strategy.num_replicas_in_sync
        # The global batch of this step: B, or fewer at an epoch's end (every image once per epoch).
        count = tf.cast(tf.shape(images)[0], tf.float32)
        global_count = tf.distribute.get_replica_context().all_reduce(SUM, count)
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            per_example = self.task.loss(labels, outputs)
            loss = tf.reduce_sum(per_example) / global_count
            if self.model.losses:
                loss += tf.add_n(self.model.losses) / replicas
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        grads = tape.gradient(scaled, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        sums = {"loss": tf.reduce_sum(per_example), "count": count}
        sums.update(self.task.train_sums(labels, outputs, tf.ones_like(per_example)))
        return sums

    def train_function(self):
        """tf.function (iterator, steps) -> summed metrics of `steps` training steps."""
        # A function of its own: its one trace gives the loop both the structure of the sums it carries
        # and its body, so the model is traced once (twice cost ~10 s per ResNet-50 run).
        # No AutoGraph: the step has no Python control flow on tensors, and converting the model's and
        # the optimizer's code cost ~0.5 s of every run's start-up.
        @tf.function(autograph=False)
        def run_step(iterator):
            images, labels = next(iterator)
            sums = self.strategy.run(self._replica_train_step, args=(images, labels))
            return {k: self.strategy.reduce(SUM, v, axis=None) for k, v in sums.items()}

        @tf.function(reduce_retracing=True)
        def train_loop(iterator, steps):
            # One call site, so Grappler inlines and optimises the step once: a first step outside the
            # loop (to give AutoGraph the structure it carries) made every run's first call ~2 s
            # longer (MobileNetV3, tools/bench/RESULTS.md, 2026-12-03 evening).
            outputs = run_step.get_concrete_function(iterator).structured_outputs
            sums = {k: tf.zeros(v.shape, v.dtype) for k, v in outputs.items()}
            for _ in tf.range(steps):
                more = run_step(iterator)
                sums = {k: sums[k] + more[k] for k in sums}
            return sums

        return train_loop

    # ---- public API -----------------------------------------------------------------------------
    def evaluate(self, eval_dataset_fn: Callable) -> Dict[str, float]:
        """Metrics over the whole eval set; `eval_dataset_fn(input_context)` as in distribute."""
        if self._evaluator is None:
            self._evaluator = Evaluator(self.model, self.task, self.strategy, fold=self.loop.eval_folded)
        return self._evaluator(eval_dataset_fn)

    def restore(self) -> int:
        """Resumes from the newest checkpoint of the run directory; returns the step reached."""
        path = self.store.restore_latest()
        if path:
            self._log(f"resumed from {path} at step {int(self.step.numpy())}")
        return int(self.step.numpy())

    def fit(self, train_dataset_fn: Callable, eval_dataset_fn: Optional[Callable] = None):
        """Trains to `loop.epochs`, resuming where the run directory stopped.

        `train_dataset_fn(start_step, input_context)` returns the per-replica stream from `start_step`.
        Returns the last eval metrics (or {} when there is no eval set).
        """
        loop = self.loop
        start = self.restore()
        if self._train_fn is None:
            self._train_fn = self.train_function()
        writers = self._writers()
        progress = Progress(loop.total_steps, loop.steps_per_epoch, loop.epochs, loop.global_batch,
                            enabled=loop.verbose and self.chief)
        if start >= loop.total_steps:
            self._log(f"nothing to do: run already at step {start} of {loop.total_steps}")
            return {}
        low = loop.low_priority_input

        def train_input(input_context):
            stream = train_dataset_fn(start, input_context)
            return input_priority.with_private_threads(stream) if low else stream

        dataset = self.strategy.distribute_datasets_from_function(train_input)
        if start == 0 and self.summaries.first_batch is not None:
            self._first_batch_summary(dataset, writers)
        iterator = input_priority.low_priority_iter(dataset) if low else iter(dataset)
        step, last_eval = start, {}
        epoch_sums = {}  # this epoch's raw training sums (from the resume point when resumed mid-epoch)
        while step < loop.total_steps:
            steps = self._steps_until_boundary(step)
            began = time.perf_counter()
            try:
                sums = {k: float(v.numpy()) for k, v in self._train_fn(iterator, tf.constant(steps, tf.int64)).items()}
            except tf.errors.InvalidArgumentError as e:
                raise _input_error(e, step) from None
            seconds = time.perf_counter() - began
            epoch_sums = {k: epoch_sums.get(k, 0.0) + v for k, v in sums.items()}
            images = sums["count"]
            values = sums_to_metrics(sums)
            if not math.isfinite(values["loss"]):
                kept = (f"the last good checkpoint {self.store.latest} is kept" if self.store.latest else
                        "no checkpoint was written yet, so a re-run starts from scratch")
                raise TrainingDiverged(f"loss is {values['loss']} at step {step + steps}; stopped, {kept}. "
                                       "Lower LR or check the data.")
            step += steps
            self.step.assign(step)
            values["lr"] = float(self.optimizer.learning_rate.numpy()) if hasattr(
                self.optimizer.learning_rate, "numpy") else float(self.optimizer.learning_rate)
            rate = progress.update(step, seconds, images, values)
            self._scalars(writers, "train", step, dict(values, images_per_s=rate))
            epoch_end = step % loop.steps_per_epoch == 0
            epoch = step // loop.steps_per_epoch
            epoch_eval = {}
            if epoch_end and eval_dataset_fn is not None and (
                    epoch % loop.eval_every_epochs == 0 or step == loop.total_steps):
                last_eval = epoch_eval = self.evaluate(eval_dataset_fn)
                self._scalars(writers, "eval", step, last_eval)
                if writers and self.summaries.eval_rows is not None:
                    with writers["eval"].as_default():
                        self.summaries.eval_rows(self._evaluator.rows, step)
                progress.message(f"eval epoch {epoch}: " + " ".join(f"{k} {v:.4g}" for k, v in last_eval.items()))
                self._maybe_save_best(last_eval, epoch, step)
            if epoch_end:
                self._end_epoch(epoch, step, epoch_sums, epoch_eval, progress)
                epoch_sums = {}
            if epoch_end or (loop.checkpoint_every_steps and step % loop.checkpoint_every_steps == 0):
                self.store.save(step)
        if writers:
            for w in writers.values():
                w.flush()
        if loop.verbose:  # every worker: replicas that disagree show at a glance
            print(f"worker {task_id(self.strategy)} finished at step {step}, "
                  f"weights checksum {weights_checksum(self.model):.6f}", flush=True)
        return last_eval

    # ---- helpers --------------------------------------------------------------------------------
    def _end_epoch(self, epoch, step, sums, eval_metrics, progress):
        """Prints the epoch's mean training metrics and records them, with its eval, in history.jsonl."""
        images = int(round(sums["count"]))
        train = sums_to_metrics(dict(sums))
        progress.message(f"train epoch {epoch}: " + " ".join(f"{k} {v:.4g}" for k, v in train.items()))
        if self.chief:
            row = dict(epoch=epoch, step=step, train_images=images, train=train,
                       eval={k: float(v) for k, v in eval_metrics.items()})
            write_history(self.run_dir, row)

    def _steps_until_boundary(self, step):
        loop = self.loop
        limit = loop.steps_per_epoch - step % loop.steps_per_epoch
        if loop.checkpoint_every_steps:
            limit = min(limit, loop.checkpoint_every_steps - step % loop.checkpoint_every_steps)
        return max(1, min(loop.steps_per_loop, limit))

    def _maybe_save_best(self, metrics, epoch, step):
        name = self.loop.best_metric
        if name not in metrics:
            raise UserError(f"best_metric {name!r} is not an eval metric; have {', '.join(metrics)}")
        value = float(metrics[name])
        if value > float(self.best.numpy()):
            self.best.assign(value)
            if self.chief:
                checkpoints.save_best(self.saved_model, os.path.join(self.run_dir, "best_model"),
                                      dict(metric=name, value=value, epoch=epoch, step=step,
                                           metrics={k: float(v) for k, v in metrics.items()}))

    def _first_batch_summary(self, dataset, writers):
        """Hands the stream's first batch to `summaries.first_batch` (the chief's writer, step 0).

        A second iterator over the same distributed dataset replays step 0 exactly (the stream is
        seed-determined) without re-building the pipeline; every worker takes it, as fetching a batch
        of a distributed dataset may involve the other workers.
        """
        images, _ = next(iter(dataset))
        if writers:
            local = np.concatenate([np.asarray(x) for x in self.strategy.experimental_local_results(images)])
            with writers["train"].as_default():
                self.summaries.first_batch(local, 0)

    def _writers(self):
        if not self.chief:
            return {}
        return {split: tf.summary.create_file_writer(os.path.join(self.run_dir, "logs", split))
                for split in ("train", "eval")}

    @staticmethod
    def _scalars(writers, split, step, values):
        if not writers:
            return
        with writers[split].as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)

    def _log(self, text):
        if self.loop.verbose and self.chief:
            print(text, flush=True)
