"""The real training path timed: what `python -m kclass.train` runs, on image files, progress off.

python tools/bench/recipe.py --model ResNet50_vd --image_size 32 [--data ../shared/data/cifar10-mini] \
    [--epochs 2] [--batch 64] [--steps_per_loop 10] [--gin_param 'BINDING'] [--bench_steps 20] [--json]

Parses the CIFAR recipe (gin/quick_start/ResNet50_vd_CIFAR100.gin) with the model, list files, image
size, batch (train and eval), epochs and a fresh MODEL_DIR bound by `--gin_param`s, sizes TF's op thread
pools and picks the strategy as the CLI does, and runs `experiment.train`: list reading, the tf.data
pipeline from JPEG files, the compiled loop, summaries, eval every epoch, best_model and checkpoints.
`--data` is a folder with `train_list.txt` and `test_list.txt` or `val_list.txt`; without it, 32 px
reads cifar10-mini and 224 px a COCO photo set that `photo_set.py` writes into a temp folder (photos
resized to a 256-px short side). Then, in the same process, it times the engine's step on the same model
and batch held in memory (`train_step.py`, as `train.py` does) for the ratio.

Reports, per epoch, the wall time including eval and checkpoints, split into its parts (the eval's
TensorBoard figures, such as the confusion matrix, apart from the eval); training images/s after warm-up
(epochs 2.., loop calls and everything between them; eval, its figures and saving excluded), the same over the loop
calls alone, eval images/s (the last eval), the whole run's wall time, process CPU user and system
seconds, the start-up cost of the first loop call and of the first eval (tracing and graph optimisation:
their time beyond a later call of the same size), the op threads, and `cli_over_in_memory` (the in-memory
step runs in the same pools). One JSON line last.
"""

import json
import os
import resource
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "ResNet50_vd", "Registered model name.")
flags.DEFINE_integer("image_size", 32, "Training crop side in pixels.")
flags.DEFINE_string("data", None, "Folder with train_list.txt and test_list.txt/val_list.txt (default: see doc).")
flags.DEFINE_integer("num_classes", None, "Classes (default: lines of label_list.txt, or 80 for the photo set).")
flags.DEFINE_integer("epochs", 2, "Epochs; the first is the warm-up.")
flags.DEFINE_integer("batch", 64, "Global batch, for training and eval.")
flags.DEFINE_integer("steps_per_loop", 10, "Experiment.steps_per_loop.")
flags.DEFINE_multi_string("gin_param", [], "Extra Gin bindings, e.g. 'train/DataConfig.cache = True'.")
flags.DEFINE_string("recipe", "gin/quick_start/ResNet50_vd_CIFAR100.gin", "Recipe the bindings override.")
flags.DEFINE_integer("photo_repeat", 4, "Photo set: times each train photo is listed.")
flags.DEFINE_integer("bench_steps", 20, "In-memory bench: steps per timed call (0: skip the bench).")
flags.DEFINE_integer("bench_repeats", 3, "In-memory bench: timed calls; the median is kept.")
flags.DEFINE_bool("json", False, "Print only the final JSON line.")
FLAGS = flags.FLAGS


