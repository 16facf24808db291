"""Reading .pdparams safely: arrays come back, code never runs."""

import os
import pickle

import numpy as np
import pytest

from kclass.errors import WeightsError
from kclass.weights import read_pdparams, write_pdparams
from kclass.weights.pdparams import NAME_TABLE_KEY


class _Exploit:
    """Pickles as a call of `func(*args)`: what a malicious weights file does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _malicious(tmp_path, func, *args):
    path = tmp_path / "evil.pdparams"
    payload = {"conv1.conv.weight": np.zeros((2, 3, 3, 3), "float32"), "x": _Exploit(func, *args)}
    path.write_bytes(pickle.dumps(payload, protocol=4))
    return path


def test_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = _malicious(tmp_path, os.system, f"touch {marker}")
    with pytest.raises(WeightsError, match=r"refused.*posix\.system|refused.*os\.system") as info:
        read_pdparams(path)
    assert str(path) in str(info.value)
    assert not marker.exists()
    # The same file through plain pickle does run the command: the test exercises a real exploit.
    with open(path, "rb") as f:
        pickle.load(f)
    assert marker.exists()


@pytest.mark.parametrize("func,args", [(eval, ("1+1",)), (getattr, (1, "real")),
                                       (__import__, ("subprocess",))])
def test_other_globals_are_refused(tmp_path, func, args):
    with pytest.raises(WeightsError, match="refused to unpickle: it asks for the global builtins"):
        read_pdparams(_malicious(tmp_path, func, *args))


def test_round_trip_and_paddle_save_layout(tmp_path):
    state = {"a.weight": np.arange(6, dtype="float32").reshape(2, 3), "a.bias": np.ones(3, "float32")}
    write_pdparams(state, tmp_path / "w.pdparams")
    back = read_pdparams(tmp_path / "w.pdparams")
    assert set(back) == set(state) and all(np.array_equal(back[k], state[k]) for k in state)
    # paddle.save stores Tensors as (name, array) tuples next to a name table; both are unwrapped.
    saved = {"a.weight": ("linear_0.w_0", state["a.weight"]), NAME_TABLE_KEY: {"a.weight": "linear_0.w_0"}}
    (tmp_path / "p.pdparams").write_bytes(pickle.dumps(saved, protocol=2))
    back = read_pdparams(tmp_path / "p.pdparams")
    assert list(back) == ["a.weight"] and np.array_equal(back["a.weight"], state["a.weight"])


@pytest.mark.parametrize("content,match", [(b"<html>404</html>", "not a readable .pdparams"),
                                           (pickle.dumps([1, 2]), "expected a dict"),
                                           (pickle.dumps({"a": "text"}), "'a' is a str")])
def test_not_weights(tmp_path, content, match):
    (tmp_path / "x.pdparams").write_bytes(content)
    with pytest.raises(WeightsError, match=match):
        read_pdparams(tmp_path / "x.pdparams")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(WeightsError, match=f"not found: {tmp_path}/nope.pdparams"):
        read_pdparams(tmp_path / "nope.pdparams")
