"""Regression losses: hand-derived values, edge cases, option validation and
comparisons with torch.nn.functional.

Derivations (r = pred - target):
* huber at |r| = delta: both branches give delta**2 / 2; the quadratic zone is
  closed (|r| <= delta), so grad = r and hessian = 1 there (PyTorch's rule).
* smooth_l1 at |r| = beta: both branches give beta / 2; the zone is open
  (|r| < beta), so grad = sign r and hessian = 0 there.
* smooth_l1 with beta = 0 has an empty quadratic zone: |r| - 0 = mae.
* quantile with q = 1/2: max(u/2, -u/2) = |u| / 2 = mae / 2.
* log cosh r = r**2/2 - r**4/12 + O(r**6): at r = 1e-8 the second term is
  1e-33 relative to nothing we can see, so log cosh 1e-8 == 5e-17 to full
  precision; tanh(1e-8) = 1e-8 and sech**2(1e-8) = 1 likewise.
* log cosh(1e4) = 1e4 - log 2 + log1p(e^-2e4) = 1e4 - log 2 exactly in
  double; at +-inf the loss is inf, the gradient +-1 and the Hessian 0.
"""
import math

import numpy as np
import pytest

import pyloss as pl

BACKENDS = pl.backends()
REG = ("mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile")
DTYPES = (np.float32, np.float64)


