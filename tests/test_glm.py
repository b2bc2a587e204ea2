"""GLM and boosting losses against their anchors (SPEC 6.1, 6.2).

* poisson, gamma, tweedie, exponential equal scikit-learn's ``sklearn._loss``
  HalfPoissonLoss, HalfGammaLoss, HalfTweedieLoss(power), ExponentialLoss
  element for element (loss, and gradient and Hessian from
  ``gradient_hessian``), weighted too; ``deviance=True`` equals
  ``sklearn.metrics.mean_{poisson,gamma,tweedie}_deviance``.
* poisson equals PyTorch ``poisson_nll_loss(log_input=True, full=False)``.
* pseudo_huber's gradient and Hessian are XGBoost's reg:pseudohubererror
  formulas (xgboost src/objective/regression_loss.h, ``PseudoHuberRegression``
  in src/objective/regression_obj.cu: grad = z / sqrt(1 + z^2/slope^2),
  hess = slope^2 / ((slope^2 + z^2) sqrt(1 + z^2/slope^2))); fair's are
  LightGBM's (src/objective/regression_objective.hpp, ``RegressionFairLoss``:
  grad = c x / (|x| + c), hess = c^2 / (|x| + c)^2).
* Extreme raw predictions, target-domain errors, invalid options, small-|r|
  precision in float32, and multi-level quantile against K single-level calls.
"""
import math
import warnings

import numpy as np
import pytest

import pyloss as pl

BACKENDS = pl.backends()
POWERS = [0.0, 1.0, 1.2, 1.5, 2.0, 3.0, -1.0, 2.5]


def _data(rng, n=2000, kind="count"):
    raw = 1.5 * rng.standard_normal(n)
    mu = np.exp(raw)
    if kind == "count":
        y = rng.poisson(mu).astype(np.float64)
    elif kind == "positive":
        y = rng.gamma(2.0, mu / 2.0) + 1e-3
    elif kind == "binary":
        y = (rng.random(n) < 0.5).astype(np.float64)
    elif kind == "unit":
        y = rng.random(n)
    else:
        y = rng.standard_normal(n) * mu
    return raw, y


def _kind(name, power):
    if name == "exponential":
        return "unit"
    if name == "gamma" or (name == "tweedie" and power >= 2):
        return "positive"
    if name == "tweedie" and power <= 0:
        return "real"
    return "count"


def _sk(name, power):
    skl = pytest.importorskip("sklearn._loss.loss")
    return {"poisson": skl.HalfPoissonLoss, "gamma": skl.HalfGammaLoss,
            "exponential": skl.ExponentialLoss}.get(name) or (lambda: skl.HalfTweedieLoss(power=power))


def _magnitude(name, power, raw, y):
    """Size of the terms each value is formed from: rounding is judged
    against it (the sums and differences of sklearn's formulas cancel)."""
    p = {"poisson": 1.0, "gamma": 2.0}.get(name, power)
    if name == "exponential":
        return np.abs(y) * np.exp(-raw) + np.abs(1 - y) * np.exp(raw)
    a, b = 1.0 - p, 2.0 - p
    return np.exp(b * raw) + np.abs(y) * np.exp(a * raw) + np.abs(raw) * (1 + np.abs(y)) + np.abs(y) ** 2


def _params():
    out = [("poisson", None), ("gamma", None), ("exponential", None)]
    return out + [("tweedie", p) for p in POWERS]


