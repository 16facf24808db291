"""The distillation task: the teacher it builds must come with weights that fit; its loss must exist."""

import pytest

from kclass import tasks
from kclass.errors import ConfigError, WeightsError
from kclass.tasks.distillation import DistillationTask
from tests.models.test_distiller import _exp, _tiny_cnn, teacher_weights  # noqa: F401 (a fixture)


def test_teacher_weights_must_fit(demo_data, tmp_path, teacher_weights):
    exp = _exp(demo_data, tmp_path, "w", model=_tiny_cnn(8), teacher=_tiny_cnn(16))
    with pytest.raises(ConfigError, match="has no weights"):
        DistillationTask(exp).build_training_model()
    exp.teacher_weights = teacher_weights
    exp.num_classes = 5  # skipping the classifier, as fine-tuning does, would leave a random teacher head
    with pytest.raises(WeightsError, match=r"^TEACHER_WEIGHTS .*: its classifier is for 6 classes, the model has 5"):
        DistillationTask(exp).build_training_model()
    exp.num_classes, exp.distill_loss = 6, "mse"
    with pytest.raises(ConfigError, match="distill_loss 'mse'"):
        tasks.for_experiment(exp)
