"""The recipe's network: the precision it is built under."""

import pytest

from kclass import experiment, model_builder


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(Exception, match="precision 'fp8'"):
        model_builder.build_model(experiment.Experiment(model="ResNet18_vd", num_classes=2, image_size=16,
                                                        precision="fp8"))
