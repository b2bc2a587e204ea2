"""The package's structure: no import circle inside pyloss (lazy imports
inside functions included), ``_config`` a leaf, the kernel backends importing
nothing above themselves, and the type stub equal to the registry."""
import ast
import os
import sys

import pytest

import pyloss as pl

PKG_DIR = os.path.dirname(os.path.abspath(pl.__file__))


def modules(pkg_dir):
    """name -> (path, is_package) for every .py file under pkg_dir."""
    root = os.path.dirname(pkg_dir)
    found = {}
    for d, dirs, files in os.walk(pkg_dir):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                parts = os.path.relpath(os.path.join(d, f), root)[:-3].split(os.sep)
                is_pkg = parts[-1] == "__init__"
                found[".".join(parts[:-1] if is_pkg else parts)] = (os.path.join(d, f), is_pkg)
    return found


def import_graph(pkg_dir):
    """module -> {imported module: line} over the package's own modules.

    Every import statement counts, at module level or inside a function (a
    lazy import closes a circle as surely, only later).  ``from P import x``
    is an edge to P.x where that is a module and to P itself (its
    ``__init__`` runs), except where P is a package containing the importer:
    that parent is imported already, as for every module, and is not an edge.
    ``import a.b`` is an edge to a.b only (the implicit parents again)."""
    mods = modules(pkg_dir)
    graph = {}
    for name, (path, is_pkg) in mods.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        here = name if is_pkg else name.rpartition(".")[0]
        edges = graph[name] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(here.split(".")[:len(here.split(".")) - node.level + 1]
                                    + ([node.module] if node.module else []))
                else:
                    base = node.module
                targets = [base + "." + a.name for a in node.names]
                if not (name == base or name.startswith(base + ".")):
                    targets.append(base)
            else:
                continue
            for t in targets:
                if t in mods and t != name:
                    edges.setdefault(t, node.lineno)
    return graph


def find_cycle(graph):
    """One import circle as [m0, m1, ..., m0], or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def describe(graph, cycle):
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) \
        + f" -> {cycle[-1]}"


def test_no_import_cycle_in_pyloss():
    graph = import_graph(PKG_DIR)
    assert "pyloss._config" in graph and "pyloss._numba" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import circle in pyloss: " + describe(graph, cycle)


def test_config_imports_nothing_from_pyloss():
    edges = import_graph(PKG_DIR)["pyloss._config"]
    assert edges == {}, f"pyloss._config imports (module: line) {edges}"


@pytest.mark.parametrize("backend", ["pyloss._numba", "pyloss.reference"])
def test_kernel_backends_import_nothing_above_themselves(backend):
    """The Numba and NumPy kernels get everything (the thread count too) as
    arguments from the call; they never reach back up into pyloss."""
    up = {m: sorted(t for t in edges if not (t == backend or t.startswith(backend + ".")))
          for m, edges in import_graph(PKG_DIR).items()
          if m == backend or m.startswith(backend + ".")}
    assert not any(up.values()), {m: t for m, t in up.items() if t}


def test_the_cycle_check_sees_lazy_imports(tmp_path):
    """The check itself: a circle closed by an import inside a function (as
    the old ``_config`` -> ``_numba`` -> ``_config`` one was), through
    ``from . import`` of a subpackage, is found and printed."""
    pkg = tmp_path / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("import os\n\n\ndef f():\n    from . import sub\n")
    (pkg / "sub" / "__init__.py").write_text("from ..b import g\n")
    (pkg / "b.py").write_text("from .a import f\n\n\ndef g():\n    pass\n")
    (pkg / "sub" / "c.py").write_text("from . import d\n")     # parent: no edge
    (pkg / "sub" / "d.py").write_text("")
    graph = import_graph(str(pkg))
    assert graph["demo.a"] == {"demo.sub": 5}
    assert graph["demo.sub.c"] == {"demo.sub.d": 1}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"demo.a", "demo.sub", "demo.b"}
    assert "(line 5)" in describe(graph, cycle)
    (pkg / "a.py").write_text("import os\n")
    assert find_cycle(import_graph(str(pkg))) is None


# ------------------------------------------------------------------ type stub

def test_stub_matches_the_registry():
    """pyloss/__init__.pyi is what ``python -m pyloss._stubs`` writes now."""
    from pyloss import _stubs
    with open(os.path.join(PKG_DIR, "__init__.pyi"), encoding="utf-8") as f:
        on_disk = f.read()
    assert _stubs.render() == on_disk, (
        "pyloss/__init__.pyi is stale: run "
        f"`{os.path.basename(sys.executable)} -m pyloss._stubs > pyloss/__init__.pyi`")
    ast.parse(on_disk)
    for name in pl.losses():
        assert f"\n{name}: " in on_disk, name
    for name in pl.__all__:
        assert f"{name!r}".replace("'", '"') in on_disk, name


def test_package_data_ships_the_stub():
    root = os.path.dirname(PKG_DIR)
    pyproject = os.path.join(root, "pyproject.toml")
    if not os.path.exists(pyproject):
        pytest.skip("an installed pyloss: no pyproject.toml beside it")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomli = pytest.importorskip("tomli")
        tomllib = tomli
    with open(pyproject, "rb") as f:
        data = tomllib.load(f)["tool"]["setuptools"]["package-data"]["pyloss"]
    assert {"py.typed", "__init__.pyi"} <= set(data), data
