"""Data: list files and folders -> tf.data pipelines with PaddleClas's transforms in-graph."""
