"""Where the PaddleClas virtualenv's python is, for tests that compare kclass with the real thing.

.ci/paddle_env.sh builds the venv (KCLASS_PADDLE_VENV, default <repo>/.venv-paddle). Without it the
tests skip, except under KCLASS_CI=1 where they fail: CI must never pass parity by not running it.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def paddle_python():
    """The venv's python executable, or None when the venv is missing."""
    venv = os.environ.get("KCLASS_PADDLE_VENV", os.path.join(ROOT, ".venv-paddle"))
    python = os.path.join(venv, "bin", "python")
    return python if os.access(python, os.X_OK) else None


def require_paddle_python():
    """The venv's python; skips the test without it, or fails it under KCLASS_CI=1."""
    python = paddle_python()
    if python is None:
        reason = "paddle venv missing: build it with `bash .ci/paddle_env.sh`"
        if os.environ.get("KCLASS_CI") == "1":
            pytest.fail(f"KCLASS_CI=1 and {reason}")
        pytest.skip(reason)
    return python