def _opts(name, power):
    return {} if power is None else {"power": power}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,power", _params())
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_sklearn_loss(name, power, backend, weighted, rng):
    L = _sk(name, power)()
    raw, y = _data(rng, kind=_kind(name, power))
    w = rng.uniform(0.2, 3.0, raw.size) if weighted else None
    loss = pl.get(name)
    o = _opts(name, power)
    l = loss(raw, y, weight=w, reduction="none", backend=backend, **o)
    g = loss.grad(raw, y, weight=w, reduction="none", backend=backend, **o)
    h = loss.hessian(raw, y, weight=w, reduction="none", backend=backend, **o)
    want_l = L.loss(y_true=y, raw_prediction=raw, sample_weight=w)
    want_g, want_h = L.gradient_hessian(y_true=y, raw_prediction=raw, sample_weight=w)
    m = _magnitude(name, power, raw, y) * (1.0 if w is None else w)
    for got, want, what in ((l, want_l, "loss"), (g, want_g, "gradient"), (h, want_h, "hessian")):
        err = np.abs(got - want) / (m + np.abs(want))
        assert err.max() < 1e-13, (what, float(err.max()))
    # mean = sum(w l) / sum(w): sklearn's __call__ (np.average)
    v = loss(raw, y, weight=w, backend=backend, **o)
    np.testing.assert_allclose(v, L(y_true=y, raw_prediction=raw, sample_weight=w), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,power", [("poisson", None), ("gamma", None)]
                         + [("tweedie", p) for p in POWERS])
@pytest.mark.parametrize("weighted", [False, True])
def test_deviance_equals_sklearn_metrics(name, power, backend, weighted, rng):
    metrics = pytest.importorskip("sklearn.metrics")
    raw, y = _data(rng, kind=_kind(name, power))   # any real y for power <= 0
    w = rng.uniform(0.2, 3.0, raw.size) if weighted else None
    mu = np.exp(raw)
    if name == "poisson":
        want = metrics.mean_poisson_deviance(y, mu, sample_weight=w)
    elif name == "gamma":
        want = metrics.mean_gamma_deviance(y, mu, sample_weight=w)
    else:
        want = metrics.mean_tweedie_deviance(y, mu, sample_weight=w, power=power)
    got = pl.get(name)(raw, y, weight=w, deviance=True, backend=backend, **_opts(name, power))
    np.testing.assert_allclose(got, want, rtol=1e-11)
    # and it is 2 (loss + constant_to_optimal_zero) element for element
    L = _sk(name, power)()
    dev = pl.get(name)(raw, y, deviance=True, reduction="none", backend=backend, **_opts(name, power))
    ref = 2.0 * (L.loss(y_true=y, raw_prediction=raw) + L.constant_to_optimal_zero(y))
    m = 2.0 * _magnitude(name, power, raw, y)
    assert (np.abs(dev - ref) / (m + np.abs(ref))).max() < 1e-13
    # the gradient and Hessian are doubled
    g = pl.get(name).grad(raw, y, deviance=True, reduction="none", backend=backend, **_opts(name, power))
    g1 = pl.get(name).grad(raw, y, reduction="none", backend=backend, **_opts(name, power))
    # to rounding: the deviance kernel is another loop body, and the AVX2/FMA
    # clone may fuse its multiply-adds differently (terms like 1 - y e^-r cancel)
    m1 = 2.0 * _magnitude(name, power, raw, y)
    assert (np.abs(g - 2.0 * g1) / (m1 + np.abs(g))).max() < 1e-13


@pytest.mark.parametrize("backend", BACKENDS)
def test_deviance_zero_at_the_optimum(backend):
    y = np.array([0.5, 1.0, 3.0, 20.0])
    raw = np.log(y)
    for name, o in (("poisson", {}), ("gamma", {}), ("tweedie", {"power": 1.5}),
                    ("tweedie", {"power": 3.0}), ("tweedie", {"power": 0.0})):
        d = pl.get(name)(raw, y, deviance=True, reduction="none", backend=backend, **o)
        np.testing.assert_allclose(d, 0.0, atol=1e-13)
    d = pl.poisson(np.array([-2.0]), np.array([0.0]), deviance=True, reduction="none", backend=backend)
    np.testing.assert_allclose(d, 2.0 * math.exp(-2.0), rtol=1e-15)   # 2 mu at y = 0


