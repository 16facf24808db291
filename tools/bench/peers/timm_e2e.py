"""timm end to end: what a timm user runs on the same list files, the counterpart of tools/bench/recipe.py.

Runs in the timm venv (see tools/bench/README.md):
    python tools/bench/peers/timm_e2e.py --model resnet50d --train_list L --val_list V [--data_root D] \
        --num_classes 10 [--image_size 32] [--epochs 2] [--batch 64] [--workers 2] [--channels_last]

A torchvision-style dataset reads `path label` lines with PIL; training: RandomResizedCrop (scale 0.08-1,
ratio 3/4-4/3), horizontal flip, ToTensor, ImageNet normalisation; eval: resize of the short side to
size * 8 / 7 and centre crop. DataLoader with `workers` persistent worker processes (timm's loader
keeps its workers), shuffle, drop_last; SGD momentum 0.9 + weight decay 1e-4, CE; every epoch an eval
pass and a checkpoint (model and optimizer state, `torch.save`). Reports training images/s after
warm-up (epochs 2.., eval and checkpoint excluded), eval images/s (last eval), each epoch's wall time
and the whole run's; one JSON line last.
"""

import argparse
import json
import os
import tempfile
import time

import timm
import torch
from PIL import Image
from torchvision import transforms

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class ListDataset(torch.utils.data.Dataset):
    """`path label` lines (paths relative to `root`), images decoded with PIL as torchvision's ImageFolder."""

    def __init__(self, list_file, root, transform):
        with open(list_file) as f:
            rows = [line.split() for line in f if line.strip()]
        self.samples = [(os.path.join(root, path), int(label)) for path, label in rows]
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        with open(path, "rb") as f:
            image = Image.open(f).convert("RGB")
        return self.transform(image), label


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet50d")
    parser.add_argument("--train_list", required=True)
    parser.add_argument("--val_list", required=True)
    parser.add_argument("--data_root", default=None, help="Default: the train list's folder.")
    parser.add_argument("--num_classes", type=int, required=True)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.04 * 64 / 1024)
    parser.add_argument("--channels_last", action="store_true")
    args = parser.parse_args()
    root = args.data_root or os.path.dirname(os.path.abspath(args.train_list))
    size = args.image_size
    normalize = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    train_set = ListDataset(args.train_list, root, transforms.Compose(
        [transforms.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
         transforms.RandomHorizontalFlip(), *normalize]))
    val_set = ListDataset(args.val_list, root, transforms.Compose(
        [transforms.Resize(size * 8 // 7), transforms.CenterCrop(size), *normalize]))
    loader = dict(batch_size=args.batch, num_workers=args.workers, persistent_workers=args.workers > 0)
    train_loader = torch.utils.data.DataLoader(train_set, shuffle=True, drop_last=True, **loader)
    val_loader = torch.utils.data.DataLoader(val_set, shuffle=False, **loader)

    began = time.perf_counter()
    torch.manual_seed(0)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = timm.create_model(args.model, num_classes=args.num_classes).to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    epochs, top1 = [], None
    with tempfile.TemporaryDirectory(prefix="timm-e2e-") as ckpt_dir:
        for epoch in range(args.epochs):
            start = time.perf_counter()
            model.train()
            images = 0
            for x, y in train_loader:
                loss = torch.nn.functional.cross_entropy(model(x.contiguous(memory_format=fmt)), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                images += len(y)
            trained = time.perf_counter()
            model.eval()
            correct = seen = 0
            with torch.inference_mode():
                for x, y in val_loader:
                    correct += int((model(x.contiguous(memory_format=fmt)).argmax(-1) == y).sum())
                    seen += len(y)
            evaluated = time.perf_counter()
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch},
                       os.path.join(ckpt_dir, f"epoch{epoch}.pt"))
            saved = time.perf_counter()
            top1 = correct / seen
            epochs.append({"epoch": epoch + 1, "wall_s": round(saved - start, 2),
                           "train_s": round(trained - start, 2), "eval_s": round(evaluated - trained, 2),
                           "save_s": round(saved - evaluated, 2), "images": images, "eval_images": seen})
    whole = time.perf_counter() - began
    later = epochs[1:] or epochs
    last = epochs[-1]
    print(json.dumps({"framework": f"timm {timm.__version__} torch {torch.__version__}", "model": args.model,
                      "image_size": size, "batch": args.batch, "workers": args.workers,
                      "channels_last": args.channels_last, "torch_threads": torch.get_num_threads(),
                      "train_images_per_s": round(sum(e["images"] for e in later) / sum(e["train_s"] for e in later), 1),
                      "eval_images_per_s": round(last["eval_images"] / last["eval_s"], 1),
                      "epoch_wall_s": [e["wall_s"] for e in epochs], "epochs_detail": epochs,
                      "run_wall_s": round(whole, 1), "top1": round(top1, 4)}))


if __name__ == "__main__":
    main()
