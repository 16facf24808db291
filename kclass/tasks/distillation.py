"""Distillation (SSLD): a single-label student trained on a frozen teacher's outputs."""

from typing import Optional

import tensorflow as tf

from kclass import losses, model_builder, models
from kclass.errors import ConfigError, WeightsError
from kclass.tasks.classification import ClassificationTask


class DistillationTask(ClassificationTask):
    """Training outputs {"student", "teacher"}: `exp.distill_loss` (+ masked hard-label CE), and the
    train metric `agree` = share of images whose student top-1 is the teacher's (needs no labels).
    Evaluation outputs are the student's logits: CE and top-k against the validation labels, as
    ClassificationTask measures them (`rows` as there).
    """

    def __init__(self, exp, rows: Optional[str] = None):
        if exp.multilabel:
            raise ConfigError("distillation (Experiment.teacher) is implemented for single-label recipes only")
        if exp.distill_loss not in losses.DISTILL_LOSSES:
            raise ConfigError(f"distill_loss {exp.distill_loss!r}: expected one of {', '.join(losses.DISTILL_LOSSES)}")
        super().__init__(exp, rows=rows)

    def loss(self, labels, outputs):
        exp = self.exp
        if isinstance(outputs, dict):
            return losses.distillation_loss(labels, outputs["student"], outputs["teacher"], exp.distill_loss,
                                            exp.distill_temperature, exp.hard_label_weight, exp.label_smoothing)
        return losses.softmax_cross_entropy(labels, outputs, exp.label_smoothing)

    def train_sums(self, labels, outputs, weights):
        same = tf.equal(tf.argmax(outputs["student"], -1), tf.argmax(outputs["teacher"], -1))
        return {"agree": tf.reduce_sum(tf.cast(same, tf.float32) * weights)}

    def build_training_model(self, load_pretrained: bool = True):
        """The student (the recipe's network, built first so its init is the same as without a teacher)
        paired with the frozen `exp.teacher` holding `exp.teacher_weights`, as a Distiller (call inside
        strategy.scope()). The teacher's seeds continue the student's (its dropout's, in train mode)."""
        from kclass import weights  # imported late, as in model_builder.load_weights
        from kclass.models.distiller import Distiller

        exp = self.exp
        if not exp.teacher_weights:
            raise ConfigError(f"teacher {exp.teacher!r} has no weights: set Experiment.teacher_weights "
                              "(TEACHER_WEIGHTS), e.g. the best_model/ of the teacher's run")
        seeds = models.Seeds(exp.seed)
        student = model_builder.build_model(exp, load_pretrained, seed=seeds)
        # Frozen, so synchronised BN would only add collectives.
        teacher = model_builder.build_network(exp, exp.teacher, False, exp.teacher_kwargs, seed=seeds)
        try:  # never fine-tuning: a teacher with a fresh classifier would teach noise
            weights.load_weights(teacher, exp.teacher_weights)
        except WeightsError as e:
            raise WeightsError(f"TEACHER_WEIGHTS {e}") from None
        return Distiller(teacher, student, teacher_bn_frozen=exp.teacher_bn_frozen,
                         name=f"{exp.teacher}_distill_{exp.model}")

    def saved_part(self, model):
        """A distiller's checkpoints hold the pair (resume); best_model holds the student alone."""
        return model.student
