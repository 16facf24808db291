"""What the loop optimises and measures, independent of the model: loss, metric sums, exact metrics."""

import abc
from typing import Dict


class Task(abc.ABC):
    """The methods the engine calls; tensors in, tensors out, all per replica (but `summarize`).

    kclass.tasks builds them from a recipe; a subclass gives `loss` and `eval_sums`, the rest default
    to adding nothing.
    """

    @abc.abstractmethod
    def loss(self, labels, outputs):
        """Per-example loss [N] (the engine sums it and divides by the global batch)."""

    @abc.abstractmethod
    def eval_sums(self, labels, outputs, weights) -> Dict:
        """{name: scalar sum} over an eval batch; reported as sum / number of images."""

    def eval_loss(self, labels, outputs):
        """The per-example loss [N] evaluation reports: `loss` unless training minimises another one
        (PaddleClas configures its Train and Eval losses apart too: class weights weigh training only)."""
        return self.loss(labels, outputs)

    def train_sums(self, labels, outputs, weights) -> Dict:
        """`eval_sums` on training batches ({}: only the loss, e.g. under Mixup)."""
        return {}

    def collect(self, labels, outputs) -> Dict:
        """{name: [N, ...]} gathered from every replica and worker, for metrics that do not decompose
        into sums (mAP, AUC) and for reports ({}: nothing gathered)."""
        return {}

    def summarize(self, rows: Dict) -> Dict[str, float]:
        """{metric: float} from the gathered `collect` rows ({name: ndarray}, padding removed), on the host."""
        return {}
