"""Every loss's docstring: its examples run, and it documents every option.

Registry-driven (``pl.losses()``), so a loss added later is covered without
new test code.  The documentation build (docs/_ext/pyloss_api.py) makes the
same option check with ``sphinx-build -W``; this test gives the same answer
without building the docs.
"""
import doctest
import inspect
import os
import re

import numpy as np
import pytest

import pyloss as pl

NAMES = pl.losses()


def _parameters(doc):
    """Names documented in the numpydoc Parameters section of `doc`."""
    lines = inspect.cleandoc(doc or "").splitlines()
    names, inside = set(), False
    for i, line in enumerate(lines):
        if line.strip() == "Parameters" and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            inside = True
            continue
        if inside:
            if i + 1 < len(lines) and lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"} \
                    and not line.startswith(" "):
                break                                      # the next section's title
            m = re.match(r"^([A-Za-z_*][\w*]*(?:\s*,\s*[A-Za-z_*][\w*]*)*)\s*(?::|$)", line)
            if m and not line.startswith(" "):
                names.update(p.strip().lstrip("*") for p in m.group(1).split(","))
    return names


@pytest.mark.parametrize("name", NAMES)
def test_every_option_and_input_is_documented(name):
    loss = pl.get(name)
    documented = _parameters(loss.__doc__)
    missing = [k for k in list(loss.inputs) + list(loss.options) if k not in documented]
    assert not missing, (f"pyloss.{name}: {missing} not documented in the Parameters section of "
                         f"its docstring (write 'name : type' with the range and default)")


@pytest.mark.parametrize("name", NAMES)
def test_docstring_parses_as_numpydoc(name):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # numpydoc warns on unknown sections
        docscrape.NumpyDocString(inspect.cleandoc(pl.get(name).__doc__ or ""))


@pytest.mark.parametrize("name", NAMES)
def test_docstring_examples_run(name, monkeypatch, tmp_path):
    loss = pl.get(name)
    test = doctest.DocTestParser().get_doctest(
        inspect.cleandoc(loss.__doc__ or ""), {"np": np, "pl": pl}, f"pyloss.{name}",
        os.path.join("pyloss", "_defs", f"{loss.family}.py"), 0)
    if not test.examples:
        pytest.fail(f"pyloss.{name}: its docstring has no Examples section with a doctest "
                    f"(its API page shows it; CI runs it)")
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
