"""Dumps PaddleClas-style augmentation draws and eval preprocessing, for kclass's transform checks.

Needs numpy and cv2 only (run it with the paddle venv's python, where PaddleClas's cv2 lives):
  python tools/paddle_parity/reference_draws.py crops --height 32 --width 32 --count 10000 \
      --seed 0 --out crops.npz
      -> boxes int64 [count, 4] (y, x, h, w) and flips bool [count]: RandCropImage then
         RandFlipImage drawn from one random.Random(seed), as one train image does
  python tools/paddle_parity/reference_draws.py eval --files files.txt --image_size 32 --out eval.npz
      -> per listed file i: decode_<i> uint8 [H, W, 3] (cv2, RGB) and eval_<i> uint8 [S, S, 3]
         (ResizeImage(resize_short) + CropImage, before normalisation)
"""

import argparse
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ppcls_transforms as T  # noqa: E402


def crops(args):
    rng = random.Random(args.seed)
    boxes, flips = [], []
    for _ in range(args.count):
        boxes.append(T.crop_box(args.height, args.width, rng))
        flips.append(T.flip_draw(rng))
    np.savez(args.out, boxes=np.asarray(boxes, np.int64), flips=np.asarray(flips, bool))


def evals(args):
    with open(args.files) as f:
        files = [line.strip() for line in f if line.strip()]
    arrays = {}
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            encoded = f.read()
        arrays[f"decode_{i}"] = T.decode(encoded)
        arrays[f"eval_{i}"] = T.eval_uint8(encoded, args.image_size)
    np.savez(args.out, **arrays)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("crops")
    c.add_argument("--height", type=int, required=True)
    c.add_argument("--width", type=int, required=True)
    c.add_argument("--count", type=int, default=10000)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", required=True)
    e = sub.add_parser("eval")
    e.add_argument("--files", required=True, help="one image path per line")
    e.add_argument("--image_size", type=int, required=True)
    e.add_argument("--out", required=True)
    args = parser.parse_args()
    (crops if args.command == "crops" else evals)(args)


if __name__ == "__main__":
    main()
