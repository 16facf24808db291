import csv
import json

import numpy as np
import pytest

from kclass.errors import ConfigError
from kclass.report import files


def test_prepare_dir_creates_nested_folders(tmp_path):
    assert files.prepare_dir(str(tmp_path / "a" / "b")) == str(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())  # probe removed


def test_prepare_dir_refuses_a_folder_it_cannot_make(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"report folder .*file/r: cannot write there \("):
        files.prepare_dir(str(tmp_path / "file" / "r"))


def test_csv_quotes_names_with_commas(tmp_path):
    files.write_csv(str(tmp_path / "t.csv"), ["name", "n"], [["a, b", 1], ["c", 2.5]])
    with open(tmp_path / "t.csv", newline="") as f:
        assert list(csv.reader(f)) == [["name", "n"], ["a, b", "1"], ["c", "2.5"]]


def test_json_has_no_nan_and_takes_numpy(tmp_path):
    files.write_json(str(tmp_path / "r.json"), {"ap": np.array([0.5, np.nan]), "n": np.int64(3),
                                                "x": np.float32(0.25), "inf": float("inf")})
    assert json.loads((tmp_path / "r.json").read_text()) == {"ap": [0.5, None], "n": 3, "x": 0.25, "inf": None}
