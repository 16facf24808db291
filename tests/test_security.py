"""No code execution from files: the package never evals, execs or plainly unpickles anything."""

import os
import re

from tests.clitools import ROOT

FORBIDDEN = [
    (re.compile(r"(?<![\w.])eval\("), "eval("),
    (re.compile(r"(?<![\w.])exec\("), "exec("),
    (re.compile(r"(?<![\w])pickle\.loads?\("), "pickle.load"),
    (re.compile(r"np\.load\([^)]*allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"safe_mode\s*=\s*False"), "safe_mode=False"),
    (re.compile(r"yaml\.load\("), "yaml.load"),
    (re.compile(r"(?<![\w.])__import__\("), "__import__("),
]


def _sources():
    for folder in ("kclass", "tools"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(dirpath, name)


def test_no_eval_exec_or_plain_pickle_in_the_package():
    hits = []
    for path in _sources():
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                code = line.split("#", 1)[0]
                for pattern, name in FORBIDDEN:
                    if pattern.search(code):
                        hits.append(f"{os.path.relpath(path, ROOT)}:{number}: {name}")
    assert not hits, "\n".join(hits)


def test_the_scan_sees_the_package():
    assert sum(1 for _ in _sources()) > 20
