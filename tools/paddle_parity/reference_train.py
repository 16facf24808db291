"""PaddleClas 2.6's training engine for the CIFAR recipes, rebuilt for side-by-side runs with kclass.

Runs with the paddle venv's python (`bash .ci/paddle_env.sh` builds it), never with kclass's:
  .venv-paddle/bin/python tools/paddle_parity/reference_train.py \
      --train_list DATA/train_list.txt --val_list DATA/test_list.txt --data_root DATA \
      --model ResNet50_vd --num_classes 10 --epochs 3 --batch_size 64 --lr 0.01 --seed 42 \
      --out run.jsonl

The pip `paddleclas` package ships the models but not the engine, data or optimizer code; this file
supplies them from the engine's observed behaviour:
- model: `paddleclas.<model>(class_num=N)`, unchanged (ImageNet stem even at 32x32);
- seed: paddle, numpy and `random` are seeded before the model is built, so the initial weights
  depend on the seed alone;
- data: PaddleClas list files (`relative/path label`), transforms in ppcls_transforms.py; the
  sampler is paddle's DistributedBatchSampler (shuffle, drop_last False): it reshuffles on every
  pass with np.random.RandomState(pass index), the index counting from 0 as in the engine;
- loss: softmax cross-entropy, mean over the batch; under Mixup, CE against the mixed one-hot
  targets, sum(-target * log_softmax). Paddle's kernels clip log-probabilities at -64, so the loss the
  engine logs caps each image at ~64 (the gradient is the exact CE's). train_loss and eval_loss below
  are the exact CE, computed from the logits in float64, as kclass reports it; *_reported are the
  capped figures the engine logs;
- optimizer: paddle's Momentum(0.9) with L2Decay(1e-4). A parameter whose ParamAttr carries its own
  regularizer keeps it: paddleclas's MobileNetV3 gives its BN scale/offset L2Decay(0.0), so they
  get no decay there, while ResNet50_vd decays every parameter, BN and fc bias included;
- LR: CosineAnnealingDecay stepped after every iteration, T_max = epochs x ceil(N / batch);
- eval after every epoch on the whole val list, batch 64, unshuffled.

One deliberate difference: the engine draws augmentation from the global `random` of each loader
worker, which is not reproducible from run to run. Here each image's draws come from a
`random.Random` keyed by (seed, epoch, index): the same distribution, but reproducible and
independent of --workers. Mixup's draws come from one np.random.RandomState(seed) in the main
process (the engine draws them in the workers).

Output (--out, JSON lines): a first line with "kind": "run" (configuration, versions, steps per
epoch, which parameters get decay), then one "kind": "epoch" line per epoch with engine, model,
seed, epoch, train_loss (epoch mean over images), eval_loss, train_loss_reported, eval_loss_reported,
top1, top5, train_seconds, eval_seconds, train_images_per_s and step_losses (each step's exact
batch-mean CE).
"""

import argparse
import json
import math
import os
import random
import sys
import time

import sklearn  # noqa: F401  Imported before paddle: the reverse order segfaults in zlib (paddle 2.6.2).
import numpy as np
import paddle
import paddle.nn.functional as F

import paddleclas

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ppcls_transforms as T  # noqa: E402

MODELS = ("ResNet50_vd", "MobileNetV3_large_x1_0")
MOMENTUM = 0.9
L2_DECAY = 1e-4
EVAL_BATCH = 64
LOG_EVERY = 10


def read_list(path, root):
    """PaddleClas list file -> [(absolute image path, int label)]; one clear error per bad line."""
    samples = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise SystemExit(f"{path}:{number}: expected `relative/path label`, got {line!r}")
            samples.append((os.path.join(root, parts[0]), int(parts[1])))
    if not samples:
        raise SystemExit(f"{path}: no samples")
    return samples


class ListDataset(paddle.io.Dataset):
    """(image float32 [3, S, S], label int64) per list line; `epoch` keys the train augmentation."""

    def __init__(self, samples, image_size, train, seed):
        super().__init__()
        self.samples, self.image_size, self.train, self.seed = samples, image_size, train, seed
        self.epoch = 0  # set before each pass; workers fork per pass and see it

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        with open(path, "rb") as f:
            encoded = f.read()
        if self.train:
            rng = random.Random(f"{self.seed}/{self.epoch}/{index}")
            image = T.train_image(encoded, self.image_size, rng)
        else:
            image = T.eval_image(encoded, self.image_size)
        return image, np.int64(label)


