"""pyloss.boosting: real XGBoost and LightGBM models trained with pyloss objectives."""
import numpy as np
import pytest

import pyloss as pl
import pyloss.boosting as plb


def _regression_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    y = X[:, 0] * 2.0 - X[:, 1] + 0.3 * rng.standard_normal(n)
    return X, y


def _binary_data(n=400, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


needs = pytest.mark.skipif


# ------------------------------------------------------------ library-free
def test_objective_is_pyloss_grad_and_floored_hessian(rng):
    y = rng.standard_normal(50)
    s = rng.standard_normal(50)
    w = rng.random(50)
    g, h = plb.objective("huber", delta=0.5)(y, s, w)
    np.testing.assert_allclose(g, w * pl.huber.grad(s, y, delta=0.5, reduction="none"))
    np.testing.assert_allclose(h, w * np.maximum(pl.huber.hessian(s, y, delta=0.5, reduction="none"), 1e-6))
    g, h = plb.objective("mae")(y, s)
    assert (h == 1).all() and plb.objective("mae").hessian == "constant"
    _, h = plb.objective("mae", hessian="exact", hess_floor=0.25)(y, s)
    assert (h == 0.25).all()


def test_errors():
    with pytest.raises(pl.PylossValueError, match="name"):
        plb.objective("not_a_loss")
    with pytest.raises(pl.PylossValueError, match="hessian"):
        plb.objective("mse", hessian="newton")
    with pytest.raises(pl.PylossTypeError, match="unexpected"):
        plb.objective("huber", delt=1.0)
    with pytest.raises(pl.PylossValueError, match="library"):
        plb.metric("mse", "catboost")


# ------------------------------------------------------------ XGBoost
def _xgb():
    return pytest.importorskip("xgboost")


def _xgb_params(**kw):
    p = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "base_score": 0.0,
         "seed": 0}
    p.update(kw)
    return p


def test_xgboost_huber_equals_builtin_squared_error():
    xgb = _xgb()
    X, y = _regression_data()
    d = xgb.DMatrix(X, label=y)
    built = xgb.train(_xgb_params(objective="reg:squarederror"), d, 20)
    # huber with delta beyond every residual is exactly r^2/2: the library's loss.
    ours = xgb.train(_xgb_params(), d, 20, obj=plb.objective("huber", delta=1e6))
    np.testing.assert_allclose(ours.predict(d, output_margin=True), built.predict(d),
                               rtol=1e-5, atol=1e-5)


def test_xgboost_mse_equals_builtin_without_regularisation():
    xgb = _xgb()
    X, y = _regression_data()
    d = xgb.DMatrix(X, label=y)
    # pyloss mse = r^2 (gradient and Hessian twice the library's): Newton steps
    # -G/H are equal once lambda and min_child_weight do not depend on the scale.
    kw = dict(reg_lambda=0.0, min_child_weight=0.0)
    built = xgb.train(_xgb_params(objective="reg:squarederror", **kw), d, 15)
    ours = xgb.train(_xgb_params(**kw), d, 15, obj=plb.objective("mse"))
    np.testing.assert_allclose(ours.predict(d, output_margin=True), built.predict(d),
                               rtol=1e-5, atol=1e-5)


def test_xgboost_metric_and_sklearn_api():
    xgb = _xgb()
    X, y = _regression_data()
    w = np.random.default_rng(2).random(y.size) + 0.5
    d = xgb.DMatrix(X, label=y, weight=w)
    hist = {}
    booster = xgb.train(_xgb_params(disable_default_eval_metric=1), d, 10,
                        obj=plb.objective("log_cosh"), evals=[(d, "train")], evals_result=hist,
                        custom_metric=plb.metric("log_cosh", "xgboost"), verbose_eval=False)
    last = hist["train"]["pyloss_log_cosh"][-1]
    pred = booster.predict(d, output_margin=True)
    np.testing.assert_allclose(last, pl.log_cosh(pred, y, weight=w), rtol=1e-5)
    assert hist["train"]["pyloss_log_cosh"][0] > last            # it learned
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3, n_jobs=1,
                             objective=plb.objective("quantile", q=0.8))
    model.fit(X, y)
    cover = np.mean(y <= model.predict(X))
    assert 0.6 < cover < 0.95


