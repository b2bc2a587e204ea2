"""Run the python code blocks of README.md as written.

A block whose imports are not installed here is skipped (the integration's
extra is absent); every other block must run without error.
"""
import ast
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(ROOT, "README.md")]


def _blocks(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [(path, i, m.group(1)) for i, m in
            enumerate(re.finditer(r"^```python\n(.*?)^```", text, re.M | re.S))]


BLOCKS = [b for p in DOCS if os.path.exists(p) for b in _blocks(p)]


def _missing_imports(src):
    missing = []
    for node in ast.walk(ast.parse(src)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for n in names:
            top = n.split(".")[0]
            if top != "pyloss" and importlib.util.find_spec(top) is None:
                missing.append(top)
    return missing


def test_there_are_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("path,index,src", BLOCKS,
                         ids=[f"{os.path.basename(p)}-{i}" for p, i, _ in BLOCKS])
def test_readme_block_runs(path, index, src, tmp_path, monkeypatch):
    missing = _missing_imports(src)
    if missing:
        pytest.skip(f"not installed: {', '.join(sorted(set(missing)))}")
    monkeypatch.chdir(tmp_path)
    code = compile(src, f"{os.path.basename(path)}[block {index}]", "exec")
    exec(code, {"__name__": "__readme__"})
