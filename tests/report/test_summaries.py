"""TensorBoard during training: what the event files hold after real runs on data the tests make."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from kclass.report import summaries
from tests.clitools import run


def read_events(log_dir):
    """{tag: [(step, plugin name, ndarray)]} of every summary in the event files of `log_dir`."""
    found = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(
                    (event.step, value.metadata.plugin_data.plugin_name, tf.make_ndarray(value.tensor)))
    return found


def _png(image_summary):
    """uint8 [H, W, 3] of an image summary's tensor [width, height, png]."""
    width, height, png = image_summary
    image = tf.image.decode_png(png, channels=3).numpy()
    assert image.shape == (int(height), int(width), 3)
    return image


def _table(text):
    """The per-class markdown table -> {class name: row cells}."""
    lines = text.item().decode().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return {row[1]: dict(zip(header, row)) for row in rows}


# ---- the pieces ----------------------------------------------------------------------------------

def test_grid_places_images_row_by_row_with_grey_gaps():
    images = np.arange(10 * 3 * 4 * 3, dtype=np.int64).reshape(10, 3, 4, 3) % 251
    grid = summaries.image_grid(images, columns=4, gap=2)
    assert grid.shape == (3 * 5 - 2, 4 * 6 - 2, 3)
    for i in range(10):
        r, c = divmod(i, 4)
        np.testing.assert_array_equal(grid[r * 5:r * 5 + 3, c * 6:c * 6 + 4], images[i])
    assert (grid[3:5] == 128).all() and (grid[:, 4:6] == 128).all()
    assert (grid[10:, 12:] == 128).all()  # the last row's two empty cells


def test_denormalize_inverts_the_pipelines_normalisation():
    from kclass.data import transforms
    pixels = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    normalised = transforms.normalize(pixels, mean, std).numpy()
    np.testing.assert_array_equal(summaries.denormalize(normalised, mean, std), pixels)
    assert summaries.denormalize(np.full((1, 1, 1, 3), 99.0), mean, std).max() == 255  # clipped


def test_single_label_eval_writes_the_reports_confusion_matrix_and_a_worst_first_table(tmp_path):
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 0, 2, 2, 0])
    with tf.summary.create_file_writer(str(tmp_path)).as_default():
        cm = summaries.single_label_eval(labels, pred, ["cat", "dog", "bird"], step=7)
    events = read_events(str(tmp_path))
    (step, plugin, image), = events["confusion_matrix"]
    assert step == 7 and plugin == "images" and _png(image).shape[0] > 300
    table = _table(events["per_class"][0][2])
    assert list(table) == ["dog", "bird", "cat"]  # recall 0.5, 0.667, 0.75
    assert table["cat"]["recall"] == "0.750" and table["dog"]["support"] == "2"
    np.testing.assert_array_equal(cm, [[3, 1, 0], [1, 1, 0], [1, 0, 2]])
    (_, plugin, histogram), = events["per_class_recall"]
    assert plugin == "histograms" and histogram[:, 2].sum() == 3  # one value per class