def _exact_deviance(name, power, raw, y):
    """The unit deviance of SPEC 6.1 from its closed form, evaluated with
    60-digit decimals from the exact binary values of raw and y (mu = e^raw):
    2 (y ln(y/mu) - y + mu), 2 (ln(mu/y) + y/mu - 1), and for Tweedie
    2 (mu^b / b - y mu^a / a + y^b / (ab)), a = 1 - p, b = 2 - p.  At 60
    digits the closed form's cancellation (result O(delta^2) from O(1)
    terms, delta = ln(y/mu) >= 1e-7 here) leaves over 40 correct digits."""
    import decimal
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        D = decimal.Decimal
        r, t = D(float(raw)), D(float(y))
        mu = r.exp()
        if name == "poisson":
            v = t * (t / mu).ln() - t + mu
        elif name == "gamma":
            v = (mu / t).ln() + t / mu - 1
        else:
            a, b = 1 - D(repr(power)), 2 - D(repr(power))
            v = (b * r).exp() / b - t * (a * r).exp() / a + (b * t.ln()).exp() / (a * b)
        return float(2 * v)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name,power", [("poisson", None), ("gamma", None)]
                         + [("tweedie", p) for p in (-1.0, 0.0, 1.2, 1.5, 1.9, 2.5, 3.0)])
def test_deviance_near_the_optimum_full_relative_precision(name, power, dtype, backend):
    """Near mu = y the deviance is O(delta^2), delta = log(y / mu), and its
    closed form a difference of O(1) terms; pyloss sums a series there
    (csrc/glm_impl.h, pl_dev_series).  Against the 60-digit closed form: a
    few ulps of the compute dtype for max(1, |2 - p|) |delta| < 1, where
    the series applies, and beyond it the closed form's own rounding
    (terms up to about 10x the result for these powers), plus in float64
    what the conditioning in y forces (`cond`).  Regression: at
    p = -1 in float16/float32 the closed form lost 4 digits (rel. error
    2.1e-4 at raw 0.375, y 1.467)."""
    opts = {} if power is None else {"power": power}
    ys = np.array([0.375, 1.0, 1.467, 20.0])
    deltas = np.geomspace(1e-7, 2.0, 24)
    deltas = np.concatenate([-deltas, deltas])
    y = np.repeat(ys, deltas.size).astype(dtype)
    raw = (np.log(np.repeat(ys, deltas.size)) - np.tile(deltas, ys.size)).astype(dtype)
    ok = raw.astype(np.float64) != np.log(y.astype(np.float64))     # skip delta rounded to 0
    y, raw = y[ok], raw[ok]
    got = pl.get(name)(raw, y, deviance=True, reduction="none", backend=backend,
                       **opts).astype(np.float64)
    want = np.array([_exact_deviance(name, power, r, t) for r, t in zip(raw, y)])
    eps = np.finfo(np.float64 if dtype == np.float64 else np.float32).eps
    d = np.log(y.astype(np.float64)) - raw.astype(np.float64)
    # The deviance's condition number in y is about 2 / |delta|: computed
    # from log y (rounded to its float64 ulp, ~eps64 |log y|), delta and the
    # result carry that much relative error however they are summed; in
    # float32 it stays below the dtype's rounding here.
    cond = 2.0 * np.finfo(np.float64).eps * (1.0 + np.abs(np.log(y.astype(np.float64)))) / np.abs(d)
    err = np.abs(got - want) / want
    m = max(1.0, abs(2.0 - (1.0 if name == "poisson" else 2.0 if name == "gamma" else power)))
    near = np.abs(d) * m < 1.0
    assert (err / (8 * eps + cond))[near].max() < 1, (name, power, err[near].max() / eps)
    assert (err / (64 * eps + cond)).max() < 1, (name, power, err.max() / eps)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_poisson_equals_torch_poisson_nll(backend, reduction, rng):
    torch = pytest.importorskip("torch")
    raw, y = _data(rng)
    x = torch.tensor(raw, requires_grad=True)
    want = torch.nn.functional.poisson_nll_loss(x, torch.tensor(y), log_input=True, full=False,
                                                reduction=reduction)
    want.backward()
    v, g = pl.poisson.value_and_grad(raw, y, reduction=reduction, backend=backend)
    np.testing.assert_allclose(v, want.item(), rtol=1e-12)
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,opts", [("poisson", {}), ("gamma", {}), ("exponential", {}),
                                       ("tweedie", {"power": 1.5}), ("tweedie", {"power": 0.0}),
                                       ("tweedie", {"power": 3.0}), ("tweedie", {"power": -0.5}),
                                       ("poisson", {"deviance": True}), ("gamma", {"deviance": True}),
                                       ("pseudo_huber", {"delta": 0.7}), ("fair", {"c": 0.6}),
                                       ("expectile", {"tau": 0.2})])
