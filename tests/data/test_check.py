import os

import numpy as np
import pytest
import tensorflow as tf

from kclass.data import check, lists, scan
from tests.data.planted import list_labels, multilabel_set, planted_set


def _read(root, name, num_classes, multilabel=False):
    return lists.read_list(os.path.join(root, name), root, num_classes, multilabel, check_files=False)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("planted"))
    files = planted_set(root)
    train, val = _read(root, "train_list.txt", 6), _read(root, "val_list.txt", 6)
    report = check.check(train, val, 6, lists.read_label_names(os.path.join(root, "label_list.txt")), image_size=32)
    return root, files, report


def test_class_counts_and_imbalance_follow_the_lists(planted):
    root, _, report = planted
    train = np.bincount(list_labels(os.path.join(root, "train_list.txt")), minlength=6)
    val = np.bincount(list_labels(os.path.join(root, "val_list.txt")), minlength=6)
    assert report["class_counts"] == {"train": train.tolist(), "val": val.tolist()}
    assert train.tolist() == [4, 5, 5, 5, 5, 7]  # 4 per class + the planted lines
    assert report["imbalance_ratio"]["train"] == pytest.approx(7 / 4)
    assert report["imbalance_ratio"]["val"] == 1.0
    assert report["class_names"] == ["circle", "square", "triangle", "cross", "ring", "stripes"]
    assert report["images"] == {"train": 31, "val": 12}


def test_undecodable_and_missing_files_are_named_with_why(planted):
    _, files, report = planted
    assert sorted(report["undecodable"]) == sorted([files["corrupt"], files["missing"]])
    assert report["undecodable_why"][files["missing"]] == "image not found"
    assert "does not decode" in report["undecodable_why"][files["corrupt"]]


def test_exact_duplicates_leaks_and_near_duplicates_are_told_apart(planted):
    _, files, report = planted
    assert report["duplicates"] == [[files["original"], files["duplicate"]]]
    assert report["duplicate_label_conflicts"] == [[files["original"], files["duplicate"]]]  # circle vs ring
    assert report["leaks"] == [[files["leak"], files["val_copied"]]]
    near = {(t, v) for t, v, _ in report["near_leaks"]}
    assert near == {(files["near_jpeg"], files["val_reencoded"]), (files["near_resized"], files["val_resized"])}
    assert all(check.NEAR_SIMILARITY <= s <= 1.0 for *_, s in report["near_leaks"])
    assert report["near_leaks_total"] == 2
    assert check.problems(report) == ["1 train/val leak(s) (same file bytes)", "2 undecodable file(s)"]


def test_sizes_and_modes_of_the_decodable_images(planted):
    _, _, report = planted
    train = report["sizes"]["train"]
    assert train["decoded"] == 29
    assert train["modes"] == {"L": 1, "RGB": 28}
    assert train["height"] == {"min": 32, "median": 32.0, "max": 40}  # grey 40x24, resized 34x34
    assert train["width"] == {"min": 24, "median": 32.0, "max": 34}
    assert train["most_common"][0] == ["32x32", 27]
    assert train["smaller_than_image_size"] == 1  # the 24-wide grey image
    assert report["sizes"]["val"]["modes"] == {"RGB": 12}


def test_multilabel_counts_are_positives_per_class(tmp_path):
    root = multilabel_set(tmp_path / "ml")
    train, val = _read(root, "train_list.txt", 5, True), _read(root, "val_list.txt", 5, True)
    report = check.check(train, val, 5)
    expected = list_labels(os.path.join(root, "train_list.txt"), multilabel=True).sum(0)
    assert report["multilabel"] is True
    assert report["class_counts"]["train"] == expected.tolist()
    assert report["imbalance_ratio"]["train"] == pytest.approx(expected.max() / expected.min())
    assert report["class_names"] == ["0", "1", "2", "3", "4"]  # no label list given
    assert report["no_positive_label"] == {"train": 0, "val": 0}
    assert report["leaks"] == [] and report["duplicates"] == [] and report["undecodable"] == []


