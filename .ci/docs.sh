#!/usr/bin/env bash
# CI docs step (called by .ci/run inside its venv, from the repository root):
#
#   1. the "docs" extra's packages (Sphinx, the PyData theme, numpydoc, sphinx-gallery,
#      matplotlib);
#   2. sphinx-build with warnings as errors.  docs/_ext/pyloss_api.py writes one
#      API page per registered loss; a loss without a page, an input or option
#      missing from its docstring's Parameters section, or a docstring numpydoc
#      cannot parse is a warning, hence an error here.  The gallery (examples/)
#      runs as part of the build;
#   3. the docstring examples of the modules that need no optional library
#      (every loss's own examples run in tests/test_docstrings.py, part of the
#      main pytest run).
# About 1.5 min on a loaded 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# the docs extra's packages, read from pyproject.toml: `pip install ".[docs]"`
# would build and reinstall pyloss itself (its C units) once more
pip install --quiet $(python -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["docs"]))')
sphinx-build -W --keep-going -q -b html docs docs/_build/html
pytest -p no:cacheprovider -p no:xdist -q --doctest-modules pyloss --ignore=pyloss/torch.py \
    --ignore=pyloss/dask.py --ignore=pyloss/sklearn.py --ignore=pyloss/boosting.py \
    --ignore=pyloss/_plot.py
