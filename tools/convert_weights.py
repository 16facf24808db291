"""Converts a PaddleClas .pdparams file into a Keras .weights.h5 for a kclass model.

  python tools/convert_weights.py pretrained/ResNet50_vd_pretrained.pdparams \
      ResNet50_vd.weights.h5 --model ResNet50_vd [--num_classes 1000]

Without --num_classes the class count is read from the file's classifier. With another count the
classifier is skipped (one warning) and saved freshly initialised, as fine-tuning would.
"""

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kclass.cli import run_main  # noqa: E402
from kclass.errors import UserError, WeightsError  # noqa: E402


def file_classes(state):
    for name in ("fc.weight", "out.weight"):
        if name in state and state[name].ndim == 2:
            return int(state[name].shape[1])
    raise WeightsError("no classifier (fc.weight / out.weight) in the file: give --num_classes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="PaddleClas .pdparams (release/2.1 or pip 2.6 names)")
    parser.add_argument("dst", help="output, must end in .weights.h5")
    parser.add_argument("--model", required=True, help="kclass/PaddleClas model name, e.g. ResNet50_vd")
    parser.add_argument("--num_classes", type=int, default=None)
    parser.add_argument("--image_size", type=int, default=224, help="input size the model is built at")
    args = parser.parse_args(argv)
    if not args.dst.endswith(".weights.h5"):
        raise UserError(f"{args.dst}: the output name must end in .weights.h5 (Keras's weights format)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    from kclass import models
    from kclass.weights import load_pdparams, read_pdparams

    classes = args.num_classes or file_classes(read_pdparams(args.src))
    model = models.build(args.model, num_classes=classes, input_shape=(args.image_size, args.image_size, 3))
    result = load_pdparams(model, args.src, finetune=True)  # another --num_classes: a fresh classifier
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    model.save_weights(args.dst)
    print(f"{args.dst}: {args.model}, {classes} classes, from {args.src} ({result.style} names"
          f"{', classifier skipped' if result.skipped else ''})")


if __name__ == "__main__":
    run_main(main)