def test_undecodable_agrees_with_the_training_decoder(tmp_path):
    png = tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)).numpy()
    jpeg = tf.io.encode_jpeg(tf.zeros([64, 64, 3], tf.uint8)).numpy()
    files = {"ok.png": png, "ok.jpg": jpeg, "truncated.jpg": jpeg[: len(jpeg) // 3],
             "garbage.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "empty.png": b"",
             "gray16.png": tf.io.encode_png(tf.zeros([4, 4, 1], tf.uint16)).numpy(),
             "rgba.png": tf.io.encode_png(tf.zeros([4, 4, 4], tf.uint8)).numpy(),
             "gray_alpha.png": tf.io.encode_png(tf.zeros([4, 4, 2], tf.uint8)).numpy()}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    facts = check.image_facts(paths)
    assert np.flatnonzero(~facts.ok).tolist() == scan.undecodable(paths) == [2, 3, 4]
    assert facts.channels.tolist() == [3, 3, 0, 0, 0, 1, 4, 2]
    assert facts.sha1[4] == "da39a3ee5e6b4b0d3255bfef95601890afd80709"  # sha1 of b"": broken files hashed too


def test_class_counts_ignore_unlabelled_lines_and_ratio_skips_empty_classes():
    assert check.class_counts(np.array([0, 2, 2, -1]), 4).tolist() == [1, 0, 2, 0]
    assert check.imbalance_ratio(np.array([1, 0, 2, 0])) == 2.0
    assert check.imbalance_ratio(np.zeros(3, np.int64)) is None


def test_near_pairs_by_correlation_with_a_bounded_report():
    def unit(angle):  # 2-d unit vectors: the correlation of two is the cosine of their angle
        return [np.cos(np.radians(angle)), np.sin(np.radians(angle))]
    train = np.array([unit(0), unit(10), unit(90), unit(3)])
    val = np.array([unit(1), unit(88)])
    pairs, total = check.near_pairs(train, val, min_similarity=0.98)  # cos 11.5 degrees = 0.98
    assert [(t, v) for t, v, _ in pairs] == [(0, 0), (1, 0), (2, 1), (3, 0)]
    assert [s for *_, s in pairs] == pytest.approx(np.cos(np.radians([1, 9, 2, 2])).tolist())
    assert total == 4
    assert [(t, v) for t, v, _ in check.near_pairs(train, val, min_similarity=0.999)[0]] == [(0, 0), (2, 1), (3, 0)]
    # blocks of the similarity matrix (here one val row each) change nothing; `limit` bounds the list
    assert check.near_pairs(train, val, 0.98, block=1) == (pairs, 4)
    assert check.near_pairs(train, val, 0.98, limit=2) == (pairs[:2], 4)


def test_thumbnails_see_through_reencoding_resizing_and_brightness_but_tell_pictures_apart(tmp_path):
    rng = np.random.default_rng(0)
    photos = [tf.image.resize(rng.uniform(0, 255, (4, 4, 3)), [32, 32]).numpy() for _ in range(3)]
    photos = [np.clip(p + rng.normal(0, 8, p.shape), 0, 255).astype(np.uint8) for p in photos]
    a = photos[0]
    variants = {"a.png": a, "a.jpg": a, "a_bright.png": np.clip(a.astype(int) + 20, 0, 255).astype(np.uint8),
                "a_40.png": tf.cast(tf.round(tf.image.resize(a, [40, 40])), tf.uint8).numpy(),
                "b.png": photos[1], "c.png": photos[2], "flat.png": np.full((32, 32, 3), 90, np.uint8)}
    paths = []
    for name, image in variants.items():
        encode = tf.io.encode_jpeg if name.endswith(".jpg") else tf.io.encode_png
        tf.io.write_file(str(tmp_path / name), encode(image))
        paths.append(str(tmp_path / name))
    thumb = check.image_facts(paths).thumb
    similarity = thumb @ thumb[0]
    assert np.all(similarity[:4] >= 0.99), similarity
    assert np.all(similarity[4:] < 0.9), similarity
    assert np.linalg.norm(thumb[:4], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(thumb[6]) < 0.5  # flat: near nothing, not even another flat image
