"""pyloss.sklearn scorers in cross_val_score and GridSearchCV on small real models."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

import pyloss as pl  # noqa: E402
import pyloss.sklearn as pls  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.metrics import mean_absolute_error, mean_pinball_loss  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402


def _reg(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.standard_normal(n)


def _clf(n=150, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = np.argmax(X[:, :k] + 0.7 * rng.standard_normal((n, k)), axis=1)
    return X, y


CV = KFold(4, shuffle=True, random_state=0)


def test_mse_scorer_equals_neg_mean_squared_error():
    X, y = _reg()
    ours = cross_val_score(Ridge(), X, y, cv=CV, scoring=pls.scorer("mse"))
    theirs = cross_val_score(Ridge(), X, y, cv=CV, scoring="neg_mean_squared_error")
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert (ours < 0).all()                                # greater_is_better=False


@pytest.mark.parametrize("name", [n for n in pls.scorer_names() if pls.SCORERS[n][0] == "predict"])
def test_every_regression_scorer_in_cross_val_score(name):
    X, y = _reg()
    scores = cross_val_score(Ridge(), X, y, cv=CV, scoring=pls.scorer(name))
    for (train, test), s in zip(CV.split(X), scores):
        pred = Ridge().fit(X[train], y[train]).predict(X[test])
        np.testing.assert_allclose(s, -pl.get(name)(pred, y[test]), rtol=1e-12)


def test_quantile_and_mae_match_sklearn_metrics():
    X, y = _reg()
    est = Ridge().fit(X, y)
    p = est.predict(X)
    np.testing.assert_allclose(-pls.scorer("quantile", q=0.8)(est, X, y),
                               mean_pinball_loss(y, p, alpha=0.8), rtol=1e-12)
    w = np.linspace(0.5, 2.0, y.size)
    np.testing.assert_allclose(pls.loss_function("mae")(y, p, sample_weight=w),
                               mean_absolute_error(y, p, sample_weight=w), rtol=1e-12)


def test_grid_search_picks_by_pyloss_score():
    X, y = _reg()
    grid = GridSearchCV(Ridge(), {"alpha": [0.01, 1.0, 1000.0]}, cv=CV,
                        scoring=pls.scorer("huber", delta=0.5))
    grid.fit(X, y)
    assert grid.best_params_["alpha"] != 1000.0
    manual = [cross_val_score(Ridge(alpha=a), X, y, cv=CV,
                              scoring=pls.scorer("huber", delta=0.5)).mean() for a in (0.01, 1.0, 1000.0)]
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], manual, rtol=1e-12)


def test_multi_metric_scoring_and_errors():
    X, y = _reg()
    regs = {k: v for k, v in pls.scorers(huber={"delta": 2.0}).items()
            if pls.SCORERS[k[len("neg_pyloss_"):]][0] == "predict"}
    out = sklearn.model_selection.cross_validate(Ridge(), X, y, cv=CV, scoring=regs)
    assert {f"test_{k}" for k in regs} <= set(out)
    with pytest.raises(pl.PylossValueError, match="name"):
        pls.scorer("no_such_loss")
    with pytest.raises(pl.PylossTypeError, match="unexpected"):
        pls.scorer("huber", delt=1.0)


@pytest.mark.skipif("cross_entropy" not in pl.losses(), reason="classification family absent")
def test_cross_entropy_scorer_equals_neg_log_loss():
    X, y = _clf()
    est = LogisticRegression(max_iter=500)
    ours = cross_val_score(est, X, y, cv=CV, scoring=pls.scorer("cross_entropy"))
    theirs = cross_val_score(est, X, y, cv=CV, scoring="neg_log_loss")
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)
    labels = np.array(["a", "b", "c"])
    ours_s = cross_val_score(est, X, labels[y], cv=CV,
                             scoring=pls.scorer("cross_entropy", labels=labels))
    np.testing.assert_allclose(ours_s, theirs, rtol=1e-7)
    grid = GridSearchCV(est, {"C": [0.01, 1.0]}, cv=CV, scoring=pls.scorer("cross_entropy")).fit(X, y)
    assert grid.best_params_["C"] == 1.0


@pytest.mark.skipif("binary_cross_entropy_with_logits" not in pl.losses(),
                    reason="classification family absent")
def test_binary_scorers_equal_neg_log_loss():
    X, y = _clf(k=2)
    est = LogisticRegression(max_iter=500)
    theirs = cross_val_score(est, X, y, cv=CV, scoring="neg_log_loss")
    for name in ("binary_cross_entropy_with_logits", "binary_cross_entropy"):
        if name in pls.scorer_names():
            ours = cross_val_score(est, X, y, cv=CV, scoring=pls.scorer(name))
            np.testing.assert_allclose(ours, theirs, rtol=1e-7)
    if "sigmoid_focal" in pls.scorer_names():
        s = cross_val_score(est, X, y, cv=CV, scoring=pls.scorer("sigmoid_focal", gamma=0.0, alpha=-1.0))
        np.testing.assert_allclose(s, theirs, rtol=1e-7)