@needs("binary_cross_entropy_with_logits" not in pl.losses(), reason="classification family absent")
def test_xgboost_logistic_equals_builtin():
    xgb = _xgb()
    X, y = _binary_data()
    d = xgb.DMatrix(X, label=y)
    # base_score is a probability for binary:logistic (0.5 -> margin 0) and a
    # margin for a custom objective (0.0): both start from margin 0.
    built = xgb.train(_xgb_params(objective="binary:logistic", base_score=0.5), d, 15)
    ours = xgb.train(_xgb_params(), d, 15, obj=plb.objective("binary_cross_entropy_with_logits"))
    np.testing.assert_allclose(ours.predict(d, output_margin=True),
                               built.predict(d, output_margin=True), rtol=1e-5, atol=1e-5)


@needs("sigmoid_focal" not in pl.losses(), reason="classification family absent")
def test_xgboost_sigmoid_focal_trains():
    xgb = _xgb()
    X, y = _binary_data()
    d = xgb.DMatrix(X, label=y)
    booster = xgb.train(_xgb_params(), d, 20, obj=plb.objective("sigmoid_focal", gamma=2.0))
    acc = np.mean((booster.predict(d, output_margin=True) > 0) == y)
    assert acc > 0.85


@needs("cross_entropy" not in pl.losses(), reason="classification family absent")
def test_xgboost_softmax_cross_entropy_multiclass():
    xgb = _xgb()
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4))
    y = np.argmax(X[:, :3] + 0.2 * rng.standard_normal((300, 3)), axis=1).astype(np.float64)
    d = xgb.DMatrix(X, label=y)
    hist = {}
    booster = xgb.train(_xgb_params(num_class=3, disable_default_eval_metric=1), d, 15,
                        obj=plb.objective("cross_entropy"), evals=[(d, "t")], evals_result=hist,
                        custom_metric=plb.metric("cross_entropy", "xgboost"), verbose_eval=False)
    margin = booster.predict(d, output_margin=True)
    assert margin.shape == (300, 3)
    assert np.mean(np.argmax(margin, 1) == y) > 0.85
    np.testing.assert_allclose(hist["t"]["pyloss_cross_entropy"][-1],
                               pl.cross_entropy(margin, y.astype(np.int64)), rtol=1e-5)


# ------------------------------------------------------------ LightGBM
def _lgb():
    return pytest.importorskip("lightgbm")


def _lgb_params(**kw):
    p = {"num_leaves": 8, "learning_rate": 0.3, "num_threads": 1, "verbose": -1, "seed": 0,
         "deterministic": True, "force_row_wise": True, "boost_from_average": False}
    p.update(kw)
    return p


def test_lightgbm_huber_equals_builtin_l2():
    lgb = _lgb()
    X, y = _regression_data()
    built = lgb.train(_lgb_params(objective="regression"), lgb.Dataset(X, y), 20)
    ours = lgb.train(_lgb_params(objective=plb.objective("huber", delta=1e6)), lgb.Dataset(X, y), 20)
    np.testing.assert_allclose(ours.predict(X, raw_score=True), built.predict(X), rtol=1e-6, atol=1e-6)


def test_lightgbm_mse_feval_and_sklearn():
    lgb = _lgb()
    X, y = _regression_data()
    built = lgb.train(_lgb_params(objective="regression"), lgb.Dataset(X, y), 10)
    ours = lgb.train(_lgb_params(objective=plb.objective("mse"), min_sum_hessian_in_leaf=0.0),
                     lgb.Dataset(X, y), 10)
    # pyloss mse's Newton step -sum(2r)/sum(2) is the library's -sum(r)/sum(1).
    np.testing.assert_allclose(ours.predict(X, raw_score=True), built.predict(X), rtol=1e-5, atol=1e-5)
    rec = {}
    dtrain = lgb.Dataset(X, y)
    lgb.train(_lgb_params(objective=plb.objective("huber", delta=0.5), metric="None"), dtrain, 5,
              valid_sets=[dtrain], valid_names=["t"], feval=plb.metric("huber", "lightgbm", delta=0.5),
              callbacks=[lgb.record_evaluation(rec)])
    assert rec["t"]["pyloss_huber"][0] > rec["t"]["pyloss_huber"][-1]
    model = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, n_jobs=1, verbose=-1,
                              objective=plb.objective("log_cosh"))
    model.fit(X, y)
    name, value, higher_better = plb.metric("log_cosh", "lightgbm")(y, model.predict(X, raw_score=True))
    assert name == "pyloss_log_cosh" and higher_better is False
    assert value < pl.log_cosh(np.zeros_like(y), y)


