"""tools/prepare_dataset.py on small tars the test builds (no network)."""

import io
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from tests.clitools import ROOT

TOOL = os.path.join(ROOT, "tools", "prepare_dataset.py")


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _official_tar(path, n_train=6, n_test=3):
    rng = np.random.default_rng(0)
    def batch(n):
        return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"fine_labels": [int(x) for x in rng.integers(0, 100, n)], b"filenames": [b"x.png"] * n}
    meta = {b"fine_label_names": [f"class{i}".encode() for i in range(100)]}
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in (("train", batch(n_train)), ("test", batch(n_test)), ("meta", meta)):
            _add(tar, f"cifar-100-python/{name}", pickle.dumps(obj, protocol=2))
    return path


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=300)


def test_official_python_batches_become_png_lists(tmp_path):
    src = _official_tar(tmp_path / "cifar-100-python.tar.gz")
    done = _run("cifar100", "--from", str(src), "--out", str(tmp_path / "dataset"))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "dataset" / "CIFAR100"
    train = (out / "train_list.txt").read_text().splitlines()
    assert len(train) == 6 and len((out / "test_list.txt").read_text().splitlines()) == 3
    rel, label = train[0].split()
    assert (out / rel).is_file() and 0 <= int(label) < 100
    import tensorflow as tf
    image = tf.io.decode_png(tf.io.read_file(str(out / rel)))
    with tarfile.open(src) as tar:
        first = pickle.load(tar.extractfile("cifar-100-python/train"), encoding="bytes")[b"data"][0]
    np.testing.assert_array_equal(image.numpy(), first.reshape(3, 32, 32).transpose(1, 2, 0))
    assert (out / "label_list.txt").read_text().splitlines()[3] == "3 class3"


def test_download_path_and_paddle_layout(tmp_path):
    src = tmp_path / "CIFAR100.tar"
    with tarfile.open(src, "w") as tar:
        _add(tar, "CIFAR100/train_list.txt", b"train/0.png 1\n")
        _add(tar, "CIFAR100/test_list.txt", b"test/0.png 2\n")
        _add(tar, "CIFAR100/train/0.png", b"png")
        _add(tar, "CIFAR100/test/0.png", b"png")
    done = _run("cifar100", "--url", src.as_uri(), "--out", str(tmp_path / "dataset"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dataset/CIFAR100/train_list.txt").read_text() == "train/0.png 1\n"
    assert (tmp_path / "dataset/CIFAR100/test/0.png").is_file()


def test_refuses_malicious_pickle_and_unsafe_paths(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path}/pwned",))
    src = tmp_path / "evil.tar.gz"
    with tarfile.open(src, "w:gz") as tar:
        for name in ("train", "test", "meta"):
            _add(tar, f"cifar-100-python/{name}", pickle.dumps({b"data": Evil()}, protocol=2))
    done = _run("cifar100", "--from", str(src), "--out", str(tmp_path / "dataset"))
    assert done.returncode == 2 and "refused pickle global" in done.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "dataset" / "CIFAR100").exists()
    escape = tmp_path / "escape.tar"
    with tarfile.open(escape, "w") as tar:
        _add(tar, "../outside_list.txt", b"x")
    done = _run("cifar100", "--from", str(escape), "--out", str(tmp_path / "dataset"))
    assert done.returncode == 2 and "unsafe member" in done.stderr


def test_offline_download_fails_with_a_hint(tmp_path):
    done = _run("cifar100", "--url", (tmp_path / "missing.tar").as_uri(), "--out", str(tmp_path / "d"))
    assert done.returncode == 2 and "pass --from FILE" in done.stderr


def test_nus_wide_scene_layout(tmp_path):
    src = tmp_path / "NUS-WIDE-SCENE.tar"
    flags = ",".join(["0"] * 32 + ["1"])
    with tarfile.open(src, "w") as tar:
        _add(tar, "NUS-WIDE-SCENE/NUS-SCENE-dataset/images/0199_434752251.jpg", b"jpg")
        _add(tar, "NUS-WIDE-SCENE/NUS-SCENE-dataset/multilabel_train_list.txt", f"0199_434752251.jpg\t{flags}\n".encode())
        _add(tar, "NUS-WIDE-SCENE/NUS-SCENE-dataset/multilabel_test_list.txt", f"0199_434752251.jpg\t{flags}\n".encode())
    done = _run("nus-wide-scene", "--url", src.as_uri(), "--out", str(tmp_path / "dataset"))
    assert done.returncode == 0, done.stderr
    base = tmp_path / "dataset/NUS-WIDE-SCENE/NUS-SCENE-dataset"
    assert (base / "images/0199_434752251.jpg").is_file()
    names = (base / "label_list.txt").read_text().splitlines()
    assert len(names) == 33 and names[0] == "0 airport" and names[32] == "32 window"
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        _add(tar, "NUS-WIDE-SCENE/NUS-SCENE-dataset/multilabel_train_list.txt", b"a.jpg\t0,1\n")
        _add(tar, "NUS-WIDE-SCENE/NUS-SCENE-dataset/multilabel_test_list.txt", b"a.jpg\t0,1\n")
    done = _run("nus-wide-scene", "--from", str(bad), "--out", str(tmp_path / "d2"))
    assert done.returncode == 2 and "multilabel_train_list.txt:1: expected 33 label flags" in done.stderr
