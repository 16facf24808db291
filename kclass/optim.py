"""Optimisation with PaddleClas semantics: Momentum with coupled L2, per-iteration LR schedules."""

import dataclasses
import math
from typing import Callable, Optional, Sequence

import keras
import tensorflow as tf

from kclass.errors import ConfigError


@dataclasses.dataclass
class OptimizerConfig:
    """LR is for the global batch; with `reference_batch` set, it scales linearly to the real batch."""
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    l2: float = 1e-4
    schedule: str = "cosine"  # cosine | piecewise | constant
    warmup_epochs: float = 0.0
    warmup_start_lr: float = 0.0
    eta_min: float = 0.0
    decay_epochs: Sequence[float] = ()  # piecewise boundaries, in epochs
    values: Sequence[float] = ()  # piecewise LRs, one more than decay_epochs
    reference_batch: Optional[int] = None


class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from `start_lr` over `warmup_steps`, then `kind` over the remaining steps.

    cosine: lr = eta_min + 0.5 (base - eta_min)(1 + cos(pi k / T)), k counted after warmup, per
    iteration as PaddleClas's Cosine; piecewise: `values[i]` from `boundaries[i-1]` (steps) on.
    """

    def __init__(self, kind, base_lr, total_steps, warmup_steps=0, start_lr=0.0, eta_min=0.0,
                 boundaries=(), values=()):
        self.kind = kind
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.start_lr = float(start_lr)
        self.eta_min = float(eta_min)
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]

    def __call__(self, step):
        # float64, as Paddle computes its LR in Python: a float32 cosine is off by ~1e-8, which one step
        # of a float64 run (the fidelity reference) already amplifies into a 1% different loss; the
        # optimizer casts the LR to each variable's dtype.
        step = tf.cast(step, tf.float64)
        k = tf.maximum(step - self.warmup_steps, 0.0)
        if self.kind == "cosine":
            span = float(max(self.total_steps - self.warmup_steps, 1))
            k = tf.minimum(k, span)
            lr = self.eta_min + 0.5 * (self.base_lr - self.eta_min) * (1.0 + tf.cos(math.pi * k / span))
        elif self.kind == "piecewise":
            lr = tf.constant(self.values[0], tf.float64)
            for boundary, value in zip(self.boundaries, self.values[1:]):
                lr = tf.where(k >= boundary - self.warmup_steps, tf.constant(value, tf.float64), lr)
        else:
            lr = tf.constant(self.base_lr, tf.float64)
        if self.warmup_steps:
            ramp = self.start_lr + (self.base_lr - self.start_lr) * step / self.warmup_steps
            lr = tf.where(step < self.warmup_steps, ramp, lr)
        return lr

    def get_config(self):
        return {"kind": self.kind, "base_lr": self.base_lr, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "start_lr": self.start_lr, "eta_min": self.eta_min,
                "boundaries": self.boundaries, "values": self.values}


class Momentum(keras.optimizers.Optimizer):
    """Paddle's Momentum: v = mu v + (g + l2 w); w -= lr v  (nesterov: w -= lr (g' + mu v)).

    Keras's SGD folds the LR into the velocity (v = mu v - lr g), which differs whenever the LR
    changes; Paddle's form is kept so recipes carry over. `l2` is coupled (added to the gradient,
    like Paddle's L2Decay regularizer); variables for which `l2_exclude(var)` is true get none.
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, nesterov=False, l2=0.0,
                 l2_exclude: Optional[Callable] = None, name="momentum", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum
        self.nesterov = nesterov
        self.l2 = l2
        self.l2_exclude = l2_exclude

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]
        self._l2 = [0.0 if (self.l2_exclude and self.l2_exclude(v)) else self.l2 for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = tf.cast(learning_rate, variable.dtype)
        grad = tf.cast(gradient, variable.dtype)
        if self._l2[index]:
            grad = grad + self._l2[index] * variable
        # TF's ApplyMomentum has exactly Paddle's form (nesterov: w -= lr (g + mu v_new)); one kernel
        # instead of four elementwise ops and two assigns per variable.
        tf.raw_ops.ResourceApplyMomentum(var=variable.handle, accum=self.velocities[index].handle, lr=lr,
                                         grad=grad, momentum=tf.cast(self.momentum, variable.dtype),
                                         use_nesterov=self.nesterov)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov, "l2": self.l2})
        return config


def effective_lr(cfg: OptimizerConfig, global_batch: int) -> float:
    """The recipe's LR, linearly rescaled to `global_batch` when `reference_batch` is set."""
    return cfg.lr * global_batch / cfg.reference_batch if cfg.reference_batch else cfg.lr


def build_schedule(cfg: OptimizerConfig, global_batch: int, steps_per_epoch: int, epochs: int):
    lr = effective_lr(cfg, global_batch)
    if cfg.schedule not in ("cosine", "piecewise", "constant"):
        raise ConfigError(f"OptimizerConfig.schedule={cfg.schedule!r}: expected cosine, piecewise or constant")
    if cfg.schedule == "piecewise" and len(cfg.values) != len(cfg.decay_epochs) + 1:
        raise ConfigError("OptimizerConfig: piecewise needs len(values) == len(decay_epochs) + 1")
    return WarmupSchedule(cfg.schedule, lr, total_steps=epochs * steps_per_epoch,
                          warmup_steps=round(cfg.warmup_epochs * steps_per_epoch), start_lr=cfg.warmup_start_lr,
                          eta_min=cfg.eta_min, boundaries=[round(e * steps_per_epoch) for e in cfg.decay_epochs],
                          values=cfg.values)


def build_optimizer(cfg: OptimizerConfig, schedule, l2_exclude: Optional[Callable] = None) -> Momentum:
    return Momentum(schedule, momentum=cfg.momentum, nesterov=cfg.nesterov, l2=cfg.l2, l2_exclude=l2_exclude)
