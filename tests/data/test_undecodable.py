"""Undecodable files named in one line where TensorFlow would give a stack trace."""

import numpy as np
import pytest
import tensorflow as tf

from kclass.data import lists
from kclass.data.undecodable import named_on_failure
from kclass.errors import DataError


def _samples(tmp_path, names):
    png = tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)).numpy()
    for name in names:
        (tmp_path / name).write_bytes(png[:40] if name.startswith("bad") else png)
    return lists.Samples([str(tmp_path / n) for n in names], np.zeros(len(names), np.int64), "val_list.txt")


def test_a_tf_error_names_the_undecodable_file_and_passes_otherwise(tmp_path):
    failing = tf.errors.InvalidArgumentError(None, None, "Input to DecodePng has length 40")
    with pytest.raises(DataError, match=r"bad\.png \(listed in val_list\.txt\) cannot be decoded as an image; fix"):
        with named_on_failure(_samples(tmp_path, ["ok.png", "bad.png"])):
            raise failing
    for samples in (_samples(tmp_path, ["ok.png"]), None):  # no bad file to blame: TF's own error
        with pytest.raises(tf.errors.InvalidArgumentError):
            with named_on_failure(samples):
                raise failing
    with named_on_failure(_samples(tmp_path, ["bad.png"])):
        pass  # nothing failed: nothing scanned, nothing raised
