"""history.jsonl: one row per finished epoch, a re-run epoch replacing its row."""

from kclass.engine.history import read_history, write_history


def test_history_rewrites_an_epoch_that_a_resume_ran_again(tmp_path):
    write_history(str(tmp_path), {"epoch": 1, "train": {"loss": 3.0}})
    write_history(str(tmp_path), {"epoch": 2, "train": {"loss": 2.0}})
    write_history(str(tmp_path), {"epoch": 2, "train": {"loss": 1.5}})
    assert [(r["epoch"], r["train"]["loss"]) for r in read_history(str(tmp_path))] == [(1, 3.0), (2, 1.5)]
