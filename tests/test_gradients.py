"""Gradients and Hessians against central finite differences (float64),
for every loss, backend, reduction and option set, with and without weights;
value_and_grad is exactly (value, grad); Hessians of none/sum/mean agree.

Finite differences are taken of the returned value itself (for "none" of its
sum, SPEC 1), so they check the 1/N and 1/sum(w) factors too.  Case.fd_ok
keeps them away from kinks.
"""
import numpy as np
import pytest

import pyloss as pl
from conftest import (FLOAT_DTYPES, as_tuple, call, case_of, diff_index, make, ops_of,
                      option_variants, reductions_of, split)

NAMES = pl.losses()
BACKENDS = pl.backends()
SHAPE = (3, 4)


def _masks(case, loss, arrays, opts):
    idx = diff_index(loss)
    if case.fd_ok is None:
        return [np.ones(arrays[i].shape, bool) for i in idx]
    m = case.fd_ok(arrays, opts)
    m = list(m) if isinstance(m, tuple) else [m] + [None] * (len(idx) - 1)
    return [np.ones(arrays[i].shape, bool) if mk is None else np.asarray(mk, bool)
            for i, mk in zip(idx, m)]


def _scalar(loss, arrays, opts, reduction, backend):
    v = loss(*arrays, reduction=reduction, backend=backend, **opts)
    return float(np.sum(v, dtype=np.float64))


def _fd_grad(fn, arrays, i, mask, step):
    """Central differences of fn(arrays) w.r.t. arrays[i], where mask."""
    x = arrays[i]
    g = np.full(x.shape, np.nan)
    for k in zip(*np.nonzero(mask)) if x.ndim else ([()] if mask else []):
        h = step * max(1.0, abs(float(x[k])))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        ap, am = list(arrays), list(arrays)
        ap[i], am[i] = xp, xm
        g[k] = (fn(ap) - fn(am)) / ((xp[k] - xm[k]))
    return g


def _assert_fd(got, fd, mask, rtol, what):
    got = np.asarray(got, np.float64)
    if not mask.any():
        return
    scale = max(float(np.max(np.abs(got[mask]))), 1e-300)
    np.testing.assert_allclose(got[mask], fd[mask], rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_finite_differences(name, backend):
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(10)
    checked = 0
    for label, extra, weighted in option_variants(loss, case):
        arrays, opts = make(name, rng, SHAPE, np.float64, extra, weighted)
        masks = _masks(case, loss, arrays, opts)
        for reduction in reductions_of(loss, case):
            g = as_tuple(loss.grad(*arrays, reduction=reduction, backend=backend, **opts))
            for k, i in enumerate(diff_index(loss)):
                fd = _fd_grad(lambda a: _scalar(loss, a, opts, reduction, backend), arrays, i,
                              masks[k], case.fd_step)
                _assert_fd(g[k], fd, masks[k], case.fd_rtol * 10,
                           f"{name} {backend} {label} {reduction} d/d{loss.diff[k]}")
                checked += int(masks[k].sum())
    assert checked, f"{name}: fd_ok left nothing to check"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_finite_differences_of_grad(name, backend):
    loss, case = pl.get(name), case_of(name)
    if not loss.has_hessian:
        with pytest.raises(pl.PylossNotImplementedError):
            arrays, opts = make(name, np.random.default_rng(0), SHAPE, np.float64)
            loss.hessian(*arrays, backend=backend, **opts)
        return
    rng = np.random.default_rng(11)
    i = diff_index(loss)[0]
    for label, extra, weighted in option_variants(loss, case):
        arrays, opts = make(name, rng, SHAPE, np.float64, extra, weighted)
        mask = _masks(case, loss, arrays, opts)[0]
        for reduction in reductions_of(loss, case):
            h = as_tuple(loss.hessian(*arrays, reduction=reduction, backend=backend, **opts))[0]
            x = arrays[i]
            fd = np.full(x.shape, np.nan)
            for k in zip(*np.nonzero(mask)):
                step = case.fd_step * max(1.0, abs(float(x[k])))
                ap, am = list(arrays), list(arrays)
                ap[i], am[i] = x.copy(), x.copy()
                ap[i][k] += step
                am[i][k] -= step
                gp = as_tuple(loss.grad(*ap, reduction=reduction, backend=backend, **opts))[0]
                gm = as_tuple(loss.grad(*am, reduction=reduction, backend=backend, **opts))[0]
                fd[k] = (gp[k] - gm[k]) / (ap[i][k] - am[i][k])
            _assert_fd(h, fd, mask, case.fd_rtol * 10, f"{name} {backend} {label} {reduction} hessian")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_value_and_grad_is_exactly_value_and_grad(name, backend, dtype):
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(12)
    for shape in [(0,), (1,), (33,), (7, 5), (4096 + 17,)]:
        for label, extra, weighted in option_variants(loss, case):
            arrays, opts = make(name, rng, shape, dtype, extra, weighted)
            for reduction in reductions_of(loss, case):
                what = f"{name} {backend} {dtype} {shape} {label} {reduction}"
                v, g = loss.value_and_grad(*arrays, reduction=reduction, backend=backend, **opts)
                v1 = loss(*arrays, reduction=reduction, backend=backend, **opts)
                g1 = loss.grad(*arrays, reduction=reduction, backend=backend, **opts)
                np.testing.assert_array_equal(v, v1, err_msg=what, strict=True)
                assert type(v) is type(v1), what
                for a, b in zip(as_tuple(g), as_tuple(g1)):
                    np.testing.assert_array_equal(a, b, err_msg=what, strict=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_derivatives_of_none_sum_mean_agree(name, backend):
    """grad/hessian of "none" equal those of "sum" (SPEC 1); mean = sum / sum(w)
    with sum(w) the mean's denominator (the count without weights)."""
    loss, case = pl.get(name), case_of(name)
    reds = reductions_of(loss, case)
    if not {"mean", "sum"} <= set(reds):
        pytest.skip(f"{name} has no mean/sum pair")
    rng = np.random.default_rng(13)
    ops = [op for op in ops_of(loss) if op in ("grad", "hess")]
    for label, extra, weighted in option_variants(loss, case):
        arrays, opts = make(name, rng, (5, 3), np.float64, extra, weighted)
        v_sum = loss(*arrays, reduction="sum", backend=backend, **opts)
        v_mean = loss(*arrays, reduction="mean", backend=backend, **opts)
        # the mean's denominator, recovered from the values themselves
        denom = v_sum / v_mean
        for op in ops:
            what = f"{name} {backend} {label} {op}"
            d_sum = split(op, call(loss, op, arrays, opts, "sum", backend))[1]
            d_mean = split(op, call(loss, op, arrays, opts, "mean", backend))[1]
            for s, m in zip(d_sum, d_mean):
                np.testing.assert_allclose(m * denom, s, rtol=1e-12, atol=1e-14, err_msg=what)
            if "none" in reds:
                d_none = split(op, call(loss, op, arrays, opts, "none", backend))[1]
                for s, n in zip(d_sum, d_none):
                    np.testing.assert_allclose(n, s, rtol=1e-14, atol=0, err_msg=what)
        if weighted and "none" in reds:
            w = opts["weight"]
            # weighted mean divides by sum(w) for losses whose weight has the loss's shape
            if np.shape(loss(*arrays, reduction="none", backend=backend, **opts)) == np.shape(w):
                np.testing.assert_allclose(denom, np.sum(w), rtol=1e-12, err_msg=name)
