"""The report's folder and its plain files (CSV, JSON)."""

import csv
import json
import math
import os
import tempfile
from typing import Iterable, Sequence

import numpy as np

from kclass.errors import ConfigError


def prepare_dir(path: str) -> str:
    """Creates `path` if needed and checks a file can be written in it (before any model runs).

    Raises ConfigError naming the folder and the reason.
    """
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ConfigError(f"report folder {path}: cannot write there ({e.strerror or e})") from None
    return path


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    """A CSV (quoted where needed, so class names may hold commas); floats written in full."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def json_safe(value):
    """`value` with NaN/inf floats as None (JSON has no NaN) and NumPy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(json_safe(value), f, indent=1, allow_nan=False)
        f.write("\n")
