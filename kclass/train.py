"""python -m kclass.train --gin_file gin/quick_start/demo.gin [--gin_param 'EPOCHS=3'] [--model_dir D]

Trains (or resumes) a recipe; the run directory holds checkpoints, best_model, logs and configs.
"""

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ INFO/WARNING noise off the console

from absl import app, flags, logging  # noqa: E402

from kclass import cli  # noqa: E402

cli.define_gin_flags()
cli.define_device_flags()
flags.DEFINE_enum("strategy", "auto", ["auto", "one_device", "mirrored", "multi_worker"],
                  "tf.distribute strategy; auto: all GPUs (or --cpu_devices), else one device; "
                  "multi_worker with TF_CONFIG.")
flags.DEFINE_enum("precision", None, ["fp32", "mixed_bfloat16", "mixed_float16"],
                  "Overrides the recipe's Experiment.precision (classifier and losses stay float32).")
flags.DEFINE_bool("deterministic", False, "Bit-reproducible runs (TF op determinism); somewhat slower.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def run():
        cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
        import gin

        from kclass import configurables, experiment, recipe_check
        from kclass.engine import op_threads
        from kclass.engine.strategy import describe, is_chief, make_strategy, tf_config_workers

        exp = configurables.Experiment()
        if FLAGS.precision:
            exp = dataclasses.replace(exp, precision=FLAGS.precision)
        recipe_check.check(exp)  # a misspelt MODEL or LR=-1 fails here, before MODEL_DIR is created
        # Before TF starts: its op pools are fixed then.
        replicas = (FLAGS.cpu_devices or 1) * max(tf_config_workers(), 1)
        threads = op_threads.configure(exp.batch_size, exp.image_size, replicas, exp.intra_op_threads,
                                       exp.inter_op_threads)
        strategy = make_strategy(FLAGS.strategy, FLAGS.cpu_devices, FLAGS.gpus)
        if exp.verbose:
            print(describe(strategy), flush=True)
            print(op_threads.describe(*threads), flush=True)
        if FLAGS.deterministic:
            import tensorflow as tf
            tf.config.experimental.enable_op_determinism()
        if is_chief(strategy):
            os.makedirs(exp.model_dir, exist_ok=True)
            from kclass import atomic_write
            atomic_write.text(os.path.join(exp.model_dir, "config.gin"), gin.config_str())
        metrics = experiment.train(exp, strategy)
        if is_chief(strategy):
            atomic_write.text(os.path.join(exp.model_dir, "operative_config.gin"), gin.operative_config_str())
            if metrics:
                print("final: " + " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in metrics.items()), flush=True)

    cli.run_main(run)


if __name__ == "__main__":
    app.run(main)