@needs("binary_cross_entropy_with_logits" not in pl.losses(), reason="classification family absent")
def test_lightgbm_logistic_equals_builtin():
    lgb = _lgb()
    X, y = _binary_data()
    built = lgb.train(_lgb_params(objective="binary"), lgb.Dataset(X, y), 15)
    ours = lgb.train(_lgb_params(objective=plb.objective("binary_cross_entropy_with_logits")),
                     lgb.Dataset(X, y), 15)
    np.testing.assert_allclose(ours.predict(X, raw_score=True), built.predict(X, raw_score=True),
                               rtol=1e-5, atol=1e-5)


@needs("cross_entropy" not in pl.losses(), reason="classification family absent")
def test_lightgbm_softmax_cross_entropy_multiclass():
    lgb = _lgb()
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4))
    y = np.argmax(X[:, :3] + 0.2 * rng.standard_normal((300, 3)), axis=1)
    booster = lgb.train(_lgb_params(objective=plb.objective("cross_entropy"), num_class=3),
                        lgb.Dataset(X, y), 15)
    margin = booster.predict(X, raw_score=True)
    assert margin.shape == (300, 3)
    assert np.mean(np.argmax(margin, 1) == y) > 0.85


# ============================================================ profiles: built-in vs pyloss
# Each built-in objective is trained side by side with the pyloss objective in
# that library's profile, from the same starting margin (init_score, given as
# XGBoost base_margin / LightGBM init_score), same data, parameters and seed,
# 30 rounds, unweighted and weighted.  The difference is measured relative to
# the predictions' scale, max|a - b| / max|a| (float32 rounding in the
# libraries makes an element-wise ratio meaningless at margins near 0).
# PYLOSS_BOOST_PARITY=<file> appends the measured differences as JSON lines
# (bench/sections/boost.md).
_N = 300


