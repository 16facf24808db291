#!/usr/bin/env bash
# Runs kclass and its peers one after another in one sitting and prints one JSON line per measurement.
#   TIMM_PYTHON=/path/venv-timm/bin/python PADDLE_PYTHON=.venv-paddle/bin/python bash tools/bench/side_by_side.sh
# A peer whose python is unset or missing is skipped. Run on an idle machine; nothing else in parallel.
# PADDLE_ARGS (e.g. "--steps 5 --repeats 1") shortens PaddleClas's MobileNetV3 run, which takes ~10 min.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
KCLASS_PYTHON="${KCLASS_PYTHON:-python}"
TIMM_PYTHON="${TIMM_PYTHON:-}"
PADDLE_PYTHON="${PADDLE_PYTHON:-.venv-paddle/bin/python}"
PADDLE_ARGS="${PADDLE_ARGS:-}"
last() { tail -n 1; }
echo "# $(date -u +%FT%TZ) $(uptime)"
"$KCLASS_PYTHON" tools/bench/peak.py --json 2>/dev/null | last
for precision in fp32 mixed_bfloat16; do
  for model in ResNet50_vd MobileNetV3_large_x1_0; do
    "$KCLASS_PYTHON" tools/bench/train.py --model "$model" --precision "$precision" --repeats 5 --json 2>/dev/null | last
  done
done
"$KCLASS_PYTHON" tools/bench/infer.py --json 2>/dev/null | last
if [ -x "$TIMM_PYTHON" ]; then
  for precision in fp32 bf16; do
    "$TIMM_PYTHON" tools/bench/peers/timm_bench.py --model resnet50d --precision "$precision" 2>/dev/null | last
    "$TIMM_PYTHON" tools/bench/peers/timm_bench.py --model mobilenetv3_large_100 --channels_last \
      --precision "$precision" 2>/dev/null | last
  done
fi
if [ -x "$PADDLE_PYTHON" ]; then
  for model in ResNet50_vd MobileNetV3_large_x1_0; do
    "$PADDLE_PYTHON" tools/bench/peers/paddle_bench.py --model "$model" $PADDLE_ARGS 2>/dev/null | last
  done
fi
echo "# $(date -u +%FT%TZ) $(uptime)"
