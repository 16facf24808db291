"""kclass's training CLI and the PaddleClas reference trainer on the same lists, seed for seed.

  python tools/fidelity/side_by_side.py --data ../shared/data/cifar10-mini --model ResNet50_vd \
      --seeds 42,7,1234 --epochs 3 --batch 64 --lr 0.01 --out output/fidelity/r50

Each (engine, seed) run is what its user runs: `python -m kclass.train` on a recipe, and
`tools/paddle_parity/reference_train.py` in the Paddle venv (`bash .ci/paddle_env.sh`). Finished runs are
kept under --out and not run again, so an interrupted sitting continues. Prints, per epoch and engine,
test top-1, epoch-mean train loss and eval loss as mean, standard deviation and range over the seeds,
then one JSON line. `--jobs 2` runs two trainings at once on one thread each: the accuracy figures are
the same kind, the timings are then not comparable with a sitting at --jobs 1.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = {False: "gin/quick_start/ResNet50_vd_CIFAR100.gin",
           True: "gin/quick_start/ResNet50_vd_mixup_CIFAR100_finetune.gin"}
METRICS = ("top1", "train_loss", "eval_loss")  # losses: the exact mean CE on both engines
REPORTED = ("train_loss_reported", "eval_loss_reported")  # the reference's losses as Paddle logs them


def paddle_python():
    venv = os.environ.get("KCLASS_PADDLE_VENV", os.path.join(ROOT, ".venv-paddle"))
    return os.environ.get("PADDLE_PYTHON", os.path.join(venv, "bin", "python"))


def kclass_command(args, seed, run_dir, recipe=None, **macros):
    """`python -m kclass.train` on `recipe` (default: the CIFAR recipe, or its Mixup variant) with the
    sitting's macros; `macros` adds or overrides some (values as Gin text: strings repr'd)."""
    params = {"MODEL": repr(args.model), "DATA_ROOT": repr(args.data),
              "TRAIN_LIST": repr(os.path.join(args.data, args.train_list)),
              "VAL_LIST": repr(os.path.join(args.data, args.val_list)), "NUM_CLASSES": args.num_classes,
              "IMAGE_SIZE": args.image_size, "EPOCHS": args.epochs, "BATCH_SIZE": args.batch,
              "EVAL_BATCH_SIZE": 64, "LR": args.lr, "SEED": seed, "MODEL_DIR": repr(run_dir),
              "PRETRAINED": None, **macros}
    command = [sys.executable, "-m", "kclass.train", "--gin_file", recipe or RECIPES[args.mixup > 0]]
    for name, value in params.items():
        command += ["--gin_param", f"{name}={value}"]
    if args.mixup > 0:
        command += ["--gin_param", f"Mixup.alpha={args.mixup}"]
    for binding in args.kclass_gin_param:
        command += ["--gin_param", binding]
    return command


def paddle_command(args, seed, run_dir):
    return [paddle_python(), os.path.join(ROOT, "tools/paddle_parity/reference_train.py"),
            "--train_list", os.path.join(args.data, args.train_list),
            "--val_list", os.path.join(args.data, args.val_list), "--data_root", args.data,
            "--model", args.model, "--num_classes", str(args.num_classes), "--image_size", str(args.image_size),
            "--epochs", str(args.epochs), "--batch_size", str(args.batch), "--lr", str(args.lr),
            "--seed", str(seed), "--mixup_alpha", str(args.mixup),
            "--workers", str(args.paddle_workers), "--out", os.path.join(run_dir, "epochs.jsonl")]


def read_epochs(engine, run_dir):
    """[{epoch, top1, train_loss, eval_loss}] of a finished run, or None."""
    if engine == "kclass":
        path = os.path.join(run_dir, "history.jsonl")
        if not os.path.exists(path):
            return None
        rows = [json.loads(line) for line in open(path) if line.strip()]
        return [{"epoch": r["epoch"], "top1": r["eval"]["top1"], "train_loss": r["train"]["loss"],
                 "eval_loss": r["eval"]["loss"]} for r in rows]
    path = os.path.join(run_dir, "epochs.jsonl")
    if not os.path.exists(path):
        return None
    rows = [r for r in map(json.loads, filter(str.strip, open(path))) if r.get("kind") == "epoch"]
    if any("train_loss_reported" not in r for r in rows):
        return None  # made before the reference logged the exact CE beside Paddle's capped one: rerun
    return [{k: r[k] for k in ("epoch",) + METRICS + REPORTED} for r in rows]


def run_one(args, engine, seed, threads, **kclass_options):
    """Trains (engine, seed) under --out unless finished; `kclass_options` go to `kclass_command`."""
    run_dir = os.path.join(os.path.abspath(args.out), f"{engine}_seed{seed}")
    done = read_epochs(engine, run_dir)
    if done is not None and len(done) == args.epochs:
        return engine, seed, done, None
    os.makedirs(run_dir, exist_ok=True)
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_NUM_INTEROP_THREADS=str(threads))
    command = (kclass_command(args, seed, run_dir, **kclass_options) if engine == "kclass"
               else paddle_command(args, seed, run_dir))
    began = time.perf_counter()
    with open(os.path.join(run_dir, "log.txt"), "w") as log:
        code = subprocess.call(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - began
    if code:
        raise SystemExit(f"{engine} seed {seed} failed (exit {code}); see {run_dir}/log.txt")
    print(f"{engine} seed {seed}: {seconds:.0f} s", file=sys.stderr, flush=True)
    return engine, seed, read_epochs(engine, run_dir), seconds


def summarise(values):
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def table(results, engines, epochs):
    """{engine: {epoch: {metric: summary}}} over the seeds."""
    out = {}
    for engine in engines:
        runs = [rows for (e, _), rows in results.items() if e == engine]
        metrics = METRICS + (REPORTED if engine == "paddle" else ())
        out[engine] = {epoch: {m: summarise([rows[epoch - 1][m] for rows in runs]) for m in metrics}
                       for epoch in range(1, epochs + 1)}
    return out


def print_table(summary, args):
    print(f"{args.model}{' + Mixup ' + str(args.mixup) if args.mixup else ''}, {args.data}, "
          f"{args.epochs} epochs, batch {args.batch}, LR {args.lr}, seeds {args.seeds}")
    print("| epoch | engine | test top-1 % mean ± sd [min, max] | train loss mean ± sd [min, max] "
          "| eval loss mean ± sd [min, max] |")
    print("| --- | --- | --- | --- | --- |")
    spread = lambda s: f"{s['mean']:.3f} ± {s['sd']:.3f} [{s['min']:.3f}, {s['max']:.3f}]"
    for epoch in range(1, args.epochs + 1):
        for engine, rows in summary.items():
            s = rows[epoch]
            t = s["top1"]
            cells = [f"{100 * t['mean']:.1f} ± {100 * t['sd']:.1f} [{100 * t['min']:.1f}, {100 * t['max']:.1f}]"]
            print(f"| {epoch} | {engine} | " + " | ".join(cells + [spread(s["train_loss"]), spread(s["eval_loss"])])
                  + " |")
            if "train_loss_reported" in s:
                print(f"| {epoch} | {engine}, loss as its engine logs it (capped at 64 per image) | |"
                      f" {spread(s['train_loss_reported'])} | {spread(s['eval_loss_reported'])} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder of the list files; list paths are relative to it")
    p.add_argument("--train_list", default="train_list.txt")
    p.add_argument("--val_list", default="test_list.txt")
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--image_size", type=int, default=32)
    p.add_argument("--model", default="ResNet50_vd", choices=("ResNet50_vd", "MobileNetV3_large_x1_0"))
    p.add_argument("--mixup", type=float, default=0.0, help="Mixup alpha (0: off)")
    p.add_argument("--seeds", default="42,7,1234")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--engines", default="kclass,paddle")
    p.add_argument("--kclass_gin_param", action="append", default=[],
                   help="a further binding for kclass's runs, e.g. \"train/DataConfig.sampling='paddleclas'\"")
    p.add_argument("--paddle_workers", type=int, default=2, help="the reference's loader processes")
    p.add_argument("--jobs", type=int, default=1, help=">1: that many runs at once, one thread each")
    p.add_argument("--out", required=True, help="folder for the runs (finished ones are reused)")
    args = p.parse_args(argv)
    args.data = os.path.abspath(args.data)
    seeds = [int(s) for s in args.seeds.split(",")]
    engines = args.engines.split(",")
    jobs = [(engine, seed) for seed in seeds for engine in engines]
    threads = 1 if args.jobs > 1 else None
    with ThreadPoolExecutor(args.jobs) as pool:
        finished = list(pool.map(lambda job: run_one(args, *job, threads), jobs))
    results = {(engine, seed): rows for engine, seed, rows, _ in finished}
    summary = table(results, engines, args.epochs)
    print_table(summary, args)
    print(json.dumps({"model": args.model, "mixup": args.mixup, "seeds": seeds, "epochs": args.epochs,
                      "batch": args.batch, "lr": args.lr, "jobs": args.jobs,
                      "runs": {f"{e}_seed{s}": rows for (e, s), rows in results.items()},
                      "seconds": {f"{e}_seed{s}": sec for e, s, _, sec in finished if sec is not None},
                      "summary": summary}))


if __name__ == "__main__":
    main()