def test_finite_differences(name, opts, backend, rng):
    p = opts.get("power", 1.0)
    kind = {"exponential": "unit", "gamma": "positive"}.get(name, "positive" if p >= 2 else "count")
    raw, y = _data(rng, 200, kind if name not in ("pseudo_huber", "fair", "expectile") else "real")
    if name == "expectile":
        raw = raw[np.abs(raw - y) > 1e-3]
        y = y[: raw.size]
        raw = raw[np.abs(raw - y) > 1e-3]
        y = y[: raw.size]
    loss = pl.get(name)
    h = 1e-6
    l_p = loss(raw + h, y, reduction="none", backend=backend, **opts)
    l_m = loss(raw - h, y, reduction="none", backend=backend, **opts)
    g = loss.grad(raw, y, reduction="none", backend=backend, **opts)
    np.testing.assert_allclose(g, (l_p - l_m) / (2 * h), rtol=1e-5, atol=1e-7)
    g_p = loss.grad(raw + h, y, reduction="none", backend=backend, **opts)
    g_m = loss.grad(raw - h, y, reduction="none", backend=backend, **opts)
    hs = loss.hessian(raw, y, reduction="none", backend=backend, **opts)
    np.testing.assert_allclose(hs, (g_p - g_m) / (2 * h), rtol=1e-5, atol=1e-7)


def _extreme(dtype):
    big = 700.0 if dtype == np.float64 else 80.0
    return np.array([-big, -big / 2, -1.0, 0.0, 1.0, big / 2, big], dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,opts,y", [
    ("poisson", {}, [0.0, 3.0]), ("poisson", {"deviance": True}, [0.0, 3.0]),
    ("gamma", {}, [0.5, 4.0]), ("gamma", {"deviance": True}, [0.5, 4.0]),
    ("exponential", {}, [0.0, 1.0, 0.3]),
    ("tweedie", {"power": 1.5}, [0.0, 2.0]), ("tweedie", {"power": 0.0}, [-1.0, 0.0, 2.0]),
    ("tweedie", {"power": 1.0}, [0.0, 2.0]), ("tweedie", {"power": 2.0}, [0.5, 2.0]),
    ("tweedie", {"power": 3.0}, [0.5, 2.0]), ("tweedie", {"power": 4.0}, [0.5, 2.0]),
    ("tweedie", {"power": -1.0}, [-1.0, 0.0, 2.0]), ("tweedie", {"power": -1.0, "deviance": True}, [0.0, 2.0])])
