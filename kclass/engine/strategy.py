"""tf.distribute strategy selection: one device, MirroredStrategy, MultiWorkerMirroredStrategy."""

import json
import os
from typing import Optional

import tensorflow as tf

from kclass.errors import ConfigError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def _tf_config_workers() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def split_cpu(devices: int):
    """Splits the CPU into `devices` logical devices (tests and CPU users); call before any TF op."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.list_logical_devices("CPU")) == devices:
        return
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)


def make_strategy(kind: str = "auto", cpu_devices: Optional[int] = None, gpus: Optional[str] = None):
    """Returns the strategy for `kind`; `gpus` ('0,1') restricts visible GPUs like Paddle's --gpus."""
    if kind not in STRATEGIES:
        raise ConfigError(f"--strategy={kind!r}: expected one of {', '.join(STRATEGIES)}")
    if gpus is not None:
        physical = tf.config.list_physical_devices("GPU")
        wanted = [int(g) for g in str(gpus).split(",") if g.strip()]
        missing = [g for g in wanted if g >= len(physical)]
        if missing:
            raise ConfigError(f"--gpus={gpus}: GPU(s) {missing} not found ({len(physical)} visible)")
        tf.config.set_visible_devices([physical[g] for g in wanted], "GPU")
    if cpu_devices:
        split_cpu(cpu_devices)
    if kind == "auto":
        kind = "multi_worker" if _tf_config_workers() > 1 else "mirrored"
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpu_devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpu_logical = [d.name for d in tf.config.list_logical_devices("CPU")]
    if kind == "mirrored":
        devices = gpu_devices or (cpu_logical if cpu_devices and cpu_devices > 1 else [])
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.OneDeviceStrategy(gpu_devices[0] if gpu_devices else cpu_logical[0])


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
