"""The interface of a recipe's task: the engine's Task, plus the model training trains and what
TensorBoard shows of it beside the loop's scalars."""

import abc

from kclass import model_builder
from kclass.engine.summary_hooks import SummaryHooks
from kclass.engine.task import Task


class RecipeTask(Task):
    """A Task built from recipe `exp` (a `kclass.experiment.Experiment`): loss and metrics for the
    engine, and the model and summaries training needs."""

    def __init__(self, exp):
        self.exp = exp

    def build_training_model(self, load_pretrained: bool = True):
        """The model training optimises (call inside strategy.scope()): here the recipe's network,
        `model_builder.build_model`, which evaluation and export build too."""
        return model_builder.build_model(self.exp, load_pretrained)

    def saved_part(self, model):
        """What best_model keeps of the trained `model` (the trainer's `saved_model`): all of it."""
        return model

    def summary_hooks(self) -> SummaryHooks:
        """TensorBoard during training (kclass.report.summaries): the first augmented batch,
        de-normalised with the train split's mean/std; at each eval `eval_summary` of the gathered
        rows, with the validation label list's class names."""
        exp = self.exp
        return SummaryHooks(first_batch=self._first_batch if exp.train_data is not None else None,
                            eval_rows=self._eval_rows if exp.val_data is not None else None)

    @abc.abstractmethod
    def eval_summary(self, rows, names, step):
        """Writes the summaries of one evaluation's `collect` rows; `names` [C] are the class names."""

    def _first_batch(self, images, step):
        from kclass.report import summaries  # Matplotlib and TensorBoard's plugins: the chief only
        summaries.first_batch(images, self.exp.train_data.mean, self.exp.train_data.std, step)

    def _eval_rows(self, rows, step):
        from kclass.export.spec import class_names
        self.eval_summary(rows, class_names(self.exp.val_data.label_list, self.exp.num_classes), step)
