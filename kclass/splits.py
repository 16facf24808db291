"""A recipe's data splits: their Samples, and the validation split as evaluation batches."""

from typing import Any, Callable, Dict

import numpy as np
import tensorflow as tf

from kclass.data import lists, pipeline
from kclass.data.pipeline import DataConfig
from kclass.data.undecodable import drop_undecodable
from kclass.errors import ConfigError, DataError


def read_split(exp, cfg: DataConfig, check_files: bool = True) -> lists.Samples:
    """Samples of `cfg`, a split of recipe `exp` (`kclass.experiment.Experiment`); a distillation
    recipe's train split may hold unlabelled lines (label -1).

    `check_files=False` leaves missing and non-image files in (kclass.check_data reports them).
    """
    if cfg is None or not cfg.source:
        raise ConfigError("the recipe has no data source (set TRAIN_LIST / VAL_LIST)")
    unlabeled = bool(exp.teacher) and cfg is exp.train_data
    return lists.read_samples(cfg.source, cfg.data_root, exp.num_classes, exp.multilabel,
                              allow_unlabeled=unlabeled, check_files=check_files)


def val_split(exp, prepare: bool = False):
    """(validation samples, how many undecodable ones on_bad_image='skip' left out).

    `prepare`: run the recipe's `prepare` first (the demo recipe writes its data set on first use).
    """
    if prepare and exp.prepare is not None:
        exp.prepare()
    samples = read_split(exp, exp.val_data)
    if exp.on_bad_image != "skip":
        return samples, 0
    kept = drop_undecodable(samples, None, "val")
    if not len(kept):
        raise DataError(f"{exp.val_data.source}: none of its images decodes")
    return kept, len(samples) - len(kept)


def _eval_batch(exp):
    return exp.eval_batch_size or exp.batch_size


def eval_dataset_fn(exp, samples: lists.Samples) -> Callable:
    """`input_context -> dataset` of the validation batches of `samples` (as the engine takes it)."""
    return lambda ctx: pipeline.eval_dataset(exp.val_data, samples, exp.image_size, _eval_batch(exp), ctx)


def indexed_eval_dataset_fn(exp, samples: lists.Samples) -> Callable:
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
