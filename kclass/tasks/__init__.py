"""What a recipe trains and measures, one class per kind of recipe (as TF Model Garden's tasks): the
loss, the metrics, the rows evaluation gathers, the TensorBoard summaries and the model training trains.

`base.RecipeTask` is the interface (the engine's `Task` and the rest); `for_experiment` picks the class.
"""

from typing import Optional, Sequence

from kclass.tasks.base import RecipeTask
from kclass.tasks.classification import ClassificationTask, describe_weights, train_class_weights  # noqa: F401
from kclass.tasks.distillation import DistillationTask
from kclass.tasks.multilabel import MultiLabelTask


def for_experiment(exp, class_weights: Optional[Sequence[float]] = None, rows: Optional[str] = None) -> RecipeTask:
    """The task of recipe `exp`: distillation when it has a teacher, else multi-label or single-label.

    `class_weights` [C] weigh a single-label recipe's training CE (`train_class_weights` resolves the
    recipe's); `rows` is what single-label evaluation gathers (see ClassificationTask; multi-label
    evaluation always gathers its labels and scores).
    """
    if exp.teacher:
        return DistillationTask(exp, rows)
    if exp.multilabel:
        return MultiLabelTask(exp)
    return ClassificationTask(exp, class_weights, rows)
