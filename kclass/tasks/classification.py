"""Single-label classification: softmax cross-entropy, optionally class-weighted, and top-k accuracy."""

from typing import Optional, Sequence

import numpy as np

from kclass import losses, metrics
from kclass.data import balance
from kclass.tasks.base import RecipeTask

# What evaluation gathers per image, by the `rows` a task is made with.
_COLLECT = {None: None, "classes": metrics.predicted_classes, "probabilities": metrics.prediction_rows}


class ClassificationTask(RecipeTask):
    """Softmax CE and top-k (no train top-k under a mix op, as PaddleClas); `class_weights` [C] (see
    `train_class_weights`) weigh the training CE, evaluation reports the plain one.

    `rows`: what evaluation gathers per image. None: nothing; "classes": the label and the top-1 class
    (the confusion matrix TensorBoard shows during training); "probabilities": those and the softmax
    [N, C] (evaluation reports, the reject threshold).
    """

    def __init__(self, exp, class_weights: Optional[Sequence[float]] = None, rows: Optional[str] = None):
        super().__init__(exp)
        if rows not in _COLLECT:
            raise ValueError(f"rows={rows!r}: expected one of {list(_COLLECT)}")
        self.class_weights = None if class_weights is None else np.asarray(class_weights, np.float32)
        self._topk = metrics.topk_sums(metrics.topk_ks(exp.topk, exp.num_classes))
        self._mixed = exp.train_data is not None and exp.train_data.mix_op is not None
        self._collect = _COLLECT[rows]

    def loss(self, labels, logits):
        return losses.softmax_cross_entropy(labels, logits, self.exp.label_smoothing, self.class_weights)

    def eval_loss(self, labels, logits):
        return losses.softmax_cross_entropy(labels, logits, self.exp.label_smoothing)

    def eval_sums(self, labels, logits, weights):
        return self._topk(labels, logits, weights)

    def train_sums(self, labels, logits, weights):
        return {} if self._mixed else self._topk(labels, logits, weights)

    def collect(self, labels, logits):
        return {} if self._collect is None else self._collect(labels, logits)

    def eval_summary(self, rows, names, step):
        from kclass.report import summaries  # Matplotlib and TensorBoard's plugins: the chief only
        summaries.single_label_eval(rows["labels"], rows["pred"], names, step)


def train_class_weights(exp, train_samples) -> Optional[np.ndarray]:
    """The training CE's class weights float [C] for `exp.class_weights` (None: unweighted).

    'balanced' is computed from `train_samples` (lists.Samples), the images training will really see.
    """
    if exp.class_weights is None:
        return None
    if isinstance(exp.class_weights, str):
        return balance.balanced_weights(train_samples.labels, exp.num_classes)
    return np.asarray(exp.class_weights, np.float64)


def describe_weights(weights: np.ndarray) -> str:
    """One line on class weights [C]: their range among the classes that count, and those that weigh 0."""
    present = weights[weights > 0]
    empty = np.flatnonzero(weights == 0)
    return (f"class weights from {present.min():.3g} to {present.max():.3g}"
            + (f"; {len(empty)} class(es) weigh 0: {empty.tolist()[:10]}" if len(empty) else ""))