def _data(kind, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((_N, 5))
    f = X[:, 0] - 0.5 * X[:, 1]
    if kind == "reg":
        y = 2 * f + 0.5 * rng.standard_normal(_N)
    elif kind == "count":
        y = rng.poisson(np.exp(0.5 * f + 0.5)).astype(np.float64)
    elif kind == "pos":
        y = rng.gamma(2.0, np.exp(0.5 * f) / 2.0)
    elif kind == "bin":
        y = (f + 0.5 * rng.standard_normal(_N) > 0).astype(np.float64)
    else:
        y = np.argmax(X[:, :3] + 0.5 * rng.standard_normal((_N, 3)), axis=1).astype(np.float64)
    w = rng.random(_N) + 0.5
    return X, y, w


XGB_PARITY = [  # (built-in, pyloss name, data, booster params, loss options)
    ("reg:squarederror", "mse", "reg", {}, {}),
    ("reg:pseudohubererror", "pseudo_huber", "reg", {"huber_slope": 1.5}, {"delta": 1.5}),
    ("count:poisson", "poisson", "count", {"max_delta_step": 0.7}, {}),
    ("reg:gamma", "gamma", "pos", {}, {}),
    ("reg:tweedie", "tweedie", "count", {"tweedie_variance_power": 1.5}, {"power": 1.5}),
    ("binary:logistic", "binary_cross_entropy_with_logits", "bin", {}, {}),
    ("multi:softprob", "cross_entropy", "multi", {"num_class": 3}, {}),
]
LGB_PARITY = [
    ("regression", "mse", "reg", {}, {}),
    ("huber", "huber", "reg", {"alpha": 0.7}, {"delta": 0.7}),
    ("fair", "fair", "reg", {"fair_c": 0.8}, {"c": 0.8}),
    ("poisson", "poisson", "count", {}, {}),
    ("gamma", "gamma", "pos", {}, {}),
    ("tweedie", "tweedie", "count", {"tweedie_variance_power": 1.5}, {"power": 1.5}),
    ("binary", "binary_cross_entropy_with_logits", "bin", {}, {}),
    ("multiclass", "cross_entropy", "multi", {"num_class": 3}, {}),
]


def _start(name, y, w, opts):
    m = plb.init_score(name, y, weight=w, **opts)
    return np.tile(m, (y.size, 1)) if np.ndim(m) else np.full(y.size, m)


def _record(lib, builtin, weighted, diff):
    import json
    import os
    path = os.environ.get("PYLOSS_BOOST_PARITY")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"library": lib, "builtin": builtin, "weighted": weighted,
                                "rel_diff": float(diff)}) + "\n")


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("builtin,name,kind,params,opts", XGB_PARITY, ids=[c[0] for c in XGB_PARITY])
def test_xgboost_profile_reproduces_builtin(builtin, name, kind, params, opts, weighted):
    xgb = _xgb()
    if name not in plb.objectives():
        pytest.skip(f"{name} not in this build")
    X, y, w = _data(kind)
    w = w if weighted else None
    d = xgb.DMatrix(X, label=y, weight=w, base_margin=_start(name, y, w, opts))
    p = _xgb_params(**params)
    p.pop("base_score")
    built = xgb.train(dict(p, objective=builtin), d, 30).predict(d, output_margin=True)
    # the built-in's own parameters are unknown to a custom objective (XGBoost warns)
    p = {k: v for k, v in p.items() if k not in ("huber_slope", "tweedie_variance_power")}
    ours = xgb.train(p, d, 30, obj=plb.objective(name, profile="xgboost", **opts)).predict(
        d, output_margin=True)
    diff = _rel(built, ours)
    _record("xgboost", builtin, weighted, diff)
    assert diff < 1e-4, diff
    # and the model learned something (not two identical constant predictions)
    assert np.std(built) > 0.1


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("builtin,name,kind,params,opts", LGB_PARITY, ids=[c[0] for c in LGB_PARITY])
def test_lightgbm_profile_reproduces_builtin(builtin, name, kind, params, opts, weighted):
    lgb = _lgb()
    if name not in plb.objectives():
        pytest.skip(f"{name} not in this build")
    X, y, w = _data(kind)
    w = w if weighted else None
    m0 = _start(name, y, w, opts)
    p = _lgb_params(**params)
    built = lgb.train(dict(p, objective=builtin), lgb.Dataset(X, y, weight=w, init_score=m0), 30)
    obj = plb.objective(name, profile="lightgbm", **opts)
    ours = lgb.train(dict(p, objective=obj), lgb.Dataset(X, y, weight=w, init_score=m0), 30)
    a, b = built.predict(X, raw_score=True) + m0, ours.predict(X, raw_score=True) + m0
    diff = _rel(a, b)
    _record("lightgbm", builtin, weighted, diff)
    assert diff < 1e-4, diff
    assert np.std(a) > 0.1


def test_profiles_refuse_what_they_cannot_reproduce():
    for lib in ("xgboost", "lightgbm"):
        for name in ("mae", "quantile"):
            with pytest.raises(pl.PylossValueError, match="not reproducible.*re-fits"):
                plb.objective(name, profile=lib)
    with pytest.raises(pl.PylossValueError, match="no built-in objective for huber"):
        plb.objective("huber", profile="xgboost")
    with pytest.raises(pl.PylossValueError, match="profile"):
        plb.objective("mse", profile="catboost")
    with pytest.raises(pl.PylossValueError, match="hessian"):
        plb.objective("mse", profile="xgboost", hessian="constant")
    if "tweedie" in plb.objectives():
        for p in (0.0, 2.0, 3.0):
            with pytest.raises(pl.PylossValueError, match=r"power.*\[1, 2\)"):
                plb.objective("tweedie", profile="lightgbm", power=p)
        plb.objective("tweedie", power=3.0)            # fine without a profile


