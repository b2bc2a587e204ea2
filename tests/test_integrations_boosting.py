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
