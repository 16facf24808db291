"""python -m kclass.evaluate --gin_file F --weights PATH [--gin_param ...] [--json]

Top-1/top-5 of any weights kclass loads (best_model/, checkpoint, .weights.h5, .pdparams) on VAL_LIST.
"""

import json

from absl import app, flags

from kclass import cli

cli.define_gin_flags()
flags.DEFINE_string("weights", None, "best_model/ dir, checkpoint, .weights.h5 or .pdparams.")
flags.DEFINE_bool("json", False, "Print one JSON object on the last line.")
FLAGS = flags.FLAGS


def main(argv):
    del argv

    def run():
        cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
        from kclass import configurables, experiment

        exp = configurables.Experiment()
        metrics = experiment.evaluate(exp, FLAGS.weights)
        if FLAGS.json:
            print(json.dumps(metrics))
        else:
            print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))

    cli.run_main(run)


if __name__ == "__main__":
    app.run(main)
