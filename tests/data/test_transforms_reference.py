"""kclass's train augmentation and eval preprocessing against PaddleClas's, on real images.

The reference is tools/paddle_parity/ppcls_transforms.py (cv2 and Python's `random`, as PaddleClas),
run in the paddle venv by tools/paddle_parity/reference_draws.py: the tests skip without that venv
(fail under KCLASS_CI=1) and without the real images (KCLASS_REAL_DATA).
"""

import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from kclass.data import transforms
from tests.paddle_venv import ROOT, require_paddle_python

DRAWER = os.path.join(ROOT, "tools", "paddle_parity", "reference_draws.py")
DRAWS = 10_000
# The seeds are fixed on both sides, so each p-value is one deterministic number; 1e-3 keeps 13
# comparisons clear of chance rejections while a log-uniform area gives p ~ 1e-100.
ALPHA = 1e-3
# CIFAR; a landscape COCO photo; a portrait one, where the scale range is clipped by `bound`.
SHAPES = [(32, 32), (480, 640), (640, 427)]
STATS = ("area", "aspect", "x", "y")


def _reference(*args):
    python = require_paddle_python()
    proc = subprocess.run([python, DRAWER, *map(str, args)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"reference_draws.py {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="module")
def reference_crops(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference_crops")
    draws = {}
    for height, width in SHAPES:
        path = out / f"{height}x{width}.npz"
        _reference("crops", "--height", height, "--width", width, "--count", DRAWS, "--seed", 1,
                   "--out", path)
        draws[height, width] = dict(np.load(path))
    return draws


@pytest.fixture(scope="module")
def kclass_crops():
    @tf.function
    def draw(height, width):
        seeds = tf.stack([tf.range(DRAWS, dtype=tf.int64), tf.fill([DRAWS], tf.constant(5, tf.int64))], 1)
        boxes = tf.map_fn(lambda s: tf.stack(transforms.crop_box(height, width, s)), seeds,
                          fn_output_signature=tf.int32)
        # A 1x2 image [0, 1] reads back its own flip: 1 at column 0 means flipped.
        probe = tf.reshape(tf.constant([0, 1], tf.uint8), [1, 2, 1])
        flips = tf.map_fn(lambda s: transforms.rand_flip(probe, s + 1)[0, 0, 0] == 1, seeds,
                          fn_output_signature=tf.bool)
        return boxes, flips

    draws = {}
    for height, width in SHAPES:
        boxes, flips = draw(tf.constant(height), tf.constant(width))
        draws[height, width] = {"boxes": boxes.numpy().astype(np.int64), "flips": flips.numpy()}
    return draws


def box_stats(boxes, height, width):
    """Boxes int [N, 4] (y, x, h, w) -> {area fraction, aspect w/h, x, y}."""
    y, x, h, w = boxes.T
    return {"area": h * w / (height * width), "aspect": w / h, "x": x, "y": y}


@pytest.mark.parametrize("stat", STATS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_random_crop_distribution_matches_paddleclas(reference_crops, kclass_crops, shape, stat):
    ours = box_stats(kclass_crops[shape]["boxes"], *shape)[stat]
    theirs = box_stats(reference_crops[shape]["boxes"], *shape)[stat]
    assert ((0 <= kclass_crops[shape]["boxes"][:, :2]).all()
            and (kclass_crops[shape]["boxes"][:, :2] + kclass_crops[shape]["boxes"][:, 2:] <= shape).all())
    result = stats.ks_2samp(ours, theirs)
    print(f"{shape} {stat}: KS D {result.statistic:.4f}, p {result.pvalue:.3g}; "
          f"means {np.mean(ours):.4f} vs {np.mean(theirs):.4f}")
    assert result.pvalue > ALPHA


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_flip_rate_matches_paddleclas(reference_crops, kclass_crops, shape):
    ours, theirs = kclass_crops[shape]["flips"], reference_crops[shape]["flips"]
    table = [[ours.sum(), DRAWS - ours.sum()], [theirs.sum(), DRAWS - theirs.sum()]]
    p = stats.chi2_contingency(table).pvalue
    print(f"{shape} flip rate {ours.mean():.4f} vs {theirs.mean():.4f}, p {p:.3g}")
    assert p > ALPHA and stats.binomtest(int(ours.sum()), DRAWS, 0.5).pvalue > ALPHA


def test_crop_check_rejects_log_uniform_area(reference_crops):
    # The same draws with the area fraction log-uniform (torchvision's habit for the aspect, an easy
    # slip for the area): the KS comparison above must see it at this many draws.
    rng = np.random.default_rng(0)
    aspect = np.sqrt(rng.uniform(3 / 4, 4 / 3, DRAWS))
    fraction = np.exp(rng.uniform(np.log(0.08), np.log(1.0), DRAWS))
    side = np.sqrt(32 * 32 * fraction)
    area = (side * aspect).astype(int) * (side / aspect).astype(int) / (32 * 32)
    theirs = box_stats(reference_crops[32, 32]["boxes"], 32, 32)["area"]
    assert stats.ks_2samp(area, theirs).pvalue < ALPHA


def _eval_files(root, list_name):
    with open(os.path.join(root, list_name)) as f:
        return [os.path.join(root, line.split()[0]) for line in f if line.strip()]


@pytest.mark.parametrize("data_set,list_name,image_size", [
    ("cifar10-mini", "test_list.txt", 32),
    ("coco-multilabel-mini", "val_list.txt", 224),
])
def test_eval_preprocessing_within_one_grey_level_of_paddleclas(real_data, tmp_path, data_set, list_name,
                                                                image_size):
    files = _eval_files(real_data(data_set), list_name)
    (tmp_path / "files.txt").write_text("\n".join(files) + "\n")
    _reference("eval", "--files", tmp_path / "files.txt", "--image_size", image_size,
               "--out", tmp_path / "eval.npz")
    reference = np.load(tmp_path / "eval.npz")
    std, mean = np.asarray(transforms.IMAGENET_STD), np.asarray(transforms.IMAGENET_MEAN)
    eval_image = tf.function(lambda encoded: transforms.eval_image(encoded, image_size))
    decode = tf.function(transforms.decode)
    worst_decode, worst, off_by_one = 0, 0.0, 0
    for i, path in enumerate(files):
        encoded = tf.io.read_file(path)
        decoded = decode(encoded).numpy().astype(int)
        worst_decode = max(worst_decode, int(np.abs(decoded - reference[f"decode_{i}"]).max()))
        # eval_image normalises; undo it to compare grey levels (uint8 before normalisation).
        grey = (eval_image(encoded).numpy() * std + mean) * 255.0
        diff = np.abs(grey - reference[f"eval_{i}"])
        worst = max(worst, float(diff.max()))
        off_by_one += int((diff > 0.5).sum())
    print(f"{data_set} {len(files)} JPEGs at {image_size}: decode max |diff| {worst_decode}, "
          f"eval max |diff| {worst:.3f} grey levels, {off_by_one} values off by one")
    assert worst_decode == 0  # cv2 and kclass decode JPEGs to the same pixels
    assert worst <= 1.0 + 1e-3
