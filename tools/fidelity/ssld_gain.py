"""The SSLD gain on real data: a student distilled from unlabelled images against the same student on labels.

  python tools/fidelity/ssld_gain.py --data ../shared/data/cifar10-mini --phase teacher \
      --teacher_epochs 30 --out output/fidelity/ssld
  python tools/fidelity/ssld_gain.py --data ../shared/data/cifar10-mini --phase students \
      --teacher_epochs 30 --epochs 10 --seeds 42,7,1234 --out output/fidelity/ssld

The teacher (ResNet50_vd, from scratch) is the CIFAR recipe on the labelled train list. Each student
(MobileNetV3_large_x1_0, from scratch, same epochs, batch and LR) is trained per seed twice: *alone*, the
CIFAR recipe on the labelled train list, and *distilled*, the SSLD recipe on a path-only list of the
train images (tools/make_unlabeled_list.py, which refuses validation images) from the teacher's
best_model/ with HARD_LABEL_WEIGHT 0. Both are scored on the labelled --val_list. Every training is
`python -m kclass.train` in its own process. Finished runs are kept under --out and not run again (the
teacher's and the distilled students' folders are named by the teacher's epochs), so each phase, or
each seed, can be its own short command under the shared lock. Prints, per epoch, the test top-1 of
both students as mean ± sd [min, max] over the seeds and the gain in points, then one JSON line.
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from side_by_side import ROOT, read_epochs, run_one, summarise  # noqa: E402

sys.path.insert(0, ROOT)
from kclass import atomic_write  # noqa: E402

DISTILL_RECIPE = "gin/quick_start/R50_vd_distill_MV3_large_x1_0_CIFAR100.gin"


def variant(args, name, model, epochs):
    """The namespace side_by_side's `run_one` reads for one kind of run, kept under --out/name."""
    return argparse.Namespace(**{**vars(args), "model": model, "epochs": epochs, "mixup": 0.0,
                                 "kclass_gin_param": [], "out": os.path.join(args.out, name)})


def unlabeled_list(args):
    """--out/unlabeled_list.txt: the train images' paths, no labels (made once)."""
    path = os.path.join(args.out, "unlabeled_list.txt")
    if not os.path.exists(path):
        os.makedirs(args.out, exist_ok=True)
        done = subprocess.run([sys.executable, "tools/make_unlabeled_list.py",
                               os.path.join(args.data, args.unlabeled_dir), "--root", args.data,
                               "--val_list", os.path.join(args.data, args.val_list)],
                              cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"make_unlabeled_list.py failed: {done.stderr.strip()[-500:]}")
        atomic_write.text(path, done.stdout)
    return path


def teacher_run(args):
    """The teacher's namespace and run folder; named by its epochs, as are its students' (a longer teacher
    is another teacher)."""
    teacher = variant(args, f"teacher_{args.teacher_epochs}ep", args.teacher, args.teacher_epochs)
    return teacher, os.path.join(teacher.out, f"kclass_seed{args.teacher_seed}")


def train_teacher(args):
    """(best_model dir, its best.json) of the teacher run, trained first if not finished."""
    teacher, run_dir = teacher_run(args)
    run_one(teacher, "kclass", args.teacher_seed, None)
    best = os.path.join(run_dir, "best_model")
    with open(os.path.join(best, "best.json")) as f:
        return best, json.load(f)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder of the list files; list paths are relative to it")
    p.add_argument("--train_list", default="train_list.txt")
    p.add_argument("--val_list", default="test_list.txt")
    p.add_argument("--unlabeled_dir", default="train", help="folder (under --data) of the train list's images")
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--image_size", type=int, default=32)
    p.add_argument("--teacher", default="ResNet50_vd")
    p.add_argument("--student", default="MobileNetV3_large_x1_0")
    p.add_argument("--teacher_epochs", type=int, default=30)
    p.add_argument("--teacher_seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=10, help="each student's")
    p.add_argument("--seeds", default="42,7,1234", help="the students'")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01, help="teacher's and students'")
    p.add_argument("--phase", choices=("teacher", "students", "all"), default="all",
                   help="students: the teacher must be finished (--phase teacher)")
    p.add_argument("--out", required=True, help="folder for the runs (finished ones are reused)")
    args = p.parse_args(argv)
    args.data, args.out = os.path.abspath(args.data), os.path.abspath(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    teacher_dir = teacher_run(args)[1]
    if args.phase == "students" and len(read_epochs("kclass", teacher_dir) or ()) != args.teacher_epochs:
        raise SystemExit(f"no finished teacher in {teacher_dir}: run --phase teacher first")
    teacher_weights, teacher_best = train_teacher(args)
    print(f"teacher {args.teacher}: best test top-1 {100 * teacher_best['value']:.1f} % "
          f"(epoch {teacher_best['epoch']} of {args.teacher_epochs})", file=sys.stderr)
    if args.phase == "teacher":
        return
    unlabeled = unlabeled_list(args)
    runs = {"alone": {}, "distilled": {}}
    for seed in seeds:
        alone = variant(args, "alone", args.student, args.epochs)
        runs["alone"][seed] = run_one(alone, "kclass", seed, None)[2]
        distilled = variant(args, f"distilled_{args.teacher_epochs}ep", args.student, args.epochs)
        runs["distilled"][seed] = run_one(distilled, "kclass", seed, None, recipe=DISTILL_RECIPE,
                                          TRAIN_LIST=repr(unlabeled), TEACHER=repr(args.teacher),
                                          TEACHER_WEIGHTS=repr(teacher_weights), HARD_LABEL_WEIGHT=0.0)[2]
    summary = {kind: {epoch: summarise([rows[epoch - 1]["top1"] for rows in by_seed.values()])
                      for epoch in range(1, args.epochs + 1)} for kind, by_seed in runs.items()}
    gain = {epoch: 100 * (summary["distilled"][epoch]["mean"] - summary["alone"][epoch]["mean"])
            for epoch in summary["alone"]}
    with open(unlabeled) as f:
        images = sum(1 for line in f if line.strip())
    print(f"{args.student} from scratch, {args.epochs} epochs, batch {args.batch}, LR {args.lr}, seeds {seeds}; "
          f"teacher {args.teacher} ({args.teacher_epochs} epochs) test top-1 {100 * teacher_best['value']:.1f} %; "
          f"distilled on {images} unlabelled images")
    print("| epoch | alone: test top-1 % mean ± sd [min, max] | distilled | gain (points) |")
    print("| --- | --- | --- | --- |")
    cell = lambda s: f"{100 * s['mean']:.1f} ± {100 * s['sd']:.1f} [{100 * s['min']:.1f}, {100 * s['max']:.1f}]"
    for epoch, points in gain.items():
        print(f"| {epoch} | {cell(summary['alone'][epoch])} | {cell(summary['distilled'][epoch])} | {points:+.1f} |")
    print(json.dumps({"teacher": {"model": args.teacher, "epochs": args.teacher_epochs, "top1": teacher_best["value"],
                                  "best_epoch": teacher_best["epoch"]},
                      "student": args.student, "epochs": args.epochs, "seeds": seeds, "batch": args.batch,
                      "lr": args.lr, "unlabeled_images": images, "summary": summary, "gain_points": gain,
                      "runs": {kind: {str(s): rows for s, rows in by_seed.items()} for kind, by_seed in runs.items()}}))


if __name__ == "__main__":
    main()