def loader(dataset, batch_size, shuffle, workers):
    sampler = paddle.io.DistributedBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle,
                                                drop_last=False)
    return paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=workers, return_list=True)


def decay_summary(model):
    """{coefficient: number of trainable tensors}: what Momentum's L2Decay(1e-4) leaves in place."""
    counts = {}
    for param in model.parameters():
        if param.stop_gradient:
            continue  # BN moving statistics
        coeff = param.regularizer._coeff if param.regularizer is not None else L2_DECAY
        counts[str(coeff)] = counts.get(str(coeff), 0) + 1
    return counts


def cross_entropy(logits, labels, soft_targets=None):
    """Softmax CE, mean over the batch; against soft targets when given (Mixup)."""
    if soft_targets is None:
        return F.cross_entropy(logits, labels)
    return paddle.mean(paddle.sum(-soft_targets * F.log_softmax(logits, axis=-1), axis=-1))


def exact_cross_entropy(logits, labels, soft_targets=None):
    """Batch-mean softmax CE of numpy `logits` [N, C] in float64, never capped: kclass's figure.

    Paddle's kernels clip log-probabilities at -64, so the loss they report caps each image at ~64
    (their gradient is the exact CE's). In an unstable first epoch images pass that cap: the reported
    mean then reads lower than the CE both engines descend.
    """
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    if soft_targets is not None:
        return float(-(np.asarray(soft_targets, np.float64) * log_probs).sum(axis=1).mean())
    labels = np.asarray(labels).reshape(-1)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def evaluate(model, val_loader, num_classes):
    """(exact mean CE, CE as Paddle reports it, top-1, top-5) of `model` in eval mode over the loader."""
    model.eval()
    k = min(5, num_classes)
    total, loss_sum, reported_sum, top1, top5 = 0, 0.0, 0.0, 0, 0
    with paddle.no_grad():
        for images, labels in val_loader:
            labels = labels.reshape([-1, 1])
            logits = model(images)
            n = int(labels.shape[0])
            loss_sum += exact_cross_entropy(logits.numpy(), labels.numpy()) * n
            reported_sum += float(F.cross_entropy(logits, labels)) * n
            order = np.argsort(-logits.numpy(), axis=1)[:, :k]
            truth = labels.numpy()
            top1 += int((order[:, :1] == truth).sum())
            top5 += int((order == truth).any(axis=1).sum())
            total += n
    model.train()
    return loss_sum / total, reported_sum / total, top1 / total, top5 / total


