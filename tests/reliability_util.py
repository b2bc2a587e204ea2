"""Helpers shared by the reliability tests (bad inputs, fuzz, threads, memory).

Everything here is driven by the registry (``pl.losses()``, ``pl.get(name)``)
and the per-loss ``Case`` of ``tests/cases_<family>.py``, so a loss added later
is covered without new code.
"""
import warnings

import numpy as np

import pyloss as pl
from conftest import CASES

OPS = ("value", "grad", "vg", "hess")


def ops_of(loss):
    return OPS if getattr(loss, "has_hessian", True) else OPS[:3]


def call(loss, op, arrays, opts, backend, reduction="mean", out=None):
    """One public call: op in value/grad/vg/hess."""
    if op == "value":
        return loss(*arrays, reduction=reduction, backend=backend, **opts)
    fn = {"grad": loss.grad, "vg": loss.value_and_grad, "hess": loss.hessian}[op]
    if out is not None:
        return fn(*arrays, reduction=reduction, backend=backend, out=out, **opts)
    return fn(*arrays, reduction=reduction, backend=backend, **opts)


def flat(x):
    """A result (scalar, array, tuple of them) as a list of float64 arrays."""
    if isinstance(x, tuple):
        return [a for y in x for a in flat(y)]
    return [np.asarray(x)]


def tolerances(dtype):
    dt = np.dtype(dtype)
    if dt == np.float64:
        return 1e-9, 1e-12
    return 2e-4, 1e-5


def assert_same(got, expect, dtype, what="", finite_only=False):
    """Equal up to rounding (NaN where NaN, inf where inf, same shapes).

    finite_only: compare only where both are finite.  For inputs at the edge
    of the dtype's range, whether an intermediate overflows (inf, or inf - inf
    = nan) depends on the order of operations, and the reference computes in
    float64; only the finite results must agree.
    """
    rtol, atol = tolerances(dtype)
    g, e = flat(got), flat(expect)
    assert len(g) == len(e), what
    for a, b in zip(g, e):
        assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
        a64 = a.astype(np.float64)
        b64 = b.astype(np.float64)
        if finite_only:
            both = np.isfinite(a64) & np.isfinite(b64)
            a64, b64 = a64[both], b64[both]
        # Scale atol by the magnitude of the data: a sum of large terms is only
        # as exact as its largest term.
        scale = float(np.nanmax(np.abs(b64[np.isfinite(b64)]))) if np.isfinite(b64).any() else 1.0
        np.testing.assert_allclose(a64, b64, rtol=rtol, atol=atol * max(1.0, scale),
                                   equal_nan=True, err_msg=what)


def make(name, shape=(7,), dtype=np.float64, seed=0):
    """Valid inputs of a registered loss from its Case."""
    case = CASES[name]
    arrays, opts = case.make(np.random.default_rng(seed), shape, np.dtype(dtype))
    return tuple(arrays), dict(opts)


def outcome(fn):
    """("ok", result) or ("err", PylossError); warnings are failures; any other
    exception propagates (that is the bug this catches)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return "ok", fn()
        except pl.PylossError as exc:
            return "err", exc


def int_inputs(arrays):
    """Positions of inputs holding integer class indices."""
    return [i for i, a in enumerate(arrays)
            if isinstance(a, np.ndarray) and a.dtype.kind in "iu"]


def grad_like(loss, arrays, opts, backend, op="grad", reduction="mean"):
    """The gradient (or Hessian) of a valid call: a template for out=."""
    res = call(loss, op, arrays, opts, backend, reduction)
    return res[1] if op == "vg" else res


def sentinel_like(g, value=12345.0):
    if isinstance(g, tuple):
        return tuple(sentinel_like(x, value) for x in g)
    return np.full(g.shape, value, dtype=g.dtype)


def untouched(out, value=12345.0):
    if isinstance(out, tuple):
        return all(untouched(o, value) for o in out)
    return bool(np.all(out == value))


def valid_weight(loss, arrays, opts, backend="numpy", rng=None):
    """A weight array this loss accepts for these arrays: shaped like the
    Case's own weight if that fits, else the first of per-element /
    per-sample / per-class shapes that the loss takes; values in [0.5, 2)."""
    rng = rng or np.random.default_rng(3)
    shapes = []
    for o in [opts] + list(CASES[loss.name].option_sets):
        if o.get("weight") is not None:
            shapes.append(np.shape(o["weight"]))
    first = np.asarray(arrays[0])
    shapes.append(first.shape)
    kind, none = outcome(lambda: call(loss, "value", arrays, opts, backend, "none"))
    if kind == "ok":
        shapes.append(np.shape(none))
    if first.ndim >= 2:
        shapes.append((first.shape[1],))
    for shape in shapes:
        w = rng.uniform(0.5, 2.0, shape)
        if outcome(lambda: call(loss, "value", arrays, dict(opts, weight=w), backend))[0] == "ok":
            return w
    raise AssertionError(f"{loss.name}: no weight shape accepted among {shapes}")


def require_slow(request):
    """Skip a heavy @pytest.mark.slow test unless asked for: ``-m slow`` or
    ``PYLOSS_SLOW=1``; ``PYLOSS_SLOW=0`` skips it even under ``-m slow`` (CI
    runs the other slow tests that way)."""
    import os
    import pytest
    expr = request.config.getoption("markexpr", "") or ""
    asked = "slow" in expr and "not slow" not in expr
    env = os.environ.get("PYLOSS_SLOW", "")
    if env == "0" or (not asked and env == ""):
        pytest.skip("slow: run with -m slow or PYLOSS_SLOW=1")