class Clock:
    """Timestamps of the training loop's calls, evals and saves, recorded by wrapping kclass's own methods."""

    def __init__(self):
        self.loops = []   # (end time, seconds of the call, images trained, step reached)
        self.evals = []   # (start, end, images)
        self.saves = []   # (start, end, step) of checkpoints; an epoch ends with one
        self.best = []    # (start, end) of best_model writes
        self.eval_summaries = []  # (start, end) of the eval's TensorBoard figures (the confusion matrix)

    def install(self):
        from kclass.engine import checkpoints, evaluator, progress
        from kclass.tasks import base

        clock = self
        eval_rows = base.RecipeTask._eval_rows
        update, evaluate, save, save_best = (progress.Progress.update, evaluator.Evaluator.__call__,
                                             checkpoints.CheckpointStore.save, checkpoints.save_best)

        def timed_update(self, step, seconds, images, values):
            clock.loops.append((time.perf_counter(), seconds, images, step))
            return update(self, step, seconds, images, values)

        def timed_eval(self, fn):
            began = time.perf_counter()
            result = evaluate(self, fn)
            clock.evals.append((began, time.perf_counter(), result["images"]))
            return result

        def timed_save(self, step):
            began = time.perf_counter()
            path = save(self, step)
            clock.saves.append((began, time.perf_counter(), step))
            return path

        def timed_best(*args, **kwargs):
            began = time.perf_counter()
            save_best(*args, **kwargs)
            clock.best.append((began, time.perf_counter()))

        def timed_eval_rows(self, rows, step):
            began = time.perf_counter()
            eval_rows(self, rows, step)
            clock.eval_summaries.append((began, time.perf_counter()))

        progress.Progress.update = timed_update
        base.RecipeTask._eval_rows = timed_eval_rows
        evaluator.Evaluator.__call__ = timed_eval
        checkpoints.CheckpointStore.save = timed_save
        checkpoints.save_best = timed_best

    def epochs(self, began):
        """Per epoch: wall seconds (previous epoch's last save -> this one's), split into its parts."""
        rows, start = [], began
        for i, (_, end, step) in enumerate(self.saves):
            inside = lambda a, b: start <= a and b <= end  # noqa: E731
            evals = sum(b - a for a, b, _ in self.evals if inside(a, b))
            figures = sum(b - a for a, b in self.eval_summaries if inside(a, b))
            saving = sum(b - a for a, b, _ in self.saves if inside(a, b)) + sum(
                b - a for a, b in self.best if inside(a, b))
            loops = [(t, s, n) for t, s, n, _ in self.loops if start <= t <= end]
            rows.append({"epoch": i + 1, "wall_s": round(end - start, 2), "eval_s": round(evals, 2),
                         "eval_summary_s": round(figures, 2), "save_s": round(saving, 2),
                         "train_s": round(end - start - evals - figures - saving, 2),
                         "loop_calls_s": round(sum(s for _, s, _ in loops), 2),
                         "images": sum(n for _, _, n in loops)})
            start = end
        return rows


def data_lists(tmp):
    """(train list, val list, data root, num_classes) of `--data`, or of the default set for the size."""
    folder = FLAGS.data
    if folder is None and FLAGS.image_size > 64:
        import photo_set
        made = photo_set.make(os.path.join(tmp, "photos"), os.path.join(REPO, "..", "shared", "data",
                                                                       "coco-multilabel-mini"),
                              repeat=FLAGS.photo_repeat)
        return made["train"], made["val"], os.path.dirname(made["train"]), made["num_classes"]
    folder = os.path.abspath(folder or os.path.join(REPO, "..", "shared", "data", "cifar10-mini"))
    val = next(os.path.join(folder, n) for n in ("test_list.txt", "val_list.txt")
               if os.path.isfile(os.path.join(folder, n)))
    classes = FLAGS.num_classes
    if classes is None:
        with open(os.path.join(folder, "label_list.txt")) as f:
            classes = sum(1 for line in f if line.strip())
    return os.path.join(folder, "train_list.txt"), val, folder, classes


def run_recipe(train_list, val_list, root, num_classes, model_dir):
    import dataclasses

    import gin

    from kclass import cli, configurables, experiment
    from kclass.engine import op_threads
    from kclass.engine.strategy import make_strategy

    lr = 0.04 * FLAGS.batch / 1024  # the recipe's LR, linearly scaled to the batch
    params = [f"MODEL = {FLAGS.model!r}", f"TRAIN_LIST = {train_list!r}", f"VAL_LIST = {val_list!r}",
              f"DATA_ROOT = {root!r}", f"NUM_CLASSES = {num_classes}", f"IMAGE_SIZE = {FLAGS.image_size}",
              f"EPOCHS = {FLAGS.epochs}", f"BATCH_SIZE = {FLAGS.batch}", f"EVAL_BATCH_SIZE = {FLAGS.batch}",
              f"LR = {lr}", f"Experiment.steps_per_loop = {FLAGS.steps_per_loop}",
              f"val/DataConfig.resize_short = {None if FLAGS.image_size > 64 else 36}", *FLAGS.gin_param]
    cli.parse_gin([FLAGS.recipe], params, model_dir)
    exp = dataclasses.replace(configurables.Experiment(), verbose=False)
    # As the CLI does, before TF starts.
    threads = op_threads.configure(exp.batch_size, exp.image_size, 1, exp.intra_op_threads, exp.inter_op_threads)
    strategy = make_strategy("auto")
    clock = Clock()
    clock.install()
    began = time.perf_counter()
    metrics = experiment.train(exp, strategy)
    whole = time.perf_counter() - began
    spe = clock.saves[0][2] if clock.saves else 0
    gin.clear_config()
    return clock, began, whole, spe, metrics, threads


