"""The reference's training step on batches someone else made: Paddle's side of tools/fidelity/paired.py.

Run in the Paddle venv:
  python train_on_batches.py --batches B.npz --model ResNet50_vd --num_classes 10 --seed 1 \
      --epochs 3 --lr 0.01 [--dtype float64] [--init INIT.pdparams] [--steps N] [--grads_out PREFIX]
  python train_on_batches.py --batches B.npz --model ResNet50_vd --seed 1 --save_init INIT.pdparams
B.npz holds x float32 [N, S, S, 3] (normalised, NHWC), y int64 [N] and sizes [steps] (images per step).
The model is `paddleclas.MODEL(class_num)` drawn after `paddle.seed(seed)` (or loaded from --init), trained
in train mode with reference_train.py's optimizer (Momentum 0.9 + L2Decay 1e-4, CosineAnnealingDecay
stepped per iteration over epochs x steps) and loss. Prints one JSON line: {"losses": [per step], "reported": [per step]}: the batch-mean CE of
the train-mode forward, exact (what kclass reports) and as Paddle's kernel reports it (each image's loss
capped at ~64: it clips log-probabilities at -64; the gradient is the exact CE's).
"""

import argparse
import json

from reference_train import L2_DECAY, MOMENTUM, cross_entropy, exact_cross_entropy  # first: it imports sklearn before paddle

import numpy as np
import paddle
import paddleclas


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", required=True)
    p.add_argument("--model", default="ResNet50_vd")
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3, help="for the cosine's length only")
    p.add_argument("--train_epochs", type=int, default=1, help="epochs the batches hold (the cosine's step count "
                   "is epochs x steps per epoch)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--save_init", help="only write the seed's initial weights here (kclass loads them)")
    p.add_argument("--init", help="start from these weights instead of the seed's")
    p.add_argument("--save_final", help="after the steps: the weights and BN statistics reached (.pdparams)")
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: all)")
    p.add_argument("--grads_out", help="after the steps: PREFIX_init.pdparams (the weights reached), the "
                   "float64 and float32 gradients on the next batch (PREFIX_grad64/32.pdparams) and that "
                   "batch (PREFIX.npz), the files ../shared/fidelity/kclass_grads.py reads")
    args = p.parse_args()
    data = np.load(args.batches)
    x, y, sizes = data["x"], data["y"], [int(n) for n in data["sizes"]]
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    net = getattr(paddleclas, args.model)(class_num=args.num_classes)
    if args.save_init:
        paddle.save(net.state_dict(), args.save_init)
        return
    if args.init:
        net.set_state_dict(paddle.load(args.init))
    if args.dtype == "float64":
        net.to(dtype="float64")
    net.train()
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=args.epochs * (len(sizes) // args.train_epochs))
    opt = paddle.optimizer.Momentum(learning_rate=schedule, momentum=MOMENTUM, parameters=net.parameters(),
                                    weight_decay=paddle.regularizer.L2Decay(L2_DECAY))
    losses, reported, start = [], [], 0
    for n in sizes[:args.steps or None]:
        images = paddle.to_tensor(np.ascontiguousarray(x[start:start + n].transpose(0, 3, 1, 2)).astype(args.dtype))
        logits = net(images)
        loss = cross_entropy(logits, paddle.to_tensor(y[start:start + n]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        schedule.step()
        losses.append(exact_cross_entropy(logits.numpy(), y[start:start + n]))
        reported.append(float(loss))
        start += n
    if args.save_final:
        paddle.save(net.state_dict(), args.save_final)
    if args.grads_out:
        dump_gradients(args, net, x[start:start + sizes[len(losses)]], y[start:start + sizes[len(losses)]])
    print(json.dumps({"losses": losses, "reported": reported}))


def dump_gradients(args, net, x, y):
    """The CE gradient of one train-mode forward at the current weights, in float64 and in float32."""
    state = {k: paddle.to_tensor(v.numpy().astype("float32")) for k, v in net.state_dict().items()}
    paddle.save(state, args.grads_out + "_init.pdparams")
    images = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype("float32")
    losses = {}
    for dtype in ("float64", "float32"):
        model = getattr(paddleclas, args.model)(class_num=args.num_classes)
        model.set_state_dict(state)
        if dtype == "float64":
            model.to(dtype="float64")
        model.train()
        loss = cross_entropy(model(paddle.to_tensor(images.astype(dtype))), paddle.to_tensor(y))
        loss.backward()
        params = dict(model.named_parameters())
        grads = {}
        for k, v in model.state_dict().items():
            g = params[k].grad if k in params else None
            grads[k] = paddle.to_tensor((g.numpy() if g is not None else np.zeros(v.shape)).astype("float32"))
        paddle.save(grads, args.grads_out + f"_grad{dtype[-2:]}.pdparams")
        losses[dtype] = float(loss)
    np.savez(args.grads_out + ".npz", x=images, y=y, loss64=losses["float64"], loss32=losses["float32"])


if __name__ == "__main__":
    main()