def test_profile_gradients_are_the_builtins_formulas(rng):
    y = rng.standard_normal(40)
    s = rng.standard_normal(40)
    w = rng.random(40) + 0.1
    g, h = plb.objective("mse", profile="lightgbm")(y, s, w)
    np.testing.assert_allclose(g, w * (s - y))
    np.testing.assert_allclose(h, w)
    g, h = plb.objective("huber", profile="lightgbm", delta=0.5)(y, s, w)
    np.testing.assert_allclose(g, w * np.clip(s - y, -0.5, 0.5))
    np.testing.assert_allclose(h, w)
    if "poisson" in plb.objectives():
        yc = rng.poisson(2.0, 40).astype(np.float64)
        for lib in ("xgboost", "lightgbm"):
            g, h = plb.objective("poisson", profile=lib, max_delta_step=0.3)(yc, s, w)
            np.testing.assert_allclose(g, w * (np.exp(s) - yc), rtol=1e-12)
            np.testing.assert_allclose(h, w * np.exp(s + 0.3), rtol=1e-12)
    if "cross_entropy" in plb.objectives():
        yk = rng.integers(0, 4, 40)
        z = rng.standard_normal((40, 4))
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        _, h = plb.objective("cross_entropy", profile="lightgbm")(yk, z)
        np.testing.assert_allclose(h, 4 / 3 * p * (1 - p), rtol=1e-12)
        _, h = plb.objective("cross_entropy", profile="xgboost")(yk, z)
        np.testing.assert_allclose(h, 2 * p * (1 - p), rtol=1e-12)


# ============================================================ scikit-learn wrappers
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_xgboost_sklearn_wrappers(weighted):
    xgb = _xgb()
    X, y, w = _data("reg")
    sw = w if weighted else None
    kw = dict(n_estimators=10, max_depth=3, n_jobs=1, random_state=0, base_score=0.0)
    built = xgb.XGBRegressor(objective="reg:squarederror", **kw).fit(X, y, sample_weight=sw)
    ours = xgb.XGBRegressor(objective=plb.objective("mse", profile="xgboost"), **kw)
    ours.fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.predict(X), built.predict(X), rtol=1e-5, atol=1e-5)
    if "binary_cross_entropy_with_logits" not in plb.objectives():
        return
    Xb, yb, wb = _data("bin")
    sw = wb if weighted else None
    dm = xgb.DMatrix(Xb)
    # XGBClassifier runs a custom objective inside a binary:logistic booster,
    # whose base_score is a probability: 0.5 is margin 0 for both.
    kw["base_score"] = 0.5
    built = xgb.XGBClassifier(objective="binary:logistic", **kw)
    built.fit(Xb, yb, sample_weight=sw)
    ours = xgb.XGBClassifier(objective=plb.objective("binary_cross_entropy_with_logits",
                                                     profile="xgboost"), **kw)
    ours.fit(Xb, yb, sample_weight=sw)
    np.testing.assert_allclose(ours.get_booster().predict(dm, output_margin=True),
                               built.get_booster().predict(dm, output_margin=True),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_lightgbm_sklearn_wrappers(weighted):
    lgb = _lgb()
    X, y, w = _data("reg")
    sw = w if weighted else None
    kw = dict(n_estimators=10, num_leaves=8, n_jobs=1, verbose=-1, random_state=0,
              deterministic=True, force_row_wise=True)
    built = lgb.LGBMRegressor(objective="regression", boost_from_average=False, **kw)
    built.fit(X, y, sample_weight=sw)
    ours = lgb.LGBMRegressor(objective=plb.objective("mse", profile="lightgbm"), **kw)
    ours.fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.predict(X, raw_score=True), built.predict(X, raw_score=True),
                               rtol=1e-6, atol=1e-6)
    if "cross_entropy" not in plb.objectives():
        return
    Xk, yk, wk = _data("multi")
    sw = wk if weighted else None
    built = lgb.LGBMClassifier(objective="multiclass", boost_from_average=False, **kw)
    built.fit(Xk, yk, sample_weight=sw)
    ours = lgb.LGBMClassifier(objective=plb.objective("cross_entropy", profile="lightgbm"), **kw)
    ours.fit(Xk, yk, sample_weight=sw)
    np.testing.assert_allclose(ours.predict(Xk, raw_score=True), built.predict(Xk, raw_score=True),
                               rtol=1e-6, atol=1e-6)


