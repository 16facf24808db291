"""python -m kclass.evaluate --gin_file F --weights PATH [--gin_param ...] [--json]
                           [--report DIR | --fit_thresholds | --fit_reject --target_precision P]

Top-1/top-5 of any weights kclass loads (best_model/, checkpoint, .weights.h5, .pdparams) on VAL_LIST;
--report DIR adds kclass.report's tables and figures (confusion matrix, per-class scores, calibration,
confident mistakes; per-class AP/AUC and PR curves for multi-label) from the same evaluation.
--fit_reject (single-label) fits the max-probability threshold under which an image is "unknown", the
lowest whose accepted VAL_LIST images reach top-1 precision P, and stores it in the best_model/
directory; export and predict then answer `unknown` for images under it.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ INFO/WARNING noise off the console

from absl import app, flags, logging  # noqa: E402

from kclass import cli  # noqa: E402
from kclass.errors import ConfigError  # noqa: E402

cli.define_gin_flags()
cli.define_device_flags()
flags.DEFINE_string("weights", None, "best_model/ dir, checkpoint, .weights.h5 or .pdparams.")
flags.DEFINE_bool("json", False, "Print one JSON object on the last line.")
flags.DEFINE_bool("fit_thresholds", False, "Multi-label: fit per-class F1 thresholds on VAL_LIST, report at them "
                  "and store them in the weights' best_model/ directory.")
flags.DEFINE_bool("fit_reject", False, "Single-label: fit the max-probability threshold under which an image is "
                  "`unknown` on VAL_LIST (accepted images reach --target_precision) and store it in the "
                  "weights' best_model/ directory.")
flags.DEFINE_float("target_precision", None, "--fit_reject: top-1 precision the accepted images must reach, "
                   "e.g. 0.95.")
flags.DEFINE_string("report", None, "Write the evaluation report (tables, figures, report.json) into this folder.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def run():
        cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
        if sum(map(bool, (FLAGS.report, FLAGS.fit_thresholds, FLAGS.fit_reject))) > 1:
            raise ConfigError("--report, --fit_thresholds and --fit_reject: run them one after the other")
        if FLAGS.fit_reject and (FLAGS.target_precision is None or not FLAGS.weights):
            raise ConfigError("--fit_reject needs --target_precision P (e.g. 0.95) and --weights (a run's "
                              "best_model/ directory, where the threshold is stored)")
        if FLAGS.target_precision is not None and not FLAGS.fit_reject:
            raise ConfigError("--target_precision goes with --fit_reject")
        if FLAGS.report:
            from kclass.report.files import prepare_dir
            prepare_dir(FLAGS.report)  # refused now, not after the whole evaluation
        from kclass import configurables, experiment, recipe_check, thresholds

        exp = configurables.Experiment()
        recipe_check.check(exp)
        strategy = None  # TF's default: one device
        if FLAGS.cpu_devices or FLAGS.gpus:
            from kclass.engine.strategy import make_strategy
            strategy = make_strategy("mirrored", FLAGS.cpu_devices, FLAGS.gpus)
        if FLAGS.fit_thresholds:
            if not exp.multilabel:
                raise ConfigError("--fit_thresholds is for multi-label recipes (Experiment.multilabel = True)")
            fitted, report = thresholds.fit_thresholds(exp, FLAGS.weights, strategy)
            metrics = {k: v for k, v in report.items() if not isinstance(v, dict)}
            if FLAGS.weights and os.path.isdir(FLAGS.weights):
                thresholds.write_thresholds(FLAGS.weights, fitted)
        elif FLAGS.fit_reject:
            metrics = _fit_reject(exp, strategy)
        else:
            metrics = experiment.evaluate(exp, FLAGS.weights, strategy, report_dir=FLAGS.report)
            if FLAGS.report:
                print(f"report: {os.path.join(FLAGS.report, 'report.json')} and its figures", flush=True)
        if FLAGS.json:
            print(json.dumps(metrics))
        else:
            print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))

    cli.run_main(run)


def _fit_reject(exp, strategy):
    """Fits and stores the reject threshold; prints where it went. UserError when P is out of reach."""
    from kclass import thresholds
    from kclass.errors import UserError

    fit = thresholds.fit_reject_threshold(exp, FLAGS.weights, FLAGS.target_precision, strategy)
    if not fit["reached"]:
        raise UserError(f"top-1 precision {fit['target_precision']:g} cannot be reached on {fit['images']} "
                        f"validation images at any max-probability threshold: the best is {fit['precision']:.4f} "
                        f"(threshold {fit['reject_threshold']:.4f}, coverage {fit['coverage']:.4f}); nothing stored")
    if os.path.isdir(FLAGS.weights):
        print(f"reject threshold stored in {thresholds.write_reject_threshold(FLAGS.weights, fit)}", flush=True)
    else:
        print(f"reject threshold not stored: --weights {FLAGS.weights} is not a directory; give the run's "
              "best_model/ to store it where export and predict look", flush=True)
    return fit


if __name__ == "__main__":
    app.run(main)
