"""What every CLI shares, run as a user runs it: --cpu_devices, one-line refusals, a console without TF's
CUDA probe on this CPU-only machine.

The bad inputs of issue 18 each have a test here: a classifier of another class count given with
--weights, an undecodable validation image, a malformed TF_CONFIG, impossible numbers, a loss that is
NaN before the first checkpoint.
"""

import shutil

import pytest

from tests.clitools import demo_params, last_json, run

DEMO = "gin/quick_start/demo.gin"
PROBE = ("cuInit", "cuda drivers", "cudart_stub")


def _no_probe(stderr):
    lines = [line for line in stderr.splitlines() if any(p in line for p in PROBE)]
    assert not lines, lines


def _one_line_error(done, *fragments):
    """Exit 2 and stderr is exactly one `kclass: error:` line holding every fragment."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("kclass: error: "), done.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 6-class demo run trained by `kclass.train --strategy mirrored --cpu_devices 2` (README's CPU line)."""
    root = tmp_path_factory.mktemp("cli")
    params = demo_params(root / "data", root / "run", epochs=1, per_class=8, batch=16) + ["IMAGE_SIZE=16"]
    done = run("train", "--gin_file", DEMO, "--strategy", "mirrored", "--cpu_devices", "2", gin_params=params)
    return root, params, done


@pytest.mark.slow
def test_train_splits_the_cpu_and_shows_no_cuda_probe(trained):
    root, _, done = trained
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MirroredStrategy: 2 replica(s) on CPU:0, CPU:1" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("final: top1 ")
    assert (root / "run" / "best_model" / "model.weights.h5").is_file()
    _no_probe(done.stderr)


@pytest.mark.slow
def test_evaluate_on_two_cpu_devices_equals_one_device(trained):
    root, params, _ = trained
    weights = str(root / "run" / "best_model")
    one = run("evaluate", "--gin_file", DEMO, "--weights", weights, "--json", gin_params=params)
    two = run("evaluate", "--gin_file", DEMO, "--weights", weights, "--json", "--cpu_devices", "2",
              gin_params=params)
    assert one.returncode == 0 and two.returncode == 0, (one.stderr[-2000:], two.stderr[-2000:])
    one, two = last_json(one.stdout), last_json(two.stdout)
    assert one["images"] == two["images"] == 120
    assert (one["top1"], one["top2"]) == (two["top1"], two["top2"])
    assert one["loss"] == pytest.approx(two["loss"], rel=1e-5)


