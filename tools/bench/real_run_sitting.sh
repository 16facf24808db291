#!/usr/bin/env bash
# The real-run table in one sitting: each engine trains the same list files for 3 epochs with an eval
# and a checkpoint per epoch, one after another; one JSON line per run (plus the in-memory peers).
#   TIMM_PYTHON=/path/venv-timm/bin/python bash tools/bench/real_run_sitting.sh [DATA]
# DATA: a folder with train_list.txt and test_list.txt (default ../shared/data/cifar10-mini).
# Then the 224-px rows: COCO photos (photo_set.py, 256-px short side, 320 train / 80 val images), 2 epochs,
# kclass and timm end to end and in memory. A peer whose python is missing is skipped. SKIP_REFERENCE=1
# leaves out PaddleClas's reference trainer (~16-20 min for ResNet50_vd on 2 cores; REFERENCE_EPOCHS=1
# runs one epoch of it, whose rate is the rate: it has no tracing to warm up); SKIP_224=1 the
# 224-px rows, SKIP_32=1 the 32-px ones. The recipe decodes its train images once (DataConfig.cache_mb);
# kclass's MobileNetV3 at 32 px and both models at 224 px run a second time without that cache, decoding
# every epoch. Run on an idle machine; nothing else in parallel.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DATA="${1:-../shared/data/cifar10-mini}"
KCLASS_PYTHON="${KCLASS_PYTHON:-python}"
TIMM_PYTHON="${TIMM_PYTHON:-}"
PADDLE_PYTHON="${PADDLE_PYTHON:-.venv-paddle/bin/python}"
CLASSES=$(wc -l < "$DATA/label_list.txt")
last() { tail -n 1; }
echo "# $(date -u +%FT%TZ) $(uptime)"
NO_CACHE="train/DataConfig.cache_mb = 0"  # decoding every epoch: a row of its own where decoding costs most
if [ -z "${SKIP_32:-}" ]; then
  for model in ResNet50_vd MobileNetV3_large_x1_0; do
    "$KCLASS_PYTHON" tools/bench/recipe.py --model "$model" --data "$DATA" --epochs 3 --json 2>/dev/null | last
  done
  "$KCLASS_PYTHON" tools/bench/recipe.py --model MobileNetV3_large_x1_0 --data "$DATA" --epochs 3 --bench_steps 0 \
    --gin_param "$NO_CACHE" --json 2>/dev/null | last
  if [ -x "$TIMM_PYTHON" ]; then
    for model in resnet50d "mobilenetv3_large_100 --channels_last"; do
      # shellcheck disable=SC2086  # the model carries its own flag
      "$TIMM_PYTHON" tools/bench/peers/timm_e2e.py --model $model --train_list "$DATA/train_list.txt" \
        --val_list "$DATA/test_list.txt" --data_root "$DATA" --num_classes "$CLASSES" --epochs 3 2>/dev/null | last
      # shellcheck disable=SC2086
      "$TIMM_PYTHON" tools/bench/peers/timm_bench.py --model $model --num_classes "$CLASSES" 2>/dev/null | last
    done
  fi
fi
if [ -z "${SKIP_224:-}" ]; then
  photos=$(mktemp -d)
  "$KCLASS_PYTHON" tools/bench/photo_set.py "$photos" >/dev/null || { echo "photo_set.py failed" >&2; exit 1; }
  for model in ResNet50_vd MobileNetV3_large_x1_0; do
    "$KCLASS_PYTHON" tools/bench/recipe.py --model "$model" --data "$photos" --num_classes 80 --image_size 224 \
      --epochs 2 --bench_steps 2 --bench_repeats 2 --json 2>/dev/null | last
    "$KCLASS_PYTHON" tools/bench/recipe.py --model "$model" --data "$photos" --num_classes 80 --image_size 224 \
      --epochs 2 --bench_steps 0 --gin_param "$NO_CACHE" --json 2>/dev/null | last
  done
  if [ -x "$TIMM_PYTHON" ]; then
    for model in resnet50d "mobilenetv3_large_100 --channels_last"; do
      # shellcheck disable=SC2086
      "$TIMM_PYTHON" tools/bench/peers/timm_e2e.py --model $model --train_list "$photos/train_list.txt" \
        --val_list "$photos/val_list.txt" --data_root "$photos" --num_classes 80 --image_size 224 --epochs 2 \
        2>/dev/null | last
      # shellcheck disable=SC2086
      "$TIMM_PYTHON" tools/bench/peers/timm_bench.py --model $model --num_classes 80 --image_size 224 \
        --steps 2 --repeats 2 2>/dev/null | last
    done
  fi
  rm -rf "$photos"
fi
if [ -x "$PADDLE_PYTHON" ] && [ -z "${SKIP_REFERENCE:-}" ]; then
  out=$(mktemp)
  began=$(date +%s.%N)
  "$PADDLE_PYTHON" tools/paddle_parity/reference_train.py --train_list "$DATA/train_list.txt" \
    --val_list "$DATA/test_list.txt" --data_root "$DATA" --model ResNet50_vd --num_classes "$CLASSES" \
    --epochs "${REFERENCE_EPOCHS:-3}" --batch_size 64 --lr 0.01 --seed 42 --out "$out" >/dev/null 2>&1
  ended=$(date +%s.%N)
  "$KCLASS_PYTHON" - "$out" "$began" "$ended" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
epochs = [r for r in rows if r.get("kind") == "epoch"]
later = epochs[1:] or epochs
print(json.dumps({"engine": "paddleclas reference", "model": "ResNet50_vd",
                  "train_images_per_s": round(sum(r["train_images_per_s"] * r["train_seconds"] for r in later)
                                              / sum(r["train_seconds"] for r in later), 1),
                  "epoch_wall_s": [round(r["train_seconds"] + r["eval_seconds"], 1) for r in epochs],
                  "process_wall_s": round(float(sys.argv[3]) - float(sys.argv[2]), 1),
                  "top1": epochs[-1]["top1"] if epochs else None}))
EOF
  rm -f "$out"
fi
echo "# $(date -u +%FT%TZ) $(uptime)"
