"""docs/architecture.md's import rules hold: every module of kclass/ belongs to a room of its table, and
imports (at the top or inside functions) only the rooms its row allows. The rules are read from the
doc itself, so changing what a room may import means changing the doc."""

import ast
import os
import re
import subprocess
import sys

import pytest

from tests.clitools import ROOT

DOC = os.path.join(ROOT, "docs", "architecture.md")
PACKAGE = os.path.join(ROOT, "kclass")
ANYTHING = None


def rules(doc=DOC):
    """{room: allowed rooms, or ANYTHING} from the table under "## Rooms"; rooms as dotted names."""
    with open(doc, encoding="utf-8") as f:
        section = f.read().split("## Rooms", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("room", "") or set(cells[0]) <= set("- "):
            continue
        names = [n.rstrip("/") for n in re.findall(r"`([^`]+)`", cells[0])]
        allowed = ANYTHING if cells[2] == "anything" else {n.rstrip("/") for n in re.findall(r"`([^`]+)`", cells[2])}
        for name in names:
            table[name] = allowed
    return table


def room_of(module, table):
    """The most specific room of `module` (`kclass.export.spec` -> `export`), or None."""
    parts = module.split(".")[1:]
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in table:
            return ".".join(parts[:n])
    return None


def kclass_imports(source):
    """Dotted names (without `kclass.`) of the kclass modules `source` imports, with line numbers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("kclass.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kclass":
                found += [(f"kclass.{a.name}", node.lineno) for a in node.names]
            elif node.module.startswith("kclass."):
                found.append((node.module, node.lineno))
    return [(name[len("kclass."):], line) for name, line in found]


def allows(allowed, target):
    """Whether `target` (`engine.checkpoints`) is in `allowed`: itself or one of its packages is listed."""
    parts = target.split(".")
    return any(".".join(parts[:n]) in allowed for n in range(1, len(parts) + 1))


def violations(module, source, table):
    room = room_of(module, table)
    allowed = table[room]
    if allowed is ANYTHING:
        return []
    own = room.split(".")[0]
    return [f"{module}:{line} imports kclass.{target}" for target, line in kclass_imports(source)
            if target.split(".")[0] != own and not allows(allowed, target)]


def modules():
    for top, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(top, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                yield dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted, path


TABLE = rules()
MODULES = [m for m in modules() if m[0] != "kclass"]


def test_the_table_is_read_and_names_real_rooms():
    assert {"data", "layers", "models", "export", "serving_client", "experiment", "predictors", "tasks",
            "model_builder", "splits", "recipe_check", "thresholds"} <= set(TABLE)
    assert not {"experiment", "tasks"} & TABLE["engine"]  # the engine calls a Task and knows no recipe
    named = set(TABLE) | {n for allowed in TABLE.values() if allowed for n in allowed}
    for name in named:
        path = os.path.join(PACKAGE, *name.split("."))
        assert os.path.isdir(path) or os.path.isfile(path + ".py"), f"docs/architecture.md names `{name}`: no such module"


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_module_imports_only_what_its_room_may(module, path):
    assert room_of(module, TABLE), f"{module} belongs to no room of docs/architecture.md's table"
    with open(path, encoding="utf-8") as f:
        assert violations(module, f.read(), TABLE) == []


def test_a_forbidden_import_is_caught():
    source = "import os\n\ndef f():\n    from kclass.models import build\n    from kclass import errors\n"
    assert violations("kclass.data.lists", source, TABLE) == ["kclass.data.lists:4 imports kclass.models"]
    client = "from kclass.export.signatures import INPUT_NAME\nfrom kclass.export.saved_model import ONNX_FILE\n"
    assert violations("kclass.serving_client.client", client, TABLE) == [
        "kclass.serving_client.client:2 imports kclass.export.saved_model"]


def test_the_client_loads_no_tensorflow():
    code = "import sys, kclass.serving_client; assert 'tensorflow' not in sys.modules, 'tensorflow loaded'"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
