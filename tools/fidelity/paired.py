"""Both engines' training step on the same batches from the same initial weights: data and init held fixed.

  python tools/fidelity/paired.py --data ../shared/data/cifar10-mini --seeds 1,2 --out output/fidelity/paired

For each seed: one epoch (or --train_epochs) of kclass's own train stream (the CLI's pipeline, DataConfig
of the CIFAR recipe; --sampling paddleclas takes PaddleClas's epoch orders) is written to
OUT/batches_s{seed}*.npz; the Paddle venv draws the reference's initial weights for the seed;
then kclass (its model, `optim.Momentum`, cosine schedule, as `experiment.make_trainer` builds them) and the
reference (`tools/paddle_parity/train_on_batches.py`) each train one epoch on those batches from those
weights. What differs between the two rows is the engine alone. Prints per engine and seed the 10-step
means and the epoch-mean loss, then the mean and spread over the seeds, and one JSON line. Losses are the
exact batch-mean CE on both sides; "reported" repeats them capped as Paddle's kernel reports them (it
clips log-probabilities at -64, so no image counts more than ~64; the gradients are the same).
--kclass_bn keras sends every BN through Keras's own layer; --dtype float64 runs both engines in float64.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def dump_batches(args, seed, path):
    from kclass.data import lists, pipeline
    train_list = os.path.join(args.data, args.train_list)
    samples = lists.read_samples(train_list, args.data, args.num_classes)
    # RandCrop + flip, ImageNet mean/std; --sampling paddleclas: the epoch orders of PaddleClas's sampler
    cfg = pipeline.DataConfig(source=train_list, data_root=args.data, sampling=args.sampling)
    steps = pipeline.steps_per_epoch(len(samples), args.batch) * args.train_epochs
    xs, ys = [], []
    for x, y in pipeline.train_dataset(cfg, samples, args.image_size, args.batch, args.num_classes, seed).take(steps):
        xs.append(x.numpy())
        ys.append(y.numpy())
    np.savez(path, x=np.concatenate(xs), y=np.concatenate(ys), sizes=[len(y) for y in ys])


def train_kclass(args, batches, init, seed):
    """Per-step losses of kclass's step on `batches` from the `init` .pdparams."""
    import tensorflow as tf
    from kclass import optim
    from kclass.layers import batch_norm
    from kclass.models import build, l2_exclude_fn
    from kclass.weights import load_weights
    if args.kclass_bn == "keras":
        batch_norm.BatchNormalization._can_fuse = lambda self, inputs, mask: False
    data = np.load(batches)
    x, y, sizes = data["x"].astype(args.dtype), data["y"], [int(n) for n in data["sizes"]]
    model = build(args.model, num_classes=args.num_classes, input_shape=(args.image_size, args.image_size, 3),
                  dtype=args.dtype)
    load_weights(model, init)
    cfg = optim.OptimizerConfig(lr=args.lr, momentum=0.9, l2=1e-4, schedule="cosine", warmup_epochs=0)
    schedule = optim.build_schedule(cfg, args.batch, len(sizes) // args.train_epochs, args.epochs)
    opt = optim.build_optimizer(cfg, schedule, l2_exclude=l2_exclude_fn(model))

    @tf.function(reduce_retracing=True)
    def step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss, tf.reduce_mean(capped_cross_entropy(labels, logits))

    losses, reported, start = [], [], 0
    for n in sizes[:args.steps or None]:
        loss, capped = step(x[start:start + n], y[start:start + n])
        losses.append(float(loss))
        reported.append(float(capped))
        start += n
    if args.save_final:
        model.save_weights(os.path.join(args.out, f"kclass_final_s{seed}.weights.h5"))
    return losses, reported


def capped_cross_entropy(labels, logits):
    """Per-image CE [N] as Paddle's kernel reports it: log-probabilities clipped at -64 (so at most ~64)."""
    import tensorflow as tf
    shifted = tf.maximum(logits - tf.reduce_max(logits, -1, keepdims=True), tf.cast(-64.0, logits.dtype))
    log_probs = shifted - tf.reduce_logsumexp(shifted, -1, keepdims=True)
    return -tf.gather(log_probs, labels, batch_dims=1)


def paddle_run(args, batches, seed, extra, parse=True):
    venv = os.environ.get("KCLASS_PADDLE_VENV", os.path.join(ROOT, ".venv-paddle"))
    command = [os.path.join(venv, "bin", "python"), os.path.join(ROOT, "tools/paddle_parity/train_on_batches.py"),
               "--batches", batches, "--model", args.model, "--num_classes", str(args.num_classes),
               "--seed", str(seed), "--epochs", str(args.epochs), "--lr", str(args.lr), "--dtype", args.dtype,
               "--train_epochs", str(args.train_epochs),
               "--steps", str(args.steps), *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"paddle side failed ({' '.join(command)}):\n{done.stderr[-2000:]}")
    if not parse:
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["losses"], result["reported"]


def paddle_final(args, seed):
    return ["--save_final", os.path.join(args.out, f"paddle_final_s{seed}.pdparams")] if args.save_final else []


def epoch_mean(losses, sizes):
    weights = np.array(sizes[:len(losses)], float)
    return float((np.array(losses) * weights).sum() / weights.sum())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--train_list", default="train_list.txt")
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--image_size", type=int, default=32)
    p.add_argument("--model", default="ResNet50_vd")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=3, help="the cosine's length")
    p.add_argument("--train_epochs", type=int, default=1, help="epochs of the stream to train (at most --epochs)")
    p.add_argument("--steps", type=int, default=0, help="train only this many steps (0: the epoch)")
    p.add_argument("--sampling", default="uniform", choices=("uniform", "paddleclas"),
                   help="the stream's epoch orders: kclass's (from the seed) or PaddleClas's sampler's")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--kclass_bn", default="fused", choices=("fused", "keras"))
    p.add_argument("--engines", default="kclass,paddle")
    p.add_argument("--save_final", action="store_true", help="write each engine's weights and BN statistics "
                   "after the steps: OUT/kclass_final_sSEED.weights.h5, OUT/paddle_final_sSEED.pdparams")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    engines = args.engines.split(",")
    table = {e: {} for e in engines}
    reported = {e: {} for e in engines}  # the same losses capped as Paddle's kernel reports them
    sizes_of = {}  # seed -> images per step
    for seed in [int(s) for s in args.seeds.split(",")]:
        stream = (f"_e{args.train_epochs}" if args.train_epochs > 1 else "") + (
            "_paddleclas_order" if args.sampling == "paddleclas" else "")
        batches = os.path.join(args.out, f"batches_s{seed}{stream}.npz")
        init = os.path.join(args.out, f"init_{args.model}_s{seed}.pdparams")
        if not os.path.exists(batches):
            dump_batches(args, seed, batches)
        sizes = sizes_of[seed] = [int(n) for n in np.load(batches)["sizes"]]
        if not os.path.exists(init):  # the reference draws the weights and saves them
            paddle_run(args, batches, seed, ["--save_init", init], parse=False)
        for engine in engines:
            losses, capped = (train_kclass(args, batches, init, seed) if engine == "kclass"
                              else paddle_run(args, batches, seed, ["--init", init, *paddle_final(args, seed)]))
            table[engine][seed], reported[engine][seed] = losses, capped
            means = [round(float(np.mean(losses[i:i + 10])), 2) for i in range(0, len(losses), 10)]
            print(f"{engine:6s} seed {seed}: 10-step means {means} epoch mean {epoch_mean(losses, sizes):.3f} "
                  f"(capped as Paddle reports: {epoch_mean(capped, sizes):.3f})", flush=True)
            if args.train_epochs > 1:
                spe = len(sizes) // args.train_epochs
                print(f"{engine:6s} seed {seed}: per-epoch means " + " ".join(
                    f"{epoch_mean(losses[e * spe:(e + 1) * spe], sizes[e * spe:(e + 1) * spe]):.3f}"
                    for e in range(args.train_epochs)), flush=True)
    summary = {}
    for engine, runs in table.items():
        summary[engine] = {}
        for measure, source in (("exact", runs), ("as_paddle_reports", reported[engine])):
            values = [epoch_mean(l, sizes_of[s]) for s, l in source.items()]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            summary[engine][measure] = {"mean": statistics.mean(values), "sd": sd, "min": min(values),
                                        "max": max(values), "per_seed": dict(zip(source, values))}
            print(f"{engine:6s} epoch-mean loss ({measure}) {statistics.mean(values):.3f} +- {sd:.3f} "
                  f"[{min(values):.3f}, {max(values):.3f}] over {len(values)} seeds")
    print(json.dumps({"args": vars(args), "summary": summary, "losses": table, "reported": reported}))


if __name__ == "__main__":
    main()