def test_multi_label_pr_curves_count_each_classs_positives(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.random((40, 3)) < 0.4
    scores = np.clip(labels * 0.3 + rng.random((40, 3)) * 0.7, 0, 1)
    with tf.summary.create_file_writer(str(tmp_path)).as_default():
        summaries.multi_label_eval(labels, scores, ["a", "b", "c"], step=3)
    events = read_events(str(tmp_path))
    tags = sorted(t for t in events if t.startswith("pr_curve/"))
    assert tags == ["pr_curve/00_a/pr_curves", "pr_curve/01_b/pr_curves", "pr_curve/02_c/pr_curves",
                    "pr_curve/all_classes_pooled/pr_curves"]
    for c, tag in enumerate(tags[:3]):
        (step, plugin, data), = events[tag]
        assert step == 3 and plugin == "pr_curves" and data.shape == (6, summaries.PR_THRESHOLDS)
        # At threshold 0 every image is called positive: TP = the class's positives, FP = its negatives.
        assert data[0, 0] == labels[:, c].sum() and data[1, 0] == (~labels[:, c]).sum()
        assert data[5, 0] == 1.0  # recall
    assert events[tags[3]][0][2][0, 0] == labels.sum()
    assert set(_table(events["per_class"][0][2])) == {"a", "b", "c"}


# ---- real training runs (2 replicas) -------------------------------------------------------------

def _solid_colour_data(root, per_class_train=12, per_class_val=4, size=16):
    """3 classes of one-colour images, every image its own colour (red, green or blue dominant): a crop
    or flip keeps its colour, so each grid cell tells which image it shows. Returns {path: colour}."""
    from PIL import Image
    colours, k = {}, 0
    for split, count in (("train", per_class_train), ("val", per_class_val)):
        lines = []
        for label in range(3):
            for i in range(count):
                colour = [20 + 5 * k, 130 - 3 * k % 100, 60 + 2 * k]
                colour[label] = 230
                path = os.path.join(root, split, f"{label}_{i}.png")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                Image.fromarray(np.full((size, size, 3), colour, np.uint8)).save(path)
                colours[path] = colour
                lines.append(f"{split}/{label}_{i}.png {label}\n")
                k += 1
        with open(os.path.join(root, f"{split}_list.txt"), "w") as f:
            f.writelines(lines)
    with open(os.path.join(root, "label_list.txt"), "w") as f:
        f.write("0 red\n1 green\n2 blue\n")
    return colours


@pytest.mark.slow
def test_training_writes_the_first_augmented_batch_and_each_evals_confusion_matrix(tmp_path):
    data, run_dir = str(tmp_path / "data"), tmp_path / "run"
    colours = _solid_colour_data(data)
    params = ["EPOCHS=2", "BATCH_SIZE=16", "EVAL_BATCH_SIZE=16", "IMAGE_SIZE=16", "NUM_CLASSES=3", "SEED=7",
              "Experiment.prepare=None", f"DATA_ROOT='{data}'", f"TRAIN_LIST='{data}/train_list.txt'",
              f"VAL_LIST='{data}/val_list.txt'", f"LABEL_LIST='{data}/label_list.txt'", f"MODEL_DIR='{run_dir}'"]
    done = run("train", "--gin_file", "gin/quick_start/demo.gin", "--cpu_devices", "2", gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]

    train = read_events(str(run_dir / "logs" / "train"))
    (step, plugin, image), = train["train_batch"]  # once, at the start
    assert step == 0 and plugin == "images"
    grid = _png(image)
    assert grid.shape == (2 * 18 - 2, 8 * 18 - 2, 3)  # 16 images (both replicas' halves), 8 per row
    cells = [grid[r * 18:r * 18 + 16, c * 18:c * 18 + 16] for r in range(2) for c in range(8)]
    assert all((cell == cell[0, 0]).all() for cell in cells)  # crops of one-colour images stay one colour
    shown = [tuple(int(v) for v in cell[0, 0]) for cell in cells]
    # De-normalised back to the files' exact colours (a wrong mean/std would shift them) ...
    assert set(shown) <= {tuple(c) for c in colours.values()}
    # ... and they are the pipeline's first step for this seed, in order, both replicas' halves.
    from kclass.data import lists, pipeline
    samples = lists.read_list(f"{data}/train_list.txt", data, num_classes=3)
    images, labels = next(iter(pipeline.train_dataset(pipeline.DataConfig(), samples, 16, 16, 3, seed=7)))
    first = summaries.denormalize(images.numpy(), pipeline.DataConfig().mean, pipeline.DataConfig().std)
    assert shown == [tuple(int(v) for v in image[0, 0]) for image in first]
    assert [int(np.argmax(c)) for c in shown] == labels.numpy().tolist()  # the dominant channel is the class

    eval_ = read_events(str(run_dir / "logs" / "eval"))
    steps = [s for s, _, _ in eval_["confusion_matrix"]]
    assert steps == [3, 6]  # 36 images in batches of 16: 3 steps per epoch, an eval after each
    assert all(_png(image).shape[0] > 300 for _, _, image in eval_["confusion_matrix"])
    for (_, _, text), (_, _, top1) in zip(eval_["per_class"], eval_["top1"]):
        table = _table(text)
        assert set(table) == {"red", "green", "blue"}
        assert sum(int(r["support"]) for r in table.values()) == 12  # padding rows left out
        # Recall weighted by support is top-1: the table describes the same evaluation.
        hits = sum(float(r["recall"]) * int(r["support"]) for r in table.values())
        assert hits / 12 == pytest.approx(float(top1), abs=2e-3)


@pytest.mark.slow
def test_multilabel_training_writes_pr_curves_per_class(tmp_path):
    data = tmp_path / "data"
    params = ["MODEL='ResNet18_vd'", "IMAGE_SIZE=16", "EPOCHS=1", "BATCH_SIZE=16", "EVAL_BATCH_SIZE=16",
              "NUM_CLASSES=5", "PRETRAINED=None", f"DATA_ROOT='{data}'", f"TRAIN_LIST='{data}/train_list.txt'",
              f"VAL_LIST='{data}/val_list.txt'", f"LABEL_LIST='{data}/label_list.txt'",
              f"MODEL_DIR='{tmp_path}/run'", "Experiment.prepare=@make_multilabel_demo_dataset",
              f"make_multilabel_demo_dataset.root='{data}'", "make_multilabel_demo_dataset.image_size=16",
              "make_multilabel_demo_dataset.train_images=32", "make_multilabel_demo_dataset.val_images=20",
              "val/DataConfig.resize_short=None"]
    done = run("train", "--gin_file", "gin/quick_start/ResNet50_vd_multilabel.gin", "--cpu_devices", "2",
               gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    from kclass.data import lists
    labels = lists.read_samples(f"{data}/val_list.txt", str(data), 5, multilabel=True).labels
    eval_ = read_events(str(tmp_path / "run" / "logs" / "eval"))
    names = ["circle", "square", "triangle", "cross", "stripes"]
    for c, name in enumerate(names):
        (step, plugin, curve), = eval_[f"pr_curve/{c:02d}_{name}/pr_curves"]
        assert step == 2 and plugin == "pr_curves" and curve.shape == (6, summaries.PR_THRESHOLDS)
        assert curve[0, 0] == labels[:, c].sum()  # every val image counted once, padding left out
    assert eval_["pr_curve/all_classes_pooled/pr_curves"][0][2][0, 0] == labels.sum()
    assert set(_table(eval_["per_class"][0][2])) == set(names)
    assert "confusion_matrix" not in eval_
    assert read_events(str(tmp_path / "run" / "logs" / "train"))["train_batch"][0][0] == 0