# ============================================================ multi-class layouts
@pytest.mark.parametrize("name", ["cross_entropy", "softmax_focal"])
def test_multiclass_layouts_agree(name, rng):
    if name not in plb.objectives():
        pytest.skip(f"{name} not in this build")
    n, K = 50, 4
    y = rng.integers(0, K, n).astype(np.float32)
    z = rng.standard_normal((n, K))
    w = rng.random(n) + 0.2
    obj = plb.objective(name)
    g2, h2 = obj(y, z, w)
    assert g2.shape == h2.shape == (n, K)
    flat = np.ascontiguousarray(z.T).ravel()            # LightGBM < 4: class-major
    g1, h1 = obj(y, flat, w)
    assert g1.shape == h1.shape == (K * n,)
    np.testing.assert_array_equal(g1.reshape(K, n).T, g2)
    np.testing.assert_array_equal(h1.reshape(K, n).T, h2)
    assert (h2 > 0).all()
    gref = pl.get(name).grad(z, y.astype(np.int64), reduction="none")
    np.testing.assert_allclose(g2, w[:, None] * gref, rtol=1e-12)
    with pytest.raises(pl.PylossValueError, match="num_class"):
        obj(y, z[:, 0])


# ============================================================ init_score
def _grad_sum(name, c, y, w, opts):
    loss = pl.get(name)
    if loss.boosting.kind == "multiclass":
        s = np.broadcast_to(c, (y.size, c.size))
        g = loss.grad(s, y.astype(np.int64), reduction="none", **opts)
        return (g * (1.0 if w is None else w[:, None])).sum(axis=0)
    return np.sum(loss.grad(np.full(y.shape, c), y, weight=w, reduction="sum", **opts))


