"""tf.distribute strategy selection: one device, MirroredStrategy, MultiWorkerMirroredStrategy."""

import json
import os
from typing import Optional

import tensorflow as tf

from kclass.errors import ConfigError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def tf_config() -> dict:
    """The TF_CONFIG environment variable, checked: {"cluster": {job: ["host:port", ...]}, "task": {...}}."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object with \"cluster\" and \"task\", got {_short(text)}")
    cluster, task = config.get("cluster", {}), config.get("task", {})
    if not isinstance(cluster, dict) or not all(
            isinstance(hosts, list) and all(isinstance(h, str) and ":" in h for h in hosts)
            for hosts in cluster.values()):
        raise ConfigError(f"TF_CONFIG cluster must map job names to lists of \"host:port\", got "
                          f"{_short(json.dumps(cluster))}")
    if not isinstance(task, dict):
        raise ConfigError(f"TF_CONFIG task must be an object like {{\"type\": \"worker\", \"index\": 0}}, "
                          f"got {_short(json.dumps(task))}")
    if cluster:
        kind, index = task.get("type"), task.get("index")
        if kind not in cluster:
            raise ConfigError(f"TF_CONFIG task type {kind!r} is not a job of the cluster "
                              f"({', '.join(sorted(cluster))})")
        if not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
            raise ConfigError(f"TF_CONFIG task index {index!r}: expected 0..{len(cluster[kind]) - 1} "
                              f"(the cluster has {len(cluster[kind])} {kind} address(es))")
    return config


def _short(text, limit=80):
    return text if len(text) <= limit else text[:limit] + "..."


def tf_config_workers() -> int:
    cluster = tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def split_cpu(devices: int):
    """Splits the CPU into `devices` logical devices (tests and CPU users) before TF initialises them."""
    if devices < 1:
        raise ConfigError(f"--cpu_devices={devices}: expected a positive number of devices")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:  # listing logical devices would initialise them, after which they cannot be split
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:  # already initialised in this process (a test session splits the CPU first)
        have = len(tf.config.list_logical_devices("CPU"))
        if have != devices:
            raise ConfigError(f"--cpu_devices={devices}: TensorFlow already runs on {have} CPU device(s) "
                              "in this process") from None


def configure_devices(cpu_devices: Optional[int] = None, gpus: Optional[str] = None):
    """Applies --gpus ('0,1', like Paddle's --gpus) and --cpu_devices; call before TF runs any op."""
    if gpus is not None:
        physical = tf.config.list_physical_devices("GPU")
        try:
            wanted = [int(g) for g in str(gpus).split(",") if g.strip()]
        except ValueError:
            raise ConfigError(f"--gpus={gpus}: expected GPU numbers like 0,1,2,3") from None
        missing = [g for g in wanted if not 0 <= g < len(physical)]
        if missing:
            raise ConfigError(f"--gpus={gpus}: GPU(s) {missing} not found ({len(physical)} visible)")
        tf.config.set_visible_devices([physical[g] for g in wanted], "GPU")
    if cpu_devices is not None:
        split_cpu(cpu_devices)


def make_strategy(kind: str = "auto", cpu_devices: Optional[int] = None, gpus: Optional[str] = None):
    """Returns the strategy for `kind`, after `configure_devices(cpu_devices, gpus)`."""
    if kind not in STRATEGIES:
        raise ConfigError(f"--strategy={kind!r}: expected one of {', '.join(STRATEGIES)}")
    if kind in ("auto", "multi_worker"):
        workers = tf_config_workers()  # checks TF_CONFIG before TF parses it (with a stack trace)
    configure_devices(cpu_devices, gpus)
    if kind == "auto":
        kind = "multi_worker" if workers > 1 else "mirrored"
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpu_devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpu_logical = [d.name for d in tf.config.list_logical_devices("CPU")]
    if kind == "mirrored":
        devices = gpu_devices or (cpu_logical if cpu_devices and cpu_devices > 1 else [])
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.OneDeviceStrategy(gpu_devices[0] if gpu_devices else cpu_logical[0])


def describe(strategy) -> str:
    """One line: the strategy and the devices it runs on."""
    devices = getattr(strategy.extended, "worker_devices", ())
    names = ", ".join(d.rsplit("/device:", 1)[-1] for d in devices)
    return (f"{type(strategy).__name__}: {strategy.num_replicas_in_sync} replica(s)"
            + (f" on {names}" if names else ""))


def is_chief(strategy) -> bool:
    """True for the process that writes checkpoints, logs and best_model."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def task_id(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None and resolver.task_type else 0
