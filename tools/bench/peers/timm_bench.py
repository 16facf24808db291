"""timm's counterpart of tools/bench/train.py and infer.py, for side-by-side ratios.

Runs in its own venv (see tools/bench/README.md): `python tools/bench/peers/timm_bench.py
--model resnet50d [--precision bf16] [--channels_last]`. Prints one JSON line: training images/s
(SGD momentum 0.9, weight decay, CE), eval images/s at batch 64 and batch-1 latency in ms.
"""

import argparse
import json

import timm
import torch
from timing import median_rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet50d")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--channels_last", action="store_true")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = timm.create_model(args.model, num_classes=args.num_classes)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size).to(memory_format=fmt)
    labels = torch.randint(0, args.num_classes, (args.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16")

    def train_step():
        with autocast:
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    train = median_rate(train_step, args.steps, args.repeats, args.batch)

    model.eval()
    one = images[:1].contiguous(memory_format=fmt)

    def eval_step(x):
        with torch.inference_mode(), autocast:
            model(x)

    evals = median_rate(lambda: eval_step(images), args.steps, args.repeats, args.batch)
    latency_ms = 1000.0 / median_rate(lambda: eval_step(one), 5 * args.steps, args.repeats, 1)
    print(json.dumps({"framework": f"timm {timm.__version__} torch {torch.__version__}", "model": args.model,
                      "precision": args.precision, "channels_last": args.channels_last,
                      "train_images_per_s": round(train, 1), "eval_images_per_s": round(evals, 1),
                      "latency_ms": round(latency_ms, 2)}))


if __name__ == "__main__":
    main()