@pytest.mark.slow
def test_predict_and_export_accept_cpu_devices(trained):
    root, params, _ = trained
    weights = str(root / "run" / "best_model")
    image = str(root / "data" / "val" / "ring" / "0000.png")
    one = run("predict", "--gin_file", DEMO, "--weights", weights, "--image", image, "--json", gin_params=params)
    two = run("predict", "--gin_file", DEMO, "--weights", weights, "--image", image, "--json",
              "--cpu_devices", "2", gin_params=params)
    assert one.returncode == 0 and two.returncode == 0, (one.stderr[-2000:], two.stderr[-2000:])
    assert last_json(one.stdout)["results"] == last_json(two.stdout)["results"]
    done = run("export", "--gin_file", DEMO, "--weights", weights, "--export_dir", str(root / "models" / "demo"),
               "--cpu_devices", "2", "--json", gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (root / "models" / "demo" / "1" / "saved_model.pb").is_file()
    _no_probe(done.stderr)


@pytest.mark.slow
def test_weights_of_another_class_count_are_refused_by_every_cli(trained):
    root, params, _ = trained
    weights = str(root / "run" / "best_model")
    params = params + ["NUM_CLASSES=7"]
    fragments = ("its classifier is for 6 classes, the model has 7 (NUM_CLASSES)", "only PRETRAINED")
    _one_line_error(run("evaluate", "--gin_file", DEMO, "--weights", weights, gin_params=params), *fragments)
    image = str(root / "data" / "val" / "ring" / "0000.png")
    _one_line_error(run("predict", "--gin_file", DEMO, "--weights", weights, "--image", image, gin_params=params),
                    *fragments)
    _one_line_error(run("export", "--gin_file", DEMO, "--weights", weights,
                        "--export_dir", str(root / "models" / "seven"), gin_params=params), *fragments)
    assert not (root / "models" / "seven").exists()


@pytest.mark.slow
def test_evaluate_names_an_undecodable_image_or_skips_and_counts_it(trained, tmp_path):
    root, params, _ = trained
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    first = (data / "val_list.txt").read_text().splitlines()[0].split()[0]
    bad = data / first
    bad.write_bytes(bad.read_bytes()[:40])  # a truncated PNG: the header passes, the decode fails
    params = params + [f"DATA_ROOT='{data}'", f"VAL_LIST='{data}/val_list.txt'"]
    weights = str(root / "run" / "best_model")
    done = run("evaluate", "--gin_file", DEMO, "--weights", weights, gin_params=params)
    _one_line_error(done, f"{bad} (listed in {data}/val_list.txt) cannot be decoded as an image",
                    "on_bad_image='skip'")
    done = run("evaluate", "--gin_file", DEMO, "--weights", weights, "--json",
               gin_params=params + ["Experiment.on_bad_image='skip'"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"skipped (undecodable): {bad}" in done.stderr.splitlines()
    assert "on_bad_image=skip: 1 undecodable val image(s) skipped, listed above" in done.stdout
    metrics = last_json(done.stdout)
    assert metrics["images"] == 119 and metrics["skipped"] == 1
    # Training evaluates the same list at its first epoch's end: the same line, not a TF stack trace.
    done = run("train", "--gin_file", DEMO, gin_params=params + [f"MODEL_DIR='{tmp_path}/run'"])
    _one_line_error(done, f"{bad} (listed in {data}/val_list.txt) cannot be decoded as an image")


@pytest.mark.slow
@pytest.mark.parametrize("tf_config, fragment", [
    ("{bad", "TF_CONFIG is not valid JSON: Expecting property name"),
    ('{"cluster": 3}', "TF_CONFIG cluster must map job names to lists"),
])
def test_bad_tf_config_is_one_line(tmp_path, monkeypatch, tf_config, fragment):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    done = run("train", "--gin_file", DEMO, "--strategy", "multi_worker", gin_params=[f"MODEL_DIR='{tmp_path}/run'"])
    _one_line_error(done, fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("param, fragment", [
    ("LR=-1", "LR (OptimizerConfig.lr) = -1: expected a number > 0"),
    ("EPOCHS=0", "EPOCHS (Experiment.epochs) = 0: expected a whole number > 0"),
    ("BATCH_SIZE=0", "BATCH_SIZE (Experiment.batch_size) = 0"),
    ("IMAGE_SIZE=-32", "IMAGE_SIZE (Experiment.image_size) = -32"),
    ("NUM_CLASSES=0", "NUM_CLASSES (Experiment.num_classes) = 0"),
    ("Experiment.label_smoothing=-0.1", "Experiment.label_smoothing = -0.1: expected a number in [0, 1)"),
])
def test_impossible_numbers_are_refused_before_anything_is_written(tmp_path, param, fragment):
    data = tmp_path / "data"
    done = run("train", "--gin_file", DEMO, gin_params=demo_params(data, tmp_path / "run") + [param])
    _one_line_error(done, fragment)
    _no_probe(done.stderr)
    assert not (tmp_path / "run").exists() and not data.exists()  # not even the demo data


@pytest.mark.slow
def test_nan_before_the_first_checkpoint_says_so(tmp_path):
    params = demo_params(tmp_path / "data", tmp_path / "run", epochs=2, per_class=8, batch=16) + [
        "IMAGE_SIZE=16", "LR=1e30"]
    done = run("train", "--gin_file", DEMO, gin_params=params)
    line = _one_line_error(done, "; stopped, no checkpoint was written yet, so a re-run starts from scratch.")
    assert "None" not in line
    assert not (tmp_path / "run" / "checkpoints" / "checkpoint").exists()


def test_cpu_devices_must_be_positive():
    done = run("evaluate", "--cpu_devices", "0")
    assert done.returncode == 1 and "--cpu_devices=0" in done.stderr and "Traceback" not in done.stderr
