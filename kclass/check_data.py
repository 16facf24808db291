"""python -m kclass.check_data --gin_file F [--gin_param ...] [--json] [--out DIR] [--strict]

Checks a recipe's train and val lists before training: images per class and the imbalance ratio,
image sizes and modes, undecodable files, exact duplicates, train/val leaks (same bytes) and
near-duplicates across train/val (perceptual hash). Writes report.json, class_counts.csv and
class_counts.png into --out (default MODEL_DIR/data_check). --strict exits with status 1 when a
leak or an undecodable file is found.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ INFO/WARNING noise off the console

from absl import app, flags, logging  # noqa: E402

from kclass import cli  # noqa: E402
from kclass.errors import ConfigError  # noqa: E402

cli.define_gin_flags()
flags.DEFINE_bool("json", False, "Print the whole report as one JSON object on the last line.")
flags.DEFINE_string("out", None, "Folder for report.json, class_counts.csv/.png (default MODEL_DIR/data_check).")
flags.DEFINE_bool("strict", False, "Exit with status 1 on train/val leaks or undecodable files.")
flags.DEFINE_float("near_similarity", None, "Correlation of two images' 8x8 grey thumbnails from which they "
                   "are near-duplicates (default 0.98; lower finds more, and more false ones).",
                   lower_bound=-1.0, upper_bound=1.0)
FLAGS = flags.FLAGS


def class_names(exp):
    """Names from the recipe's LABEL_LIST, else a class-per-folder train source's folder names."""
    from kclass.data import lists

    for cfg in (exp.train_data, exp.val_data):
        if cfg is not None and cfg.label_list:
            return lists.read_label_names(cfg.label_list)
    if os.path.isdir(exp.train_data.source):
        return lists.folder_classes(exp.train_data.source)
    return None


def run():
    cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
    from kclass import configurables, splits
    from kclass.data import check, check_report

    exp = configurables.Experiment()
    if not isinstance(exp.num_classes, int) or exp.num_classes < 1:
        raise ConfigError(f"NUM_CLASSES (Experiment.num_classes) = {exp.num_classes!r}: expected a whole number > 0")
    if exp.train_data is None:
        raise ConfigError("the recipe has no train split (Experiment.train_data, TRAIN_LIST)")
    if exp.prepare is not None:  # e.g. the demo recipe writes its data set on first use
        exp.prepare()
    start = time.perf_counter()
    # Missing and non-image files stay in: they are findings here, not reasons to stop.
    train = splits.read_split(exp, exp.train_data, check_files=False)
    val = None
    if exp.val_data is not None and exp.val_data.source:
        val = splits.read_split(exp, exp.val_data, check_files=False)
    threshold = check.NEAR_SIMILARITY if FLAGS.near_similarity is None else FLAGS.near_similarity
    report = check.check(train, val, exp.num_classes, class_names(exp), exp.image_size, threshold)
    report["seconds"] = round(time.perf_counter() - start, 2)

    out = FLAGS.out or os.path.join(exp.model_dir, "data_check")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    check_report.write_csv(report, os.path.join(out, "class_counts.csv"))
    check_report.plot_class_counts(report, os.path.join(out, "class_counts.png"))
    print(check_report.text(report))
    print(f"checked {sum(report['images'].values())} images in {report['seconds']:.1f} s; "
          f"report.json, class_counts.csv and class_counts.png in {out}", flush=True)
    if FLAGS.json:
        print(json.dumps(report), flush=True)
    found = check.problems(report)
    if FLAGS.strict and found:
        print(f"kclass: check_data --strict: {'; '.join(found)}", file=sys.stderr, flush=True)
        sys.exit(1)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected argument(s): {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    cli.run_main(run)


if __name__ == "__main__":
    app.run(main)
