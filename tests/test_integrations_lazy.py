"""`import pyloss` imports no integration library; each module is opt-in."""
import subprocess
import sys

HEAVY = ("torch", "dask", "distributed", "sklearn", "xgboost", "lightgbm", "matplotlib")


def test_import_pyloss_is_light():
    code = ("import sys, pyloss as pl; pl.stream.Accumulator('mse'); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_boosting_imports_neither_library():
    code = ("import sys, pyloss.boosting; "
            "print([m for m in ('xgboost', 'lightgbm') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
