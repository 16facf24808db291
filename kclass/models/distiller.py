"""SSLD's teacher-student pair as one Keras model the shared training loop trains like any other.

`Distiller(teacher, student)`: images [N, H, W, 3] -> in training, {"student": [N, C], "teacher": [N, C]}
logits; in inference, the student's logits [N, C] alone, so evaluation, best_model and export see
the student (the teacher does no work there). Only the student's variables are trainable.

Teacher BatchNorm, the one deliberate difference from PaddleClas: by default (`teacher_bn_frozen=True`)
the teacher always runs in inference mode, so it normalises with the statistics it was trained with
and its outputs do not depend on the batch. PaddleClas release/2.1 puts the whole model, teacher
included, in train mode: the teacher's BN then normalises with each batch's statistics and its
moving averages drift towards the distillation data (gamma/beta and conv weights stay frozen).
`teacher_bn_frozen=False` reproduces that: the teacher is called with training=True (so a teacher with
dropout drops too, as in Paddle's train mode), its batch statistics are per replica (not synchronised).
"""

import keras
import tensorflow as tf

from kclass.models.decay import l2_exclude_fn


@keras.saving.register_keras_serializable(package="kclass")
class Distiller(keras.Model):
    """Frozen `teacher` + trainable `student`, both keras.Models mapping images to logits [N, C]."""

    def __init__(self, teacher, student, teacher_bn_frozen=True, **kwargs):
        super().__init__(**kwargs)
        self.teacher = teacher
        self.student = student
        self.teacher_bn_frozen = bool(teacher_bn_frozen)
        self._freeze_teacher()
        # The optimizer's L2 exemptions are the student's own (teacher variables never reach it).
        self.l2_exclude = l2_exclude_fn(student)
        # Both halves are built functional models; the pair has no variables of its own to create.
        self.built = teacher.built and student.built

    def _freeze_teacher(self):
        self.teacher.trainable = False  # every teacher variable non-trainable; BN in inference mode
        if not self.teacher_bn_frozen:
            # Keras runs BN with batch statistics only while the layer is trainable; its variables
            # stay frozen, so only the moving statistics change (PaddleClas's drift).
            for layer in _batch_norms(self.teacher):
                layer.trainable = True
                for variable in layer.trainable_variables:
                    variable.trainable = False

    @property
    def trainable(self):
        return super().trainable

    @trainable.setter
    def trainable(self, value):
        # Keras's setter recurses into sub-models; the teacher must stay frozen whatever is set here.
        keras.Model.trainable.fset(self, value)
        if hasattr(self, "teacher"):
            self._freeze_teacher()

    def call(self, images, training=False):
        student = self.student(images, training=training)
        if not training:
            return student
        teacher = self.teacher(images, training=not self.teacher_bn_frozen)
        return {"student": student, "teacher": tf.stop_gradient(teacher)}

    def get_config(self):
        config = super().get_config()
        config.update({"teacher": keras.saving.serialize_keras_object(self.teacher),
                       "student": keras.saving.serialize_keras_object(self.student),
                       "teacher_bn_frozen": self.teacher_bn_frozen})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teacher"] = keras.saving.deserialize_keras_object(config["teacher"])
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)


def _batch_norms(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _batch_norms(layer)
        elif isinstance(layer, keras.layers.BatchNormalization):
            yield layer


def restore_student(student, path) -> bool:
    """Loads the student half of a distillation run's checkpoint into `student`; False if `path` is
    not such a checkpoint (the caller then loads it as usual). Checkpoint keys: `model/student/...`.
    """
    from kclass.errors import WeightsError
    from kclass.weights import resolve

    kind, resolved = resolve(str(path))
    if kind != "checkpoint" or not any(name.startswith("model/student/")
                                       for name, _ in tf.train.list_variables(resolved)):
        return False
    try:
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(student=student)).restore(resolved)
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
        first = str(e).strip().splitlines()[0][:300]
        raise WeightsError(f"{resolved}: its student does not fit {student.name!r}: {first}") from None
    return True
