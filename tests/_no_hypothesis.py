"""Stand-in for hypothesis when it is not installed (``pip install .`` without
the ``test`` extra): the property-based tests are then collected and reported
as skipped, and every other test in their modules still runs.

tests/conftest.py installs this only after ``import hypothesis`` failed; with
hypothesis installed (``pip install ".[test]"``, CI) it is never used.
"""
import functools
import sys
import types

import pytest

REASON = "hypothesis is not installed (pip install \".[test]\")"


class _Strategy:
    """Any strategy expression (st.floats(...).map(...), @st.composite, ...)."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self


def given(*args, **kwargs):
    def wrap(fn):
        @functools.wraps(fn)
        def skipped(*a, **k):
            pytest.skip(REASON)
        return pytest.mark.skip(reason=REASON)(skipped)
    return wrap


class settings:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, fn):
        return fn

    @staticmethod
    def register_profile(*args, **kwargs):
        pass

    @staticmethod
    def load_profile(*args, **kwargs):
        pass


class HealthCheck:
    def __getattr__(self, name):
        return name

    def __iter__(self):  # list(HealthCheck)
        return iter(())


def _noop(*args, **kwargs):
    return True


def install():
    strat = _Strategy()
    hyp = types.ModuleType("hypothesis")
    hyp.__path__ = []  # a package, for hypothesis.extra
    hyp.given, hyp.settings, hyp.assume, hyp.note, hyp.example = given, settings, _noop, _noop, \
        lambda *a, **k: (lambda fn: fn)
    hyp.HealthCheck = HealthCheck()
    strategies = types.ModuleType("hypothesis.strategies")
    strategies.__getattr__ = lambda name: strat
    extra = types.ModuleType("hypothesis.extra")
    extra.__path__ = []
    hnp = types.ModuleType("hypothesis.extra.numpy")
    hnp.__getattr__ = lambda name: strat
    hyp.strategies, hyp.extra, extra.numpy = strategies, extra, hnp
    hyp.IS_STUB = True
    sys.modules.update({"hypothesis": hyp, "hypothesis.strategies": strategies,
                        "hypothesis.extra": extra, "hypothesis.extra.numpy": hnp})
