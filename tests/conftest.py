"""Shared test machinery.

Per-loss test content lives in ``tests/cases_<family>.py`` as a ``CASES``
dict ``name -> Case``; the generic tests (test_contract.py and friends)
iterate over ``pyloss.losses()`` and fail for a loss without a case.
"""
import dataclasses
import glob
import importlib.util
import os
from typing import Callable

import numpy as np
import pytest

HERE = os.path.dirname(__file__)


@dataclasses.dataclass
class Case:
    """How to exercise one loss in the generic tests.

    make(rng, shape, dtype) -> (arrays, opts)
        Valid random inputs; ``shape`` is the leading (batch) shape the loss
        should see -- an elementwise loss uses it as the prediction shape, a
        classification loss as (N,) or (N, d1) with its own class axis, etc.
    option_sets
        Option dicts that the generic tests run on top of ``make``'s opts.
    fd_ok(arrays, opts) -> bool array of the first diff input's shape, optional
        Where a central finite difference is meaningful (away from kinks).
    hand
        (arrays, opts, reduction, expected, why) tuples: values derived by hand
        or from an independent source cited in ``why``.
    """
    make: Callable
    option_sets: list = dataclasses.field(default_factory=lambda: [{}])
    fd_ok: Callable = None
    hand: list = dataclasses.field(default_factory=list)
    reductions: tuple = ("mean", "sum", "none")


def _collect():
    cases = {}
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases.update(mod.CASES)
    return cases


CASES = _collect()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def available_backends():
    import pyloss as pl
    return pl.backends()
