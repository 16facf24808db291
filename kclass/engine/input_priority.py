"""The training input pipeline at low CPU priority, so the step never waits for a core it holds.

On a few CPU cores the step's threads and tf.data's share the machine: whenever the pipeline decodes
and crops while the step wants both cores, an op of the step waits. Run at nice 19, the pipeline gets
the cores the step leaves idle between its ops (MobileNetV3 at 32 px on 2 cores uses ~1.6 of them), and
its prefetched batches absorb the wait. Only scheduling changes: the stream is the same, element for
element.

How: tf.data runs a dataset's functions on its private thread pool when the dataset has one, and the
pool's threads are created with the iterator. Linux threads inherit the nice value of the thread that
creates them, so the iterator is created on a short-lived thread that first lowers its own priority.
An unprivileged thread cannot raise its priority again, which is why the caller's thread is not used.
"""

import os
import threading

import tensorflow as tf

LOWEST_PRIORITY = 19  # nice value; the kernel's weight for it is ~1.5 % of a default thread's


def with_private_threads(dataset: tf.data.Dataset, threads: int = 0) -> tf.data.Dataset:
    """`dataset` running its functions on a private pool of `threads` threads (0: one per usable core)."""
    options = tf.data.Options()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    options.threading.private_threadpool_size = threads or usable or 1
    return dataset.with_options(options)


def low_priority_iter(dataset):
    """`iter(dataset)`, with the threads the iterator creates (its private pool) at nice 19.

    `dataset`: a tf.data or distributed dataset. Where the priority cannot be lowered (not Linux), the
    iterator is the plain one.
    """
    result = {}

    def create():
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
        except (AttributeError, OSError):
            pass
        try:
            result["iterator"] = iter(dataset)
        except BaseException as e:  # re-raised in the caller's thread
            result["error"] = e

    thread = threading.Thread(target=create, name="kclass-input-iterator")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["iterator"]
