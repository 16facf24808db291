"""TF's op thread pools for a run: one intra-op thread when a CPU step's ops are too small to split.

TF splits an op over its intra-op pool (oneDNN's primitives included) whatever its size. On a small step
the hand-off costs more than the split saves: MobileNetV3's step at 32 px, batch 64, waited ~1,400 times
per step for a pool thread (voluntary context switches) and ran ~20 % slower than with one intra-op
thread, while the inter-op pool kept both cores busy with independent ops (input and weight gradients,
the optimizer's updates). From 4x the pixels per step on, splitting wins (tools/bench/RESULTS.md,
2026-12-04 evening). The pools are fixed when TF starts: set them before the first op.
"""

import os
from typing import Optional, Tuple

import tensorflow as tf

# Input pixels per replica step (batch x side^2) up to which one intra-op thread runs the step: 64
# images of 32x32. Measured on 2 cores: 2x this gave MobileNetV3 +5 % and 4x gave it -5 to -7 %.
SMALL_STEP_PIXELS = 64 * 32 * 32


def auto_intra_op_threads(per_replica_batch: int, image_size: int, on_gpu: bool = False) -> int:
    """1 for a CPU step of at most SMALL_STEP_PIXELS input pixels per replica, else 0 (TF's: one per core)."""
    return 1 if not on_gpu and per_replica_batch * image_size ** 2 <= SMALL_STEP_PIXELS else 0


def set_op_threads(intra: int, inter: int) -> bool:
    """Sizes TF's pools (0: TF's default); False, changing nothing, once TF runs with other sizes."""
    threading = tf.config.threading
    if (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()) == (intra, inter):
        return True
    try:
        threading.set_intra_op_parallelism_threads(intra)
        threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # TF already runs (a notebook, a test session): its pools stay as they are
        return False
    return True


def configure(batch_size: int, image_size: int, replicas: int, intra: Optional[int] = None,
              inter: int = 0) -> Tuple[int, int, bool]:
    """Sets the pools for a run of global `batch_size` over `replicas`; `intra` None picks it (see above).

    Returns (intra, inter, applied); GPUs are listed without starting TF. TF_NUM_INTRAOP_THREADS, when
    set, wins over the automatic choice.
    """
    if intra is None and os.environ.get("TF_NUM_INTRAOP_THREADS"):
        intra = 0
    if intra is None:
        on_gpu = bool(tf.config.list_physical_devices("GPU"))
        intra = auto_intra_op_threads(batch_size // max(replicas, 1), image_size, on_gpu)
    return intra, inter, set_op_threads(intra, inter)


def describe(intra: int, inter: int, applied: bool) -> str:
    """One line for the run's log."""
    name = lambda n: "TF's default" if n == 0 else str(n)  # noqa: E731
    line = f"op threads: intra-op {name(intra)}, inter-op {name(inter)}"
    return line if applied else line + " not applied (TensorFlow was already running)"