def ev(name, pred, target, reduction="sum", backend="auto", dtype=np.float64, **opts):
    """(value, grad, hessian) as float64 arrays."""
    loss = pl.get(name)
    p = np.asarray(pred, dtype)
    t = np.asarray(target, dtype)
    v, g = loss.value_and_grad(p, t, reduction=reduction, backend=backend, **opts)
    h = loss.hessian(p, t, reduction=reduction, backend=backend, **opts)
    return np.float64(v) if np.ndim(v) == 0 else np.asarray(v, np.float64), \
        np.asarray(g, np.float64), np.asarray(h, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_huber_at_the_threshold(backend, dtype):
    for delta in (0.5, 1.0, 2.0):
        v, g, h = ev("huber", [delta, -delta], [0.0, 0.0], "none", backend, dtype, delta=delta)
        np.testing.assert_array_equal(v, [0.5 * delta**2] * 2)
        np.testing.assert_array_equal(g, [delta, -delta])
        np.testing.assert_array_equal(h, [1.0, 1.0])
        # just outside: linear branch, Hessian exactly 0
        x = np.nextafter(dtype(delta), dtype(np.inf))
        v, g, h = ev("huber", [x], [0.0], "none", backend, dtype, delta=delta)
        np.testing.assert_array_equal(g, [delta])
        np.testing.assert_array_equal(h, [0.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_smooth_l1_at_the_threshold(backend, dtype):
    for beta in (0.25, 1.0, 2.0):
        v, g, h = ev("smooth_l1", [beta, -beta], [0.0, 0.0], "none", backend, dtype, beta=beta)
        np.testing.assert_array_equal(v, [0.5 * beta] * 2)
        np.testing.assert_array_equal(g, [1.0, -1.0])
        np.testing.assert_array_equal(h, [0.0, 0.0])
        x = np.nextafter(dtype(beta), dtype(0))
        v, g, h = ev("smooth_l1", [x], [0.0], "none", backend, dtype, beta=beta)
        np.testing.assert_allclose(g, [1.0], rtol=1e-6)
        np.testing.assert_allclose(h, [1.0 / beta], rtol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_smooth_l1_beta0_is_mae_and_quantile_half_is_half_mae(backend, dtype, rng):
    p = rng.standard_normal(1000).astype(dtype)
    t = rng.standard_normal(1000).astype(dtype)
    p[:10] = t[:10]                       # kinks included
    w = rng.uniform(-1, 2, 1000).astype(dtype)
    for red in ("mean", "sum", "none"):
        for kw in ({}, {"weight": w}):
            mae = ev("mae", p, t, red, backend, dtype, **kw)
            sl1 = ev("smooth_l1", p, t, red, backend, dtype, beta=0.0, **kw)
            q = ev("quantile", p, t, red, backend, dtype, q=0.5, **kw)
            for a, b, c in zip(mae, sl1, q):
                np.testing.assert_array_equal(b, a)
                np.testing.assert_allclose(c, a / 2, rtol=1e-6 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_log_cosh_tiny_large_and_infinite(backend, dtype):
    tight = 2 * np.finfo(dtype).eps
    v, g, h = ev("log_cosh", [1e-8, -1e-8], [0.0, 0.0], "none", backend, dtype)
    r = np.float64(dtype(1e-8))
    np.testing.assert_allclose(v, [r * r / 2] * 2, rtol=tight)
    np.testing.assert_allclose(g, [r, -r], rtol=tight)
    np.testing.assert_allclose(h, [1.0, 1.0], rtol=tight)
    v, g, h = ev("log_cosh", [1e4, -1e4, np.inf, -np.inf], [0.0] * 4, "none", backend, dtype)
    big = 1e4 - math.log(2.0)
    np.testing.assert_allclose(v[:2], [big, big], rtol=tight)
    np.testing.assert_array_equal(v[2:], [np.inf, np.inf])
    np.testing.assert_array_equal(g, [1.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(h, [0.0] * 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_large_and_infinite_residuals(backend, dtype):
    """+-1e4 and +-inf: exact values, nothing overflows early."""
    p = [1e4, -1e4, np.inf, -np.inf]
    t = [0.0] * 4
    cases = {
        "mse": ([1e8, 1e8, np.inf, np.inf], [2e4, -2e4, np.inf, -np.inf]),
        "mae": ([1e4, 1e4, np.inf, np.inf], [1, -1, 1, -1]),
        "huber": ([1e4 - 0.5, 1e4 - 0.5, np.inf, np.inf], [1, -1, 1, -1]),
        "smooth_l1": ([1e4 - 0.5, 1e4 - 0.5, np.inf, np.inf], [1, -1, 1, -1]),
        "quantile": ([0.5e4, 0.5e4, np.inf, np.inf], [0.5, -0.5, 0.5, -0.5]),
    }
    for name, (lv, lg) in cases.items():
        v, g, h = ev(name, p, t, "none", backend, dtype)
        np.testing.assert_array_equal(v, lv, err_msg=name)
        np.testing.assert_array_equal(g, lg, err_msg=name)
        assert np.all(np.isfinite(h)), name


@pytest.mark.parametrize("name", REG)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_propagates(name, backend, dtype):
    p = np.array([np.nan, 1.0, 0.5, -2.0], dtype)
    t = np.array([0.0, np.nan, 0.0, 0.0], dtype)
    v, g, h = ev(name, p, t, "none", backend, dtype)
    assert np.isnan(v[:2]).all() and np.isfinite(v[2:]).all(), (name, v)
    assert np.isnan(g[:2]).all() and np.isfinite(g[2:]).all(), (name, g)
    for red in ("mean", "sum"):
        v, g, h = ev(name, p, t, red, backend, dtype)
        assert np.isnan(v), (name, red)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_subgradient_zero_at_kinks(backend, dtype):
    p = np.array([0.0, 1.5, -3.0], dtype)
    for name, opts in [("mae", {}), ("quantile", {"q": 0.1}), ("quantile", {"q": 0.9}),
                       ("huber", {}), ("smooth_l1", {}), ("smooth_l1", {"beta": 0.0})]:
        v, g, h = ev(name, p, p.copy(), "none", backend, dtype, **opts)
        np.testing.assert_array_equal(v, [0.0] * 3, err_msg=name)
        np.testing.assert_array_equal(g, [0.0] * 3, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_hessians_exactly_zero_outside_quadratic_zones(backend, dtype, rng):
    # thresholds exactly representable, so every backend agrees at the ties
    r = np.concatenate([rng.uniform(-5, 5, 500), [0.0, 1.0, -1.0, 0.25, -0.5]]).astype(dtype)
    z = np.zeros_like(r)
    a = np.abs(r.astype(np.float64))
    for name, opts, inside, hin in [
            ("mae", {}, np.zeros(r.shape, bool), 0.0),
            ("quantile", {"q": 0.3}, np.zeros(r.shape, bool), 0.0),
            ("huber", {"delta": 1.0}, a <= 1.0, 1.0),
            ("huber", {"delta": 0.25}, a <= 0.25, 1.0),
            ("smooth_l1", {"beta": 1.0}, a < 1.0, 1.0),
            ("smooth_l1", {"beta": 0.5}, a < 0.5, 2.0),
            ("mse", {}, np.ones(r.shape, bool), 2.0)]:
        _, _, h = ev(name, r, z, "none", backend, dtype, **opts)
        np.testing.assert_array_equal(h[~inside], 0.0, err_msg=f"{name} {opts}")
        np.testing.assert_allclose(h[inside], hin, rtol=1e-7, err_msg=f"{name} {opts}")


@pytest.mark.parametrize("name", REG)
@pytest.mark.parametrize("backend", BACKENDS)
def test_weights_with_negative_entries(name, backend, rng):
    p, t = rng.standard_normal(50), rng.standard_normal(50)
    w = rng.uniform(-1, 2, 50)
    loss = pl.get(name)
    l_none = loss(p, t, reduction="none", backend="numpy")
    np.testing.assert_allclose(loss(p, t, weight=w, reduction="sum", backend=backend),
                               np.sum(w * l_none), rtol=1e-12)
    np.testing.assert_allclose(loss(p, t, weight=w, reduction="mean", backend=backend),
                               np.sum(w * l_none) / np.sum(w), rtol=1e-12)
    np.testing.assert_allclose(loss(p, t, weight=w, reduction="none", backend=backend),
                               w * l_none, rtol=1e-12)
    # broadcast weights (a column against a 2-d prediction)
    p2, t2 = p.reshape(10, 5), t.reshape(10, 5)
    wc = w[:10].reshape(10, 1)
    np.testing.assert_allclose(loss(p2, t2, weight=wc, reduction="sum", backend=backend),
                               np.sum(wc * l_none.reshape(10, 5)), rtol=1e-12)


@pytest.mark.parametrize("name,opt,bad", [
    ("huber", "delta", 0.0), ("huber", "delta", -1.0), ("huber", "delta", float("nan")),
    ("smooth_l1", "beta", -1e-9), ("smooth_l1", "beta", float("nan")),
    ("quantile", "q", 0.0), ("quantile", "q", 1.0), ("quantile", "q", -0.5),
    ("quantile", "q", 1.5), ("quantile", "q", float("nan")),
])
def test_invalid_options_raise_value_error_naming_them(name, opt, bad):
    loss = pl.get(name)
    for fn in (loss, loss.grad, loss.value_and_grad, loss.hessian):
        with pytest.raises(pl.PylossValueError, match=opt):
            fn(np.zeros(3), np.ones(3), **{opt: bad})


@pytest.mark.parametrize("name,opt", [("huber", "delta"), ("smooth_l1", "beta"), ("quantile", "q")])
def test_non_numeric_options_raise_type_error(name, opt):
    # quantile's q may be a 1-D sequence of levels (SPEC 6.2): a list of
    # non-numbers is its non-numeric case, and [0.5] is one level whose pred
    # lacks the levels axis (a ValueError naming the shapes)
    seq = ["0.5"] if name == "quantile" else [0.5]
    for bad in ("0.5", None, seq, True):
        with pytest.raises(pl.PylossTypeError, match=opt):
            pl.get(name)(np.zeros(3), np.ones(3), **{opt: bad})
    if name == "quantile":
        with pytest.raises(pl.PylossValueError, match=r"pred.*\(3, 1\)"):
            pl.quantile(np.zeros(3), np.ones(3), q=[0.5])


def test_unknown_reduction_and_backend_name_the_argument():
    for name in REG:
        with pytest.raises(pl.PylossValueError, match="reduction"):
            pl.get(name)(np.zeros(3), np.ones(3), reduction="avg")
        with pytest.raises(pl.PylossValueError, match="backend"):
            pl.get(name).grad(np.zeros(3), np.ones(3), backend="cuda")


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(pl.PylossValueError) as ei:
        pl.mse(np.zeros((3, 2)), np.zeros((2, 3)))
    assert "(3, 2)" in str(ei.value) and "(2, 3)" in str(ei.value)
    with pytest.raises(pl.PylossValueError, match="weight"):
        pl.mse(np.zeros((3, 2)), np.zeros((3, 2)), weight=np.ones(3))


def test_docstring_examples():
    assert float(pl.mse([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])) == pytest.approx(5 / 3)
    assert float(pl.huber([0.5, 3.0], [0.0, 0.0], delta=1.0)) == 1.3125
    assert float(pl.smooth_l1([0.5, 3.0], [0.0, 0.0], beta=1.0)) == 1.3125
    assert float(pl.quantile([0.0, 0.0], [1.0, -1.0], q=0.9)) == 0.5
    assert round(float(pl.log_cosh([1000.0], [0.0])), 6) == 999.306853


# ------------------------------------------------------------------ PyTorch

TORCH = [("mse", "mse_loss", {}, {}), ("mae", "l1_loss", {}, {}),
         ("huber", "huber_loss", {}, {}), ("huber", "huber_loss", {"delta": 0.3}, {"delta": 0.3}),
         ("huber", "huber_loss", {"delta": 2.5}, {"delta": 2.5}),
         ("smooth_l1", "smooth_l1_loss", {}, {}),
         ("smooth_l1", "smooth_l1_loss", {"beta": 0.25}, {"beta": 0.25}),
         ("smooth_l1", "smooth_l1_loss", {"beta": 0.0}, {"beta": 0.0})]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,tname,opts,topts", TORCH)
def test_matches_torch_functional(name, tname, opts, topts, backend, dtype, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p = (2 * rng.standard_normal((40, 3))).astype(dtype)
    t = (2 * rng.standard_normal((40, 3))).astype(dtype)
    p[0, 0] = t[0, 0]                         # a kink: torch's sub-gradient is 0 too
    loss = pl.get(name)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for red in ("mean", "sum", "none"):
        tp = torch.tensor(p, requires_grad=True)
        tl = getattr(F, tname)(tp, torch.tensor(t), reduction=red, **topts)
        tl.sum().backward()
        v, g = loss.value_and_grad(p, t, reduction=red, backend=backend, **opts)
        np.testing.assert_allclose(v, tl.detach().numpy(), rtol=rtol, atol=rtol * 1e-3,
                                   err_msg=f"{name} {red}")
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=rtol, atol=rtol * 1e-3,
                                   err_msg=f"{name} {red} grad")