def in_memory_rate(num_classes):
    import train_step

    train, iterator, steps, _ = train_step.build(FLAGS.model, FLAGS.batch, FLAGS.image_size, num_classes,
                                                 FLAGS.bench_steps)
    train(iterator, steps)
    rates = []
    for _ in range(FLAGS.bench_repeats):
        began = time.perf_counter()
        float(train(iterator, steps)["loss"])
        rates.append(FLAGS.bench_steps * FLAGS.batch / (time.perf_counter() - began))
    return statistics.median(rates), rates


def start_up(clock):
    """Seconds the first loop call and the first eval took beyond a later one of the same size: the
    tracing and graph optimisation a run pays once."""
    out = {}
    full = [s for _, s, n, _ in clock.loops if n == clock.loops[0][2]]
    if len(full) > 1:
        out["loop_start_up_s"] = round(full[0] - statistics.median(full[1:]), 2)
    if len(clock.evals) > 1:
        out["eval_start_up_s"] = round((clock.evals[0][1] - clock.evals[0][0])
                                       - statistics.median(b - a for a, b, _ in clock.evals[1:]), 2)
    return out


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main(argv):
    del argv
    log = (lambda *a: None) if FLAGS.json else print
    with tempfile.TemporaryDirectory(prefix="kclass-recipe-") as tmp:
        train_list, val_list, root, num_classes = data_lists(tmp)
        user0, sys0 = cpu_seconds()
        clock, began, whole, spe, metrics, threads = run_recipe(train_list, val_list, root, num_classes,
                                                                os.path.join(tmp, "run"))
        user1, sys1 = cpu_seconds()
        time.sleep(2.0)  # nothing runs now: CPU spent here is threads the run left busy
        idle_cpu = sum(cpu_seconds()) - user1 - sys1
    epochs = clock.epochs(began)
    for row in epochs:
        log("epoch " + " ".join(f"{k} {v}" for k, v in row.items() if k != "epoch") + f" (epoch {row['epoch']})")
    later = epochs[1:] or epochs
    train_rate = sum(r["images"] for r in later) / sum(r["train_s"] for r in later)
    loop_rate = sum(r["images"] for r in later) / sum(r["loop_calls_s"] for r in later)
    last_eval = clock.evals[-1] if clock.evals else None
    result = {"model": FLAGS.model, "image_size": FLAGS.image_size, "batch": FLAGS.batch,
              "train_list": train_list, "num_classes": num_classes, "epochs": FLAGS.epochs,
              "steps_per_epoch": spe, "steps_per_loop": FLAGS.steps_per_loop, "gin_param": FLAGS.gin_param,
              "train_images_per_s": round(train_rate, 1), "includes_warm_up": len(epochs) < 2, "loop_calls_images_per_s": round(loop_rate, 1),
              "eval_images_per_s": round(last_eval[2] / (last_eval[1] - last_eval[0]), 1) if last_eval else None,
              "epoch_wall_s": [r["wall_s"] for r in epochs], "epochs_detail": epochs,
              "run_wall_s": round(whole, 1), "cpu_user_s": round(user1 - user0, 1),
              "cpu_sys_s": round(sys1 - sys0, 1), "idle_cpu_per_s_after": round(idle_cpu / 2.0, 2),
              "after_last_save_s": round(began + whole - clock.saves[-1][1], 2) if clock.saves else None,
              "top1": round(float(metrics.get("top1", float("nan"))), 4),
              "intra_op_threads": threads[0], "inter_op_threads": threads[1], "op_threads_applied": threads[2],
              **start_up(clock)}
    log(f"training {train_rate:.1f} img/s after warm-up (loop calls alone {loop_rate:.1f}); "
        f"eval {result['eval_images_per_s']} img/s; run {whole:.1f} s; CPU user {result['cpu_user_s']} s, "
        f"system {result['cpu_sys_s']} s")
    if FLAGS.bench_steps:
        rate, rates = in_memory_rate(num_classes)
        result["in_memory_images_per_s"] = round(rate, 1)
        result["cli_over_in_memory"] = round(train_rate / rate, 2)
        log(f"in memory {rate:.1f} img/s ({', '.join(f'{r:.1f}' for r in rates)}): "
            f"CLI / in memory {train_rate / rate:.2f}")
    if hasattr(os, "getloadavg"):
        result["load_avg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