def test_extreme_raw_ieee_without_warnings(name, opts, y, dtype, backend):
    """|raw| up to 700 (float64) / 80 (float32): no warning, no nan, and the
    float64 NumPy reference's value (inf where the exact value overflows)."""
    loss = pl.get(name)
    raw = np.repeat(_extreme(dtype), len(y))
    t = np.tile(np.asarray(y, dtype), _extreme(dtype).size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = [loss(raw, t, reduction="none", backend=backend, **opts),
                loss.grad(raw, t, reduction="none", backend=backend, **opts),
                loss.hessian(raw, t, reduction="none", backend=backend, **opts)]
        v, _ = loss.value_and_grad(raw, t, backend=backend, **opts)
        s = loss(raw, t, reduction="sum", backend=backend, **opts)
    for o in outs:
        assert not np.isnan(o).any(), (o, raw, t)
    assert not np.isnan(v) and not np.isnan(s)
    # against the float64 reference computed with Python floats' exp (math.exp
    # raises on overflow, so use numpy with warnings off)
    ref = [loss(raw.astype(np.float64), t.astype(np.float64), reduction="none", backend="numpy", **opts),
           loss.grad(raw.astype(np.float64), t.astype(np.float64), reduction="none", backend="numpy", **opts),
           loss.hessian(raw.astype(np.float64), t.astype(np.float64), reduction="none", backend="numpy", **opts)]
    big = np.finfo(dtype).max
    for o, r in zip(outs, ref):
        r = np.where(np.abs(r) > big, np.copysign(np.inf, r), r)
        fin = np.isfinite(r)
        np.testing.assert_array_equal(o[~fin], r[~fin])
        tol = 1e-12 if dtype == np.float64 else 1e-4
        scale = np.abs(r[fin]) + np.abs(raw[fin].astype(np.float64)) * (1 + np.abs(t[fin]))
        assert (np.abs(o[fin] - r[fin]) <= tol * scale + 1e-300).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tweedie_inf_minus_inf_is_the_dominant_term(backend):
    # p = -1: l = e^{3r}/3 - y e^{2r}/2; both overflow at r = 300; e^{3r} wins
    raw = np.array([300.0, -300.0, -300.0])
    y = np.array([1.0, 1.0, -1.0])
    l = pl.tweedie(raw, y, power=-1.0, reduction="none", backend=backend)
    assert l[0] == np.inf
    # r -> -inf: e^{3r} -> 0, -y e^{2r}/2 has the sign of -y; e^{-600} is finite
    assert np.isfinite(l[1:]).all()
    raw = np.array([-500.0])   # p = 4: l = e^{-2r}/(-2) + y e^{-3r}/3: both overflow, y term wins
    assert pl.tweedie(raw, np.array([2.0]), power=4.0, reduction="none", backend=backend)[0] == np.inf
    assert pl.tweedie.grad(raw, np.array([2.0]), power=4.0, reduction="none", backend=backend)[0] == -np.inf


@pytest.mark.parametrize("name,opts,target,msg", [
    ("poisson", {}, [1.0, 2.0, 3.0, -1.0], "poisson: target must be >= 0; got -1.0 at index (3,)"),
    ("gamma", {}, [1.0, 0.0], "gamma: target must be > 0; got 0.0 at index (1,)"),
    ("exponential", {}, [0.5, 1.5], "exponential: target must be in [0, 1]; got 1.5 at index (1,)"),
    ("exponential", {}, [-0.5, 0.5], "exponential: target must be in [0, 1]; got -0.5 at index (0,)"),
    ("tweedie", {"power": 1.5}, [0.0, -2.0], "tweedie: target must be >= 0 for power=1.5; got -2.0 at index (1,)"),
    ("tweedie", {"power": 2.0}, [1.0, 0.0], "tweedie: target must be > 0 for power=2; got 0.0 at index (1,)"),
    ("tweedie", {"power": 1.0}, [1, 2, -3], "tweedie: target must be >= 0 for power=1; got -3.0 at index (2,)")])
@pytest.mark.parametrize("backend", BACKENDS)
def test_target_domain_errors(name, opts, target, msg, backend):
    raw = np.zeros(len(target))
    loss = pl.get(name)
    for fn in (loss, loss.grad, loss.value_and_grad, loss.hessian):
        with pytest.raises(ValueError) as e:
            fn(raw, target, backend=backend, **opts)
        assert str(e.value) == msg
    # 2-d position, nan targets are not domain errors
    t = np.ones((2, 3))
    t[1, 2] = -5.0 if name != "exponential" else 5.0
    with pytest.raises(pl.PylossValueError, match=r"at index \(1, 2\)"):
        loss(np.zeros((2, 3)), t, backend=backend, **opts)
    t[1, 2] = np.nan
    assert np.isnan(loss(np.zeros((2, 3)), t, backend=backend, **opts))


def test_tweedie_any_target_for_nonpositive_power():
    assert np.isfinite(pl.tweedie([0.0, 0.0], [-3.0, 2.0], power=-1.0))
    assert np.isfinite(pl.tweedie([0.0, 0.0], [-3.0, 2.0], power=0.0))


@pytest.mark.parametrize("name,opts,what", [
    ("tweedie", {"power": 0.5}, "power"), ("tweedie", {"power": 0.999}, "power"),
    ("tweedie", {"power": float("nan")}, "power"), ("tweedie", {"power": float("inf")}, "power"),
    ("tweedie", {"deviance": "yes"}, "deviance"), ("poisson", {"deviance": 1.5}, "deviance"),
    ("pseudo_huber", {"delta": 0.0}, "delta"), ("pseudo_huber", {"delta": -1.0}, "delta"),
    ("fair", {"c": 0.0}, "c"), ("fair", {"c": -2.0}, "c"),
    ("expectile", {"tau": 0.0}, "tau"), ("expectile", {"tau": 1.0}, "tau"),
    ("quantile", {"q": [0.5, 1.0]}, "q"), ("quantile", {"q": []}, "q"),
    ("quantile", {"q": [[0.5]]}, "q")])
def test_invalid_options(name, opts, what):
    with pytest.raises((ValueError, TypeError), match=what):
        pl.get(name)(np.ones(3), np.ones(3), **opts)


def test_tweedie_special_powers_are_the_named_losses(rng):
    raw, y = _data(rng, 500, "positive")
    for p, other in ((1.0, pl.poisson), (2.0, pl.gamma)):
        for op in ("__call__", "grad", "hessian"):
            a = getattr(pl.tweedie, op)(raw, y, power=p, reduction="none")
            b = getattr(other, op)(raw, y, reduction="none")
            # to rounding of the terms (1 - y e^-r cancels; the clones fuse differently)
            m = _magnitude(other.name, p, raw, y)
            assert (np.abs(a - b) / (m + np.abs(b))).max() < 1e-14, op


# ----------------------------------------------------------- 6.2 regression

def _xgb_pseudo_huber(z, slope):
    scale_sqrt = np.sqrt(1 + z * z / (slope * slope))
    return z / scale_sqrt, slope * slope / ((slope * slope + z * z) * scale_sqrt)


def _lgb_fair(x, c):
    return c * x / (np.abs(x) + c), c * c / (np.abs(x) + c) ** 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("param", [0.3, 1.0, 2.5])
def test_pseudo_huber_and_fair_match_boosting_formulas(backend, param, rng):
    pred = 3 * rng.standard_normal(1000)
    target = rng.standard_normal(1000)
    z = pred - target
    g = pl.pseudo_huber.grad(pred, target, delta=param, reduction="none", backend=backend)
    h = pl.pseudo_huber.hessian(pred, target, delta=param, reduction="none", backend=backend)
    wg, wh = _xgb_pseudo_huber(z, param)
    np.testing.assert_allclose(g, wg, rtol=1e-13)
    np.testing.assert_allclose(h, wh, rtol=1e-13)
    g = pl.fair.grad(pred, target, c=param, reduction="none", backend=backend)
    h = pl.fair.hessian(pred, target, c=param, reduction="none", backend=backend)
    wg, wh = _lgb_fair(z, param)
    np.testing.assert_allclose(g, wg, rtol=1e-13)
    np.testing.assert_allclose(h, wh, rtol=1e-13)
    # values: XGBoost's mphe metric and LightGBM's fair metric, written plainly
    # (no cancellation for these |r|)
    big = np.abs(z) > 0.1
    v = pl.pseudo_huber(pred, target, delta=param, reduction="none", backend=backend)
    np.testing.assert_allclose(v[big], (param ** 2 * (np.sqrt(1 + (z / param) ** 2) - 1))[big], rtol=1e-12)
    x = np.abs(z) / param
    v = pl.fair(pred, target, c=param, reduction="none", backend=backend)
    np.testing.assert_allclose(v[big], (param ** 2 * (x - np.log1p(x)))[big], rtol=1e-12)


def _series_pseudo_huber(r, d):
    """d^2 (sqrt(1 + x^2) - 1) = d^2 (x^2/2 - x^4/8 + x^6/16 - 5 x^8/128), |x| <= 1e-2
    (binomial series; the next term is below 1e-18 relative)."""
    x2 = (r / d) ** 2
    return d * d * x2 * (0.5 - x2 / 8 + x2 * x2 / 16 - 5 * x2 ** 3 / 128)


def _series_fair(r, c):
    """c^2 (x - log1p(x)) = c^2 (x^2/2 - x^3/3 + x^4/4 - ...), x = |r|/c <= 1e-2."""
    x = np.abs(r) / c
    return c * c * sum((-1) ** k * x ** k / k for k in range(2, 12))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_residual_full_relative_precision(backend, dtype):
    """No cancellation as r -> 0: relative error of a few ulp of the dtype
    against the series (evaluated in float64 from the float inputs)."""
    r = np.geomspace(1e-12, 1e-2, 200).astype(dtype)
    r = np.concatenate([r, -r])
    zero = np.zeros_like(r)
    eps = np.finfo(dtype).eps
    r64 = r.astype(np.float64)
    for name, opt, series in (("pseudo_huber", {"delta": 0.7}, lambda r: _series_pseudo_huber(r, 0.7)),
                              ("fair", {"c": 0.7}, lambda r: _series_fair(r, 0.7))):
        got = pl.get(name)(r, zero, reduction="none", backend=backend, **opt).astype(np.float64)
        want = series(r64)
        assert (np.abs(got - want) / want).max() < 8 * eps, name
    # the x - log1p(x) series branch stays accurate up to its x = 1 switch
    r = np.linspace(1e-3, 3.0, 2001).astype(dtype)
    got = pl.fair(r, np.zeros_like(r), c=1.0, reduction="none", backend=backend).astype(np.float64)
    x = r.astype(np.float64)
    want = np.where(x < 0.01, _series_fair(x, 1.0), x - np.log1p(x))   # float64: no cancellation
    err = np.abs(got - want) / want                                    # beyond x = 0.01 that matters
    assert err.max() < (8 * eps if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pseudo_huber_fair_large_residuals(backend):
    r = np.array([1e200, -1e300, 1e30, -3e38], np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = pl.pseudo_huber(r, np.zeros(4), reduction="none", backend=backend)
        g = pl.pseudo_huber.grad(r, np.zeros(4), reduction="none", backend=backend)
        f = pl.fair(r, np.zeros(4), reduction="none", backend=backend)
    np.testing.assert_allclose(v, np.abs(r) - 1.0, rtol=1e-14)   # delta (|r| - delta) + O(1/|r|)
    np.testing.assert_allclose(g, np.sign(r), rtol=1e-14)
    np.testing.assert_allclose(f, np.abs(r) - np.log1p(np.abs(r)), rtol=1e-14)
    r32 = np.array([1e30, -3e38], np.float32)
    v = pl.pseudo_huber(r32, np.zeros(2, np.float32), reduction="none", backend=backend)
    np.testing.assert_allclose(v, np.abs(r32.astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_expectile_weights(backend):
    pred = np.array([0.0, 0.0, 0.0])
    target = np.array([2.0, -2.0, 0.0])   # u = target - pred
    l = pl.expectile(pred, target, tau=0.8, reduction="none", backend=backend)
    np.testing.assert_allclose(l, [0.8 * 4, 0.2 * 4, 0.0])
    g = pl.expectile.grad(pred, target, tau=0.8, reduction="none", backend=backend)
    np.testing.assert_allclose(g, [-2 * 0.8 * 2, -2 * 0.2 * -2, 0.0])
    h = pl.expectile.hessian(pred, target, tau=0.8, reduction="none", backend=backend)
    np.testing.assert_allclose(h, [1.6, 0.4, 1.6])   # at u = 0 the weight is tau


# ----------------------------------------------------------- multi-level quantile

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wkind", [None, "sample", "term", "level"])
def test_quantile_levels_equal_k_single_calls(backend, dtype, wkind, rng):
    q = [0.1, 0.5, 0.9]
    target = rng.standard_normal((5, 4)).astype(dtype)
    pred = rng.standard_normal((5, 4, 3)).astype(dtype)
    w = {None: None, "sample": rng.uniform(0.5, 2.0, (5, 4)),
         "term": rng.uniform(0.5, 2.0, (5, 4, 3)), "level": np.array([1.0, 2.0, 3.0])}[wkind]
    wk = [None if w is None else (w if w.shape == target.shape else np.broadcast_to(w, pred.shape)[..., k])
          for k in range(3)]
    none = pl.quantile(pred, target, q=q, weight=w, reduction="none", backend=backend)
    g = pl.quantile.grad(pred, target, q=q, weight=w, reduction="sum", backend=backend)
    h = pl.quantile.hessian(pred, target, q=q, weight=w, reduction="sum", backend=backend)
    assert none.shape == g.shape == h.shape == pred.shape
    assert none.dtype == g.dtype == dtype
    total = 0.0
    wsum = 0.0
    for k in range(3):
        nk = pl.quantile(pred[..., k], target, q=q[k], weight=wk[k], reduction="none", backend=backend)
        gk = pl.quantile.grad(pred[..., k], target, q=q[k], weight=wk[k], reduction="sum", backend=backend)
        np.testing.assert_array_equal(none[..., k], nk)
        np.testing.assert_array_equal(g[..., k], gk)
        total += float(np.sum(nk, dtype=np.float64))
        wsum += float(np.sum(wk[k])) if wk[k] is not None else target.size
    np.testing.assert_array_equal(h, 0.0)
    rt = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(pl.quantile(pred, target, q=q, weight=w, reduction="sum", backend=backend),
                               total, rtol=rt)
    v, gm = pl.quantile.value_and_grad(pred, target, q=q, weight=w, backend=backend)
    np.testing.assert_allclose(v, total / wsum, rtol=rt)
    np.testing.assert_allclose(gm, g / wsum, rtol=rt)


def test_quantile_levels_shape_errors():
    with pytest.raises(ValueError, match=r"target.shape \+ \(2,\)"):
        pl.quantile(np.zeros((4, 3)), np.zeros(4), q=[0.1, 0.9])
    with pytest.raises(ValueError, match="weight"):
        pl.quantile(np.zeros((4, 2)), np.zeros(4), q=[0.1, 0.9], weight=np.ones(3))
    # a single level in a list is the K = 1 case
    v = pl.quantile(np.zeros((4, 1)), np.ones(4), q=[0.3])
    assert v == pl.quantile(np.zeros(4), np.ones(4), q=0.3)


def test_quantile_levels_xgboost_layout(rng):
    """XGBoost reg:quantileerror with quantile_alpha=[...] predicts (N, K),
    column k for level k; its per-term pinball value is what pyloss returns."""
    y = rng.standard_normal(50)
    pred = rng.standard_normal((50, 2))
    alpha = np.array([0.25, 0.75])
    u = y[:, None] - pred
    want = np.where(u >= 0, alpha * u, (alpha - 1) * u)
    np.testing.assert_allclose(pl.quantile(pred, y, q=alpha, reduction="none"), want, rtol=1e-15)


def test_tweedie_regular_and_special_powers_take_the_right_loop():
    # pl_tweedie (csrc/glm_impl.h) sends a power other than 0, 1, 2
    # (compared in the compute dtype) to a loop without the special forms.
    # A float32 power that rounds to 1 takes Poisson's form there; regular
    # powers, and one just off 2 in float64, take the regular loop and equal
    # the float64 reference on every backend.
    raw = np.linspace(-3, 3, 101)
    y = np.abs(np.sin(7 * raw)) + 0.1
    r32, y32 = raw.astype(np.float32), y.astype(np.float32)
    near1 = pl.tweedie.value_and_grad(r32, y32, power=1.0 + 1e-9, reduction="sum", backend="c")
    one = pl.tweedie.value_and_grad(r32, y32, power=1.0, reduction="sum", backend="c")
    assert near1[0] == one[0] and np.array_equal(near1[1], one[1])
    for p in (1.5, 3.0, -1.0, 2.0 + 1e-12):
        for b in pl.backends():
            got = pl.tweedie.value_and_grad(raw, y, power=p, reduction="none", backend=b)
            ref = pl.tweedie.value_and_grad(raw, y, power=p, reduction="none", backend="numpy")
            h = pl.tweedie.hessian(raw, y, power=p, reduction="none", backend=b)
            h_ref = pl.tweedie.hessian(raw, y, power=p, reduction="none", backend="numpy")
            np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got[1], ref[1], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(h[1] if isinstance(h, tuple) else h,
                                       h_ref[1] if isinstance(h_ref, tuple) else h_ref,
                                       rtol=1e-12, atol=1e-12)
