"""The recipe's validation split as indexed evaluation batches."""

import numpy as np
import tensorflow as tf

from kclass import splits
from tests.test_experiment import _report_recipe


def test_indexed_eval_batches_cover_every_image_once_over_workers(demo_data):
    """Two workers x 2 replicas (input contexts as MultiWorkerMirroredStrategy makes them): the rows that
    are not padding name each list position once, each with its own label."""
    exp = _report_recipe(demo_data, eval_batch_size=20)  # 48 images -> 60 rows, 12 of them padding
    samples = splits.read_split(exp, exp.val_data)
    fn = splits.indexed_eval_dataset_fn(exp, samples)
    seen = []
    for worker in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=4)
        for images, labels, weights, index in fn(ctx):
            assert images.shape[0] == 5
            keep = weights.numpy() > 0
            np.testing.assert_array_equal(labels.numpy()[keep], samples.labels[index.numpy()[keep]])
            seen += index.numpy()[keep].tolist()
    assert sorted(seen) == list(range(48))
