"""Evaluation under any strategy: metric sums over a padded eval set, reduced over replicas and workers,
and the per-image rows a task gathers (for mAP, AUC, thresholds and reports)."""

from typing import Callable, Dict

import numpy as np
import tensorflow as tf

from kclass.engine.task import Task
from kclass.layers.fold_batch_norm import fold_batch_norms, refold

SUM = tf.distribute.ReduceOp.SUM


def sums_to_metrics(sums: Dict[str, float], prefix_count="count") -> Dict[str, float]:
    """{name: sum} -> {name: sum / count}, `prefix_count` removed (a count of 0 divides by 1)."""
    count = max(sums.pop(prefix_count), 1.0)
    return {k: v / count for k, v in sums.items()}


class Evaluator:
    """Metrics over a padded eval set (weight-0 rows are padding), reduced over replicas and workers.

    `fold`: run a copy of the model with its BNs folded into the convs (`fold_batch_norms`), refreshed
    from the model's weights at every call; the same outputs up to float rounding, fewer ops.
    """

    def __init__(self, model, task: Task, strategy, fold: bool = False):
        self.model = model
        self.task = task
        self.strategy = strategy
        self.fold = fold
        self._net = None if fold else model  # what the eval step runs
        self.rows = {}  # the last call's gathered per-image rows (padding removed), for thresholds etc.

        @tf.function(reduce_retracing=True)
        def eval_step(batch):
            sums, rows = strategy.run(self._replica_step, args=batch)
            sums = {k: strategy.reduce(SUM, v, axis=None) for k, v in sums.items()}
            return sums, {k: strategy.gather(v, axis=0) for k, v in rows.items()}
        self._step = eval_step

    def _replica_step(self, images, labels, weights, index=None):
        outputs = self._net(images, training=False)
        sums = self.task.eval_sums(labels, outputs, weights)
        sums["count"] = tf.reduce_sum(weights)
        sums["loss"] = tf.reduce_sum(self.task.eval_loss(labels, outputs) * weights)
        rows = dict(self.task.collect(labels, outputs))
        if index is not None:  # a 4th batch element: each row's position in the eval list [b]
            rows["index"] = index
        if rows:
            rows["weight"] = weights
        return sums, rows

    def __call__(self, eval_dataset_fn: Callable) -> Dict[str, float]:
        """`eval_dataset_fn(input_context)` yields (images, labels, weights[, index]); returns the metrics.

        `self.rows` then holds `task.collect`'s rows and the optional `index`, padding removed.
        """
        if self.fold and self._net is None:
            with self.strategy.scope():
                self._net = fold_batch_norms(self.model)
        elif self.fold:
            refold(self.model, self._net)
        dataset = self.strategy.distribute_datasets_from_function(eval_dataset_fn)
        totals, rows = None, []
        for batch in dataset:
            sums, batch_rows = self._step(batch)
            sums = {k: v.numpy().astype(np.float64) for k, v in sums.items()}
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
            rows.append({k: v.numpy() for k, v in batch_rows.items()})
        images = int(totals["count"])
        result = sums_to_metrics(dict(totals))
        if rows[0]:
            keep = np.concatenate([r["weight"] for r in rows]) > 0
            self.rows = {k: np.concatenate([r[k] for r in rows])[keep] for k in rows[0] if k != "weight"}
        result.update(self.task.summarize(self.rows))
        result["images"] = images
        return result
