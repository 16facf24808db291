"""One exported demo model per test session (ResNet18_vd, 6 classes, 16x16, seeded random weights).

Exporting costs tens of seconds on 2 cores, so the tests that need it share one: the session fixture
`exported` in tests/conftest.py.
"""

import dataclasses
import os

from kclass.data.demo import make_demo_dataset
from kclass.data.pipeline import DataConfig
from kclass.experiment import Experiment

IMAGE_SIZE = 16
MODEL_NAME = "demo"


@dataclasses.dataclass
class Exported:
    exp: Experiment
    data_root: str
    weights: str
    base: str          # serving/models/demo
    version_dir: str   # serving/models/demo/1
    val_images: list   # encoded bytes of the val list, in list order
    val_paths: list


def demo_experiment(data_root, model_dir="unused", **changes):
    """The demo recipe at 16x16 as a plain Experiment (no Gin): its eval preprocessing is exported."""
    val = DataConfig(source=os.path.join(data_root, "val_list.txt"), data_root=data_root,
                     label_list=os.path.join(data_root, "label_list.txt"))
    return Experiment(model="ResNet18_vd", num_classes=6, image_size=IMAGE_SIZE, val_data=val, batch_size=16,
                      eval_batch_size=16, topk=2, model_dir=model_dir, verbose=False, **changes)


def demo_data(tmp_path_factory):
    # Same folder and arguments as conftest's `demo_data`, so both fixtures share one copy.
    root = tmp_path_factory.getbasetemp() / "demo16"
    return make_demo_dataset(str(root), train_per_class=24, val_per_class=8, image_size=IMAGE_SIZE)


def exported_demo(tmp_path_factory) -> Exported:
    from kclass import model_builder
    from kclass.data import lists
    from kclass.export import commands

    root = demo_data(tmp_path_factory)
    work = tmp_path_factory.mktemp("exported")
    exp = demo_experiment(root)
    model = model_builder.build_model(exp, load_pretrained=False)
    weights = str(work / "model.weights.h5")
    model.save_weights(weights)
    base = str(work / "models" / MODEL_NAME)
    result = commands.export_experiment(exp, weights, base, onnx=True)
    samples = lists.read_samples(exp.val_data.source, exp.val_data.data_root, exp.num_classes)
    images = [open(p, "rb").read() for p in samples.paths]
    return Exported(exp, root, weights, base, result["path"], images, list(samples.paths))
