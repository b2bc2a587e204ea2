"""Sphinx configuration for the pyloss documentation.

Build:  pip install ".[docs]" && sphinx-build -W --keep-going -b html docs docs/_build/html

The API pages of the losses (docs/api/) are generated from the registry at
build time by the extension in docs/_ext/pyloss_api.py.
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "_ext"))
if importlib.util.find_spec("pyloss") is None:
    sys.path.insert(0, ROOT)   # not installed: the in-place build (python csrc/build.py)
# The docs build draws pictures and runs the gallery on the C backend (or the
# NumPy reference where C is not built): it never waits for Numba to JIT-compile.
os.environ.setdefault("PYLOSS_DISABLE", "numba")

import pyloss  # noqa: E402

# The integration pages autodoc modules that import their library at the top;
# where the library is not installed (the docs extra does not pull it in), mock it.
autodoc_mock_imports = [m for m in ("torch", "dask", "distributed", "sklearn", "xgboost",
                                    "lightgbm") if importlib.util.find_spec(m) is None]

project = "pyloss"
author = "the pyloss developers"
copyright = "2026, the pyloss developers"
version = release = pyloss.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "pyloss_api",
]

exclude_patterns = ["_build", "readme", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = []
nitpicky = False
suppress_warnings = []

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}

intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = f"pyloss {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": False,
    "navigation_with_keys": False,
}
html_static_path = []

sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}
