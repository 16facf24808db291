"""Timing shared by the peers' scripts (stdlib only: it runs in the timm and the PaddleClas venvs)."""

import statistics
import time


def median_rate(run, steps, repeats, images_per_step):
    """Median images/s of `repeats` timed runs of `steps` calls to `run`, after one warm-up call."""
    run()
    rates = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(steps):
            run()
        rates.append(steps * images_per_step / (time.perf_counter() - began))
    return statistics.median(rates)