def eval_batch_logits(model, dataset, count):
    """The first `count` val images (as the eval loader makes them) and the model's eval logits."""
    images = np.stack([dataset[i][0] for i in range(min(count, len(dataset)))])
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.to_tensor(images)).numpy()
    model.train()
    return images, logits


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train_list", required=True)
    p.add_argument("--val_list", required=True)
    p.add_argument("--data_root", required=True, help="list paths are relative to it")
    p.add_argument("--model", choices=MODELS, default="ResNet50_vd")
    p.add_argument("--num_classes", type=int, required=True)
    p.add_argument("--image_size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--mixup_alpha", type=float, default=0.0, help="0: Mixup off")
    p.add_argument("--workers", type=int, default=2, help="loader worker processes (the engine: 2)")
    p.add_argument("--out", required=True, help="JSON lines file")
    p.add_argument("--save_init", help="PATH.pdparams: the weights before step 0")
    p.add_argument("--save_final", help="PATH.pdparams: weights and BN statistics after training")
    p.add_argument("--dump_eval_batch", help="PATH.npz: the first val images, initial and final "
                   "eval-mode logits (for loader parity checks)")
    p.add_argument("--max_steps", type=int, default=0,
                   help="stop each epoch after this many steps (smoke tests; 0: the whole epoch). "
                        "The LR schedule stays that of full epochs.")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    paddle.set_device("cpu")
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)

    train_set = ListDataset(read_list(args.train_list, args.data_root), args.image_size, True, args.seed)
    val_set = ListDataset(read_list(args.val_list, args.data_root), args.image_size, False, args.seed)
    train_loader = loader(train_set, args.batch_size, True, args.workers)
    val_loader = loader(val_set, EVAL_BATCH, False, args.workers)

    model = getattr(paddleclas, args.model)(class_num=args.num_classes)
    model.train()
    if args.save_init:
        paddle.save(model.state_dict(), args.save_init)
    if args.dump_eval_batch:
        dump_images, init_logits = eval_batch_logits(model, val_set, 16)

    steps_per_epoch = len(train_loader)  # ceil: drop_last False
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(learning_rate=args.lr,
                                                        T_max=args.epochs * steps_per_epoch)
    optimizer = paddle.optimizer.Momentum(learning_rate=schedule, momentum=MOMENTUM,
                                          parameters=model.parameters(),
                                          weight_decay=paddle.regularizer.L2Decay(L2_DECAY))
    mix_rng = np.random.RandomState(args.seed)

    out = open(args.out, "w")
    header = {"engine": "paddle", "kind": "run", "model": args.model, "seed": args.seed,
              "paddle": paddle.__version__, "args": vars(args), "train_images": len(train_set),
              "val_images": len(val_set), "steps_per_epoch": steps_per_epoch,
              "t_max": args.epochs * steps_per_epoch, "l2_decay_tensors": decay_summary(model)}
    out.write(json.dumps(header) + "\n")
    out.flush()
    print(f"{args.model} seed {args.seed}: {len(train_set)} train / {len(val_set)} val images, "
          f"{steps_per_epoch} steps per epoch, L2 decay per tensor {header['l2_decay_tensors']}",
          flush=True)

    for epoch in range(1, args.epochs + 1):
        train_set.epoch = epoch
        step_losses, images_seen, loss_sum, reported_sum = [], 0, 0.0, 0.0
        start = time.perf_counter()
        for step, (images, labels) in enumerate(train_loader, 1):
            labels = labels.reshape([-1, 1])
            soft = None
            if args.mixup_alpha > 0:
                mixed, targets, _ = T.mixup(images.numpy(), labels.numpy(), args.num_classes,
                                            args.mixup_alpha, mix_rng)
                images, soft = paddle.to_tensor(mixed), paddle.to_tensor(targets)
            lr = optimizer.get_lr()
            logits = model(images)
            loss = cross_entropy(logits, labels, soft)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
            n = int(labels.shape[0])
            value = exact_cross_entropy(logits.numpy(), labels.numpy(), None if soft is None else soft.numpy())
            step_losses.append(value)
            loss_sum += value * n
            reported_sum += float(loss) * n
            images_seen += n
            if not math.isfinite(value):
                print(f"epoch {epoch} step {step}: loss {value}", flush=True)
            if step % LOG_EVERY == 0 or step == steps_per_epoch:
                recent = step_losses[-LOG_EVERY:]
                rate = images_seen / (time.perf_counter() - start)
                print(f"[epoch {epoch}/{args.epochs} step {step}/{steps_per_epoch}] loss {value:.4f} "
                      f"(last {len(recent)} mean {sum(recent) / len(recent):.4f}) lr {lr:.6f} "
                      f"{rate:.1f} img/s", flush=True)
            if args.max_steps and step >= args.max_steps:
                break
        train_seconds = time.perf_counter() - start

        start = time.perf_counter()
        eval_loss, eval_reported, top1, top5 = evaluate(model, val_loader, args.num_classes)
        eval_seconds = time.perf_counter() - start
        record = {"engine": "paddle", "kind": "epoch", "model": args.model, "seed": args.seed,
                  "epoch": epoch, "train_loss": loss_sum / images_seen, "eval_loss": eval_loss,
                  "train_loss_reported": reported_sum / images_seen, "eval_loss_reported": eval_reported,
                  "top1": top1, "top5": top5, "train_seconds": train_seconds,
                  "eval_seconds": eval_seconds, "train_images_per_s": images_seen / train_seconds,
                  "steps": len(step_losses), "step_losses": step_losses}
        out.write(json.dumps(record) + "\n")
        out.flush()
        print(f"[epoch {epoch}/{args.epochs}] train loss {record['train_loss']:.4f}, eval loss "
              f"{eval_loss:.4f}, top-1 {top1:.4f}, top-5 {top5:.4f} ({train_seconds:.0f} s train, "
              f"{eval_seconds:.0f} s eval, {record['train_images_per_s']:.1f} img/s)", flush=True)
    out.close()

    if args.save_final:
        paddle.save(model.state_dict(), args.save_final)
    if args.dump_eval_batch:
        _, final_logits = eval_batch_logits(model, val_set, 16)
        np.savez(args.dump_eval_batch, images=dump_images, init_logits=init_logits,
                 final_logits=final_logits)


if __name__ == "__main__":
    main()
