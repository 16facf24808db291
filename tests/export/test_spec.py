"""kclass.export.spec: the reject threshold beside the weights (or given) reaches the ServingSpec."""

import json

import pytest

from kclass.errors import ConfigError, WeightsError
from kclass.export.spec import REJECT_FILE, spec_from_experiment
from tests.serving.exported import demo_experiment


def test_reject_threshold_beside_the_weights_or_given(tmp_path):
    (tmp_path / "label_list.txt").write_text("".join(f"{i} c{i}\n" for i in range(6)))
    exp = demo_experiment(str(tmp_path))
    best = tmp_path / "best_model"
    best.mkdir()
    assert spec_from_experiment(exp, str(best)).reject_threshold is None  # no file: outputs unchanged
    (best / REJECT_FILE).write_text(json.dumps({"threshold": 0.625}))
    assert spec_from_experiment(exp, str(best)).reject_threshold == 0.625
    assert spec_from_experiment(exp, str(best / "model.weights.h5")).reject_threshold == 0.625
    given = tmp_path / "other.json"
    given.write_text(json.dumps({"threshold": 0.25}))
    assert spec_from_experiment(exp, str(best), reject_file=str(given)).reject_threshold == 0.25
    given.write_text(json.dumps({"threshold": 1.5}))
    with pytest.raises(WeightsError, match="must lie in"):
        spec_from_experiment(exp, str(best), reject_file=str(given))
    with pytest.raises(ConfigError, match="single-label"):
        spec_from_experiment(demo_experiment(str(tmp_path), multilabel=True), reject_file=str(best / REJECT_FILE))
    # A multi-label model ignores a reject file beside its weights: it has per-class thresholds.
    assert spec_from_experiment(demo_experiment(str(tmp_path), multilabel=True), str(best)).reject_threshold is None
