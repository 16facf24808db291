"""The one training/eval loop for every tf.distribute strategy, with checkpoints and best_model."""