INIT_SMOOTH = [  # (name, data, options): the summed gradient vanishes at the init score
    ("mse", "reg", {}), ("huber", "reg", {"delta": 0.5}), ("smooth_l1", "reg", {"beta": 0.5}),
    ("log_cosh", "reg", {}), ("pseudo_huber", "reg", {"delta": 0.7}), ("fair", "reg", {"c": 0.5}),
    ("expectile", "reg", {"tau": 0.8}), ("poisson", "count", {}), ("gamma", "pos", {}),
    ("tweedie", "count", {"power": 1.5}), ("tweedie", "pos", {"power": 3.0}),
    ("exponential", "bin", {}), ("binary_cross_entropy_with_logits", "bin", {}),
    ("sigmoid_focal", "bin", {"alpha": 0.25, "gamma": 2.0}),
    ("cross_entropy", "multi", {}), ("cross_entropy", "multi", {"label_smoothing": 0.1}),
    ("softmax_focal", "multi", {"gamma": 2.0}),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name,kind,opts", INIT_SMOOTH, ids=[f"{c[0]}-{c[1]}" for c in INIT_SMOOTH])
def test_init_score_zeroes_the_gradient(name, kind, opts, weighted):
    if name not in plb.objectives():
        pytest.skip(f"{name} not in this build")
    _, y, w = _data(kind, seed=5)
    w = w if weighted else None
    c = plb.init_score(name, y, weight=w, **opts)
    g = _grad_sum(name, np.asarray(c, np.float64), y, w, opts)
    total = y.size if w is None else w.sum()
    assert np.all(np.abs(g) <= 1e-9 * total), (c, g)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name,opts", [("mae", {}), ("quantile", {"q": 0.2}), ("quantile", {"q": 0.9})])
def test_init_score_minimises_nonsmooth(name, opts, weighted):
    _, y, w = _data("reg", seed=6)
    w = w if weighted else None
    c = plb.init_score(name, y, weight=w, **opts)
    loss = pl.get(name)
    best = float(loss(np.full(y.shape, c), y, weight=w, **opts))
    grid = np.linspace(y.min(), y.max(), 2001)
    vals = [float(loss(np.full(y.shape, v), y, weight=w, **opts)) for v in grid]
    assert best <= min(vals) + 1e-12
    assert c in y                                          # a data point (weighted quantile)


def test_init_score_closed_forms():
    y = np.array([0.0, 1.0, 3.0, 4.0])
    w = np.array([1.0, 2.0, 1.0, 0.0])
    assert plb.init_score("mse", y, weight=w) == pytest.approx(5.0 / 4.0)
    assert plb.init_score("mae", [1.0, 2.0, 10.0]) == 2.0
    if "poisson" in plb.objectives():
        assert plb.init_score("poisson", y, weight=w) == pytest.approx(np.log(5.0 / 4.0))
        assert plb.init_score("tweedie", y, power=1.2) == pytest.approx(np.log(2.0))
    if "cross_entropy" in plb.objectives():
        c = plb.init_score("cross_entropy", [0, 0, 0, 2], num_class=4)
        np.testing.assert_allclose(c[[0, 2]], np.log([0.75, 0.25]))
        assert c.shape == (4,) and np.all(np.isfinite(c))
    if "binary_cross_entropy_with_logits" in plb.objectives():
        assert plb.init_score("binary_cross_entropy_with_logits", [0, 1, 1, 1]) == pytest.approx(np.log(3))
    with pytest.raises(pl.PylossValueError, match="name"):
        plb.init_score("triplet", y)


def test_init_score_is_xgboost_base_margin():
    xgb = _xgb()
    X, y, _ = _data("reg")
    m = plb.init_score("mse", y)
    d = xgb.DMatrix(X, label=y, base_margin=np.full(y.size, m))
    booster = xgb.train(_xgb_params(), d, 1, obj=plb.objective("mse", profile="xgboost"))
    # one round from the optimal constant: the predictions are centred on it
    pred = booster.predict(d, output_margin=True)
    assert abs(np.mean(pred) - m) < 0.3 * np.std(y)


# ============================================================ focal loss as an objective
def _imbalanced(seed=7, n=2000):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X[:, 0] + 0.7 * X[:, 1] + 0.8 * rng.standard_normal(n) > 2.3).astype(np.float64)
    return X, y


def test_focal_hessian_positive_and_stable():
    s = np.linspace(-60, 60, 2001)
    for t in (0.0, 1.0):
        y = np.full(s.shape, t)
        for gamma in (0.5, 2.0, 5.0):
            g, h = plb.objective("sigmoid_focal", alpha=0.25, gamma=gamma, hess_floor=0.0)(y, s)
            inner = np.abs(s) < 30
            assert np.all(np.isfinite(g)) and np.all(np.isfinite(h))
            assert np.all(h[inner] > 0)
            # the Newton step is never larger than the logistic one, 1/p_t
            step = np.abs(g[inner] / h[inner])
            pt = 1 / (1 + np.exp(-s[inner] if t == 1 else s[inner]))
            assert np.all(step <= (1 + 1e-9) / pt)
    z = np.stack([s, -s, 0 * s], axis=1)
    g, h = plb.objective("softmax_focal", gamma=2.0, hess_floor=0.0)(np.zeros(s.size), z)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(h)) and np.all(h >= 0)
    assert np.all(h[np.abs(s) < 30] > 0)


