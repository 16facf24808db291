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
    assert strategy.describe(mirrored) == "MirroredStrategy: 2 replica(s) on CPU:0, CPU:1"
    assert strategy.describe(strategy.make_strategy("one_device")) == "OneDeviceStrategy: 1 replica(s) on CPU:0"
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
    assert strategy.tf_config_workers() == 2


@pytest.mark.parametrize("value, message", [
    ("{bad", "TF_CONFIG is not valid JSON: Expecting property name"),
    ("[1, 2]", "TF_CONFIG must be a JSON object"),
    ('{"cluster": 3}', "TF_CONFIG cluster must map job names to lists of \"host:port\", got 3"),
    ('{"cluster": {"worker": ["host1"]}}', "TF_CONFIG cluster must map job names"),
    ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": "worker"}', "TF_CONFIG task must be an object"),
    ('{"cluster": {"worker": ["h:1", "h:2"]}}', "TF_CONFIG task type None is not a job of the cluster (worker)"),
    ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 2}}',
     "TF_CONFIG task index 2: expected 0..1 (the cluster has 2 worker address(es))"),
])
def test_bad_tf_config_is_one_line_before_tf_reads_it(monkeypatch, value, message):
    monkeypatch.setenv("TF_CONFIG", value)
    for kind in ("auto", "multi_worker"):
        with pytest.raises(ConfigError) as e:
            strategy.make_strategy(kind)
        assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_cpu_devices_once_initialised_must_match():
    strategy.split_cpu(2)  # the test session split the CPU into 2 before TF initialised: nothing to do
    with pytest.raises(ConfigError, match=r"--cpu_devices=3: TensorFlow already runs on 2 CPU device\(s\)"):
        strategy.split_cpu(3)
    with pytest.raises(ConfigError, match="--cpu_devices=0: expected a positive number"):
        strategy.split_cpu(0)
    with pytest.raises(ConfigError, match="--gpus=a: expected GPU numbers"):
        strategy.configure_devices(gpus="a")
