"""A run directory's `history.jsonl`: one JSON row per finished epoch (its mean training metrics and its
eval), rewritten atomically, so an interrupted run never leaves half a row."""

import json
import os

from kclass import atomic_write

HISTORY_FILE = "history.jsonl"


def read_history(run_dir):
    """The rows of `run_dir/history.jsonl`, one per finished epoch, oldest first ([] if none)."""
    path = os.path.join(run_dir, HISTORY_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_history(run_dir, row):
    """Adds (or, after a resume re-ran the epoch, replaces) `row` for its epoch; rewritten atomically."""
    rows = [r for r in read_history(run_dir) if r["epoch"] != row["epoch"]] + [row]
    rows.sort(key=lambda r: r["epoch"])
    atomic_write.text(os.path.join(run_dir, HISTORY_FILE), "".join(json.dumps(r) + "\n" for r in rows))
