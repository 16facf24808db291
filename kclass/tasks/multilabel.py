"""Multi-label classification: sigmoid cross-entropy per class, and mAP, AUC, P/R/F1 from the scores."""

import tensorflow as tf

from kclass import losses, metrics
from kclass.tasks.base import RecipeTask


class MultiLabelTask(RecipeTask):
    """Sigmoid BCE (`exp.pos_weight` weighs positives per class); hamming loss / label accuracy as
    sums, and mAP, AUC, P/R/F1 exactly from the sigmoid scores every evaluation gathers."""

    def loss(self, labels, logits):
        return losses.sigmoid_cross_entropy(labels, logits, self.exp.label_smoothing, self.exp.pos_weight)

    def eval_sums(self, labels, logits, weights):
        return metrics.multilabel_sums(labels, logits, weights)

    def train_sums(self, labels, logits, weights):
        return metrics.multilabel_sums(labels, logits, weights)

    def collect(self, labels, logits):
        """labels [N, C] and sigmoid scores float32 [N, C]."""
        return {"labels": labels, "scores": tf.sigmoid(tf.cast(logits, tf.float32))}

    def summarize(self, rows):
        report = metrics.multilabel_report(rows["labels"], rows["scores"])
        return {k: v for k, v in report.items() if isinstance(v, (int, float))}

    def eval_summary(self, rows, names, step):
        from kclass.report import summaries  # Matplotlib and TensorBoard's plugins: the chief only
        summaries.multi_label_eval(rows["labels"], rows["scores"], names, step)