def test_focal_beats_logistic_on_rare_class_recall():
    xgb, lgb = _xgb(), _lgb()
    X, y = _imbalanced()
    assert 0.02 < y.mean() < 0.1
    focal = plb.objective("sigmoid_focal", alpha=0.75, gamma=2.0)
    logistic = plb.objective("binary_cross_entropy_with_logits")

    def recall(margin):
        return np.mean(margin[y == 1] > 0)
    d = xgb.DMatrix(X, label=y)
    rx = [recall(xgb.train(_xgb_params(), d, 30, obj=o).predict(d, output_margin=True))
          for o in (focal, logistic)]
    rl = [recall(lgb.train(_lgb_params(objective=o), lgb.Dataset(X, y), 30).predict(X, raw_score=True))
          for o in (focal, logistic)]
    assert rx[0] > rx[1] and rl[0] > rl[1], (rx, rl)
    # multi-class: the rare third class
    yk = np.where(y == 1, 2, (X[:, 2] > 0).astype(int))
    mf = plb.objective("softmax_focal", alpha=[0.25, 0.25, 0.75], gamma=2.0)
    mc = plb.objective("cross_entropy")
    dk = xgb.DMatrix(X, label=yk)

    def recall_k(margin):
        return np.mean(np.argmax(margin, 1)[yk == 2] == 2)
    rk = [recall_k(xgb.train(_xgb_params(num_class=3), dk, 30, obj=o).predict(dk, output_margin=True))
          for o in (mf, mc)]
    rkl = [recall_k(lgb.train(_lgb_params(objective=o, num_class=3), lgb.Dataset(X, yk), 30)
                    .predict(X, raw_score=True)) for o in (mf, mc)]
    assert rk[0] > rk[1] and rkl[0] > rkl[1], (rk, rkl)


def test_multi_level_quantile_objective_and_init(rng):
    if "quantile" not in plb.objectives():
        pytest.skip("quantile absent")
    q = [0.1, 0.5, 0.9]
    y = rng.standard_normal(200)
    w = rng.random(200) + 0.5
    try:
        pl.quantile(np.zeros((200, 3)), y, q=q)
    except pl.PylossError:
        pytest.skip("single-level quantile only in this build")
    c = plb.init_score("quantile", y, weight=w, q=q)
    assert c.shape == (3,) and c[0] < c[1] < c[2]
    for k, qk in enumerate(q):
        assert c[k] == plb.init_score("quantile", y, weight=w, q=qk)
    s = np.tile(c, (200, 1))
    g, h = plb.objective("quantile", q=q)(y, s, w)
    assert g.shape == h.shape == (200, 3)
    np.testing.assert_allclose(h, np.broadcast_to(w[:, None], (200, 3)))
    np.testing.assert_allclose(g, w[:, None] * pl.quantile.grad(s, y, q=q, reduction="none"))


def _ew_inputs(name, rng, n=64):
    s = rng.standard_normal(n)
    y = {"poisson": rng.poisson(2.0, n).astype(float), "gamma": rng.gamma(2.0, 1.0, n),
         "tweedie": rng.poisson(2.0, n).astype(float), "exponential": (rng.random(n) < 0.4) * 1.0,
         "binary_cross_entropy_with_logits": (rng.random(n) < 0.4) * 1.0,
         "sigmoid_focal": (rng.random(n) < 0.4) * 1.0}.get(name, rng.standard_normal(n))
    return s, y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", ["c", "numba", "numpy"])
def test_fused_objective_equals_public_grad_and_hessian(backend, dtype, rng):
    if backend not in pl.backends():
        pytest.skip(f"{backend} unavailable")
    for name in plb.objectives():
        loss = pl.get(name)
        if loss.boosting.kind != "elementwise" or loss.boosting.hessian != "exact":
            continue
        s, y = _ew_inputs(name, rng)
        w = rng.random(s.size) + 0.1
        dt = dtype
        sd, yd, wd = s.astype(dt), y.astype(dt), w.astype(dt)
        g, h = plb.objective(name, backend=backend)(yd, sd, wd)
        assert g.dtype == h.dtype == dt
        gr = loss.grad(sd, yd, weight=wd, reduction="none", backend=backend)
        hr = loss.hessian(sd, yd, weight=wd, reduction="none", backend=backend)
        tol = 1e-5 if dt is np.float32 else 1e-12         # FMA contraction may differ by mode
        np.testing.assert_allclose(g, gr, rtol=tol, atol=tol, err_msg=name)
        np.testing.assert_allclose(h, np.maximum(hr, wd * dt(1e-6)), rtol=tol, err_msg=name)
