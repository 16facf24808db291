#!/usr/bin/env bash
# Builds the PaddleClas virtual environment for tests/weights/test_paddle_parity.py. Idempotent: an
# existing venv built from the same requirements file that still imports is kept.
#   bash .ci/paddle_env.sh            -> $KCLASS_PADDLE_VENV, default <repo>/.venv-paddle
# Exit status non-zero when it cannot be built; the parity test then fails under KCLASS_CI=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KCLASS_PADDLE_VENV:-$ROOT/.venv-paddle}"
REQS="$ROOT/tools/paddle_parity/requirements.txt"
PYTHON="${KCLASS_PADDLE_BASE_PYTHON:-$(command -v python3.11 || command -v python3)}"
STAMP="$VENV/.kclass-requirements"
# sklearn before paddle: paddle 2.6.2's bundled zlib segfaults a later sklearn import.
SMOKE='import sklearn, paddle, paddleclas; print("paddle", paddle.__version__)'

if [ -x "$VENV/bin/python" ] && cmp -s "$REQS" "$STAMP" \
    && "$VENV/bin/python" -c "$SMOKE" >/dev/null 2>&1; then
  echo "paddle venv ready: $VENV"
  exit 0
fi
start=$SECONDS
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
if ! "$VENV/bin/pip" install --disable-pip-version-check -r "$REQS" >"$VENV/pip-install.log" 2>&1; then
  tail -n 40 "$VENV/pip-install.log" >&2
  echo "paddle venv: pip install failed (log: $VENV/pip-install.log)" >&2
  exit 1
fi
"$VENV/bin/python" -c "$SMOKE"
cp "$REQS" "$STAMP"
echo "paddle venv built in $((SECONDS - start)) s: $VENV"
