"""python -m kclass.evaluate --gin_file F --weights PATH [--gin_param ...] [--json] [--report DIR]

Top-1/top-5 of any weights kclass loads (best_model/, checkpoint, .weights.h5, .pdparams) on VAL_LIST;
--report DIR adds kclass.report's tables and figures (confusion matrix, per-class scores, calibration,
confident mistakes; per-class AP/AUC and PR curves for multi-label) from the same evaluation.
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
flags.DEFINE_string("report", None, "Write the evaluation report (tables, figures, report.json) into this folder.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def run():
        cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
        if FLAGS.report:
            if FLAGS.fit_thresholds:
                raise ConfigError("--report and --fit_thresholds: run them one after the other")
            from kclass.report.files import prepare_dir
            prepare_dir(FLAGS.report)  # refused now, not after the whole evaluation
        from kclass import configurables, experiment

        exp = configurables.Experiment()
        experiment.check(exp)
        strategy = None  # TF's default: one device
        if FLAGS.cpu_devices or FLAGS.gpus:
            from kclass.engine.strategy import make_strategy
            strategy = make_strategy("mirrored", FLAGS.cpu_devices, FLAGS.gpus)
        if FLAGS.fit_thresholds:
            if not exp.multilabel:
                raise ConfigError("--fit_thresholds is for multi-label recipes (Experiment.multilabel = True)")
            thresholds, report = experiment.fit_thresholds(exp, FLAGS.weights, strategy)
            metrics = {k: v for k, v in report.items() if not isinstance(v, dict)}
            if FLAGS.weights and os.path.isdir(FLAGS.weights):
                experiment.write_thresholds(FLAGS.weights, thresholds)
        else:
            metrics = experiment.evaluate(exp, FLAGS.weights, strategy, report_dir=FLAGS.report)
            if FLAGS.report:
                print(f"report: {os.path.join(FLAGS.report, 'report.json')} and its figures", flush=True)
        if FLAGS.json:
            print(json.dumps(metrics))
        else:
            print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))

    cli.run_main(run)


if __name__ == "__main__":
    app.run(main)
