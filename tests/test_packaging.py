"""pyproject.toml: `pip install .` / `pip install -e .` give a kclass that runs from any directory, with the
recipes of gin/ inside it and the pinned stack of requirements.txt.

The install goes into a fresh virtualenv that sees this Python's packages (`--system-site-packages`) and
never the network (`--no-index`, `--no-build-isolation`): the pinned stack must already be satisfied
here, as CI's `pip install -r requirements-dev.txt` leaves it, so nothing is downloaded.
"""

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.clitools import ROOT

SOURCES = ("pyproject.toml", "requirements.txt", "README.md", "kclass", "gin")


def _pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_every_package_and_recipe_folder_is_listed():
    """Packages are listed by hand (gin/ must become kclass.gin): a new one must be added there."""
    packages = set(_pyproject()["tool"]["setuptools"]["packages"])
    expected = {"kclass", "kclass.gin"}
    for top, dirs, files in os.walk(os.path.join(ROOT, "kclass")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if "__init__.py" in files:
            expected.add(os.path.relpath(top, ROOT).replace(os.sep, "."))
    for top, dirs, files in os.walk(os.path.join(ROOT, "gin")):
        if any(f.endswith(".gin") for f in files) and top != os.path.join(ROOT, "gin"):
            expected.add("kclass.gin." + os.path.relpath(top, os.path.join(ROOT, "gin")).replace(os.sep, "."))
    assert packages == expected


def test_dependencies_are_requirements_txt():
    project = _pyproject()
    assert "dependencies" in project["project"]["dynamic"] and "dependencies" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}


def _run(args, cwd, env, timeout=600, status=0):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == status, f"$ {' '.join(map(str, args))}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_install_into_a_fresh_virtualenv_then_run_from_another_directory(tmp_path, editable):
    import setuptools
    if int(setuptools.__version__.split(".")[0]) < 64:  # offline means this Python's setuptools builds it
        pytest.skip(f"setuptools {setuptools.__version__} here; pyproject.toml builds need >= 64 (PEP 660)")
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside pyproject.toml
    src.mkdir()
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # kclass must come from the install
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], tmp_path, env)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-input", "--quiet",
          *(["-e"] if editable else []), str(src)], tmp_path, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    helped = _run([python, "-m", "kclass.train", "--helpshort"], elsewhere, env, timeout=120, status=1)  # absl's
    assert "--gin_file" in helped.stdout and "--cpu_devices" in helped.stdout
    where = _run([python, "-c", "import kclass, kclass.cli; print(kclass.__file__); print(*kclass.cli.recipe_roots())"],
                 elsewhere, env, timeout=120).stdout.split()
    if editable:
        assert where == [str(src / "kclass" / "__init__.py"), str(src)]
    else:
        assert where[0].startswith(str(venv)) and where[1] == os.path.dirname(where[0])
        assert os.path.isfile(os.path.join(where[1], "gin", "quick_start", "ResNet50_vd_CIFAR100.gin"))
    # demo.gin and the recipe it includes parse from here; then EPOCHS=0 is refused, before any work.
    refused = _run([python, "-m", "kclass.train", "--gin_file", "gin/quick_start/demo.gin", "--gin_param", "EPOCHS=0"],
                   elsewhere, env, timeout=300, status=2)
    assert refused.stderr.strip() == "kclass: error: EPOCHS (Experiment.epochs) = 0: expected a whole number > 0"
    assert os.listdir(elsewhere) == []
