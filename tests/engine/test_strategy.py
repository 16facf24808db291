import json

import pytest
import tensorflow as tf

from kclass.engine import strategy
from kclass.errors import ConfigError


def test_kinds(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert isinstance(strategy.make_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    mirrored = strategy.make_strategy("mirrored", cpu_devices=2)
    assert isinstance(mirrored, tf.distribute.MirroredStrategy) and mirrored.num_replicas_in_sync == 2
    assert strategy.is_chief(mirrored)
    auto = strategy.make_strategy("auto")  # no GPU here, no cluster: one device
    assert auto.num_replicas_in_sync == 1


def test_bad_requests_are_one_line_errors(monkeypatch):
    with pytest.raises(ConfigError, match="expected one of"):
        strategy.make_strategy("horovod")
    with pytest.raises(ConfigError, match=r"--gpus=0,1: GPU\(s\) \[0, 1\] not found \(0 visible\)"):
        strategy.make_strategy("auto", gpus="0,1")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        strategy.make_strategy("auto")


def test_auto_picks_multi_worker_from_tf_config(monkeypatch):
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert strategy._tf_config_workers() == 2
