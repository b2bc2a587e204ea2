"""Regression losses: mse, mae, huber, smooth_l1, log_cosh, quantile.

Each is an :class:`~pyloss._loss.ElementwiseLoss` over ``r = pred - target``:
C kernel ``pl_<name>_<f32|f64>`` (csrc/regression_impl.h), Numba kernel
``pyloss._numba.regression.<name>_point`` and NumPy reference
``pyloss.reference.regression.<name>``.
"""
from .._dispatch import opt_float
from .._loss import ElementwiseLoss

_COMMON = """
    Parameters
    ----------
    pred : array_like, float16/32/64
        Predictions, any shape.
    target : array_like
        Targets of the same shape (integers are cast to the prediction dtype).
    weight : array_like, optional
        Per-element weights, broadcast to ``pred.shape``; negative allowed.
    reduction : {"mean", "sum", "none"}
        ``mean`` is ``sum(w*l) / sum(w)`` (``sum(l)/n`` without weights);
        ``none`` returns the weighted per-element losses, ``pred.shape``.
    backend : {"auto", "c", "numba", "numpy"}
    out : ndarray, optional (``grad``, ``value_and_grad``, ``hessian``)
        Preallocated C-contiguous buffer of ``pred``'s shape and dtype.

    Notes
    -----
    ``grad``/``hessian`` are derivatives of the returned value: for ``mean``
    they carry the ``1/sum(w)`` factor; for ``none`` they are the elementwise
    derivatives (of the sum).  float16 inputs are computed and answered in
    float32; float32 sums are accumulated in float64 blocks combined pairwise.
"""


def _no_params(opts):
    return 0.0, 0.0, {}


mse = ElementwiseLoss("mse", "regression", """Mean squared error, ``l = (pred - target)**2``.

    Matches ``torch.nn.functional.mse_loss`` and
    ``sklearn.metrics.mean_squared_error``.  Gradient ``2r``, Hessian ``2``.
""" + _COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.mse([1.0, 2.0, 4.0], [1.0, 3.0, 2.0]))
    1.6666666666666667
    """, params=_no_params)

mae = ElementwiseLoss("mae", "regression", """Mean absolute error, ``l = |pred - target|``.

    Matches ``torch.nn.functional.l1_loss``.  Gradient ``sign(r)`` with the
    sub-gradient 0 at ``r = 0``; Hessian exactly 0 everywhere (SPEC 3a: the
    core never invents curvature).
""" + _COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.mae([1.0, 2.0, 4.0], [1.0, 3.0, 2.0]))
    1.0
    """, params=_no_params)


def _huber_params(opts):
    delta = opt_float("delta", opts["delta"], lo=0.0, lo_open=True)
    return delta, 0.0, {"delta": delta}


huber = ElementwiseLoss("huber", "regression", """Huber loss with threshold ``delta``.

    ``l = r**2 / 2`` if ``|r| <= delta`` else ``delta * (|r| - delta/2)``
    (``torch.nn.functional.huber_loss``).  Gradient ``r`` inside, ``delta *
    sign(r)`` outside (0 at ``r = 0``); Hessian 1 for ``|r| <= delta``, else 0.
    PyTorch's ``mean`` divides by the element count also when weighting
    outside the loss; here ``mean`` with weights is ``sum(w*l)/sum(w)``.

    delta : float, > 0 (default 1.0)
""" + _COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.huber([0.5, 3.0], [0.0, 0.0], delta=1.0))  # (0.125 + 2.5) / 2
    1.3125
    """, params=_huber_params, extra_options={"delta": 1.0})


def _smooth_l1_params(opts):
    beta = opt_float("beta", opts["beta"], lo=0.0)
    return beta, (1.0 / beta if beta > 0 else float("inf")), {"beta": beta}


smooth_l1 = ElementwiseLoss("smooth_l1", "regression", """Smooth L1 loss with threshold ``beta``.

    ``l = r**2 / (2 beta)`` if ``|r| < beta`` else ``|r| - beta/2``
    (``torch.nn.functional.smooth_l1_loss``); ``beta = 0`` is ``mae``.
    Hessian ``1/beta`` for ``|r| < beta``, else 0; gradient 0 at ``r = 0``.

    beta : float, >= 0 (default 1.0)
""" + _COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.smooth_l1([0.5, 3.0], [0.0, 0.0], beta=1.0))  # (0.125 + 2.5) / 2
    1.3125
    """, params=_smooth_l1_params, extra_options={"beta": 1.0})

log_cosh = ElementwiseLoss("log_cosh", "regression", """Log-cosh loss, ``l = log(cosh(pred - target))``.

    Evaluated without overflow as ``|r| - log 2 + log1p(exp(-2|r|))`` for
    ``|r| >= 1`` and as ``log1p(2 sinh(r/2)**2)`` below, which keeps full
    relative precision as ``r -> 0``.  Gradient ``tanh r``, Hessian
    ``1 / cosh(r)**2``.
""" + _COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> round(float(pl.log_cosh([1000.0], [0.0])), 6)   # 1000 - log 2
    999.306853
    """, params=_no_params)


def _quantile_params(opts):
    q = opt_float("q", opts["q"], lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    return q, 0.0, {"q": q}


quantile = ElementwiseLoss("quantile", "regression", """Quantile (pinball) loss at level ``q``.

    With ``u = target - pred``: ``l = max(q u, (q - 1) u)``, as
    ``sklearn.metrics.mean_pinball_loss(alpha=q)``.  Gradient ``-q`` where
    ``u > 0``, ``1 - q`` where ``u < 0`` and 0 at ``u = 0``; Hessian 0.

    q : float in (0, 1) (default 0.5; 0.5 is half the MAE)
""" + _COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.quantile([0.0, 0.0], [1.0, -1.0], q=0.9))  # (0.9 + 0.1) / 2
    0.5
    """, params=_quantile_params, extra_options={"q": 0.5})


# ------------------------------------------------------------------ boosting facts
# Sources of the profiles: XGBoost src/objective/regression_loss.h
# (LinearSquareLoss: grad predt - label, hess 1); LightGBM
# src/objective/regression_objective.hpp (RegressionL2loss: diff, 1;
# RegressionHuberLoss: clip(diff, +-alpha), hess 1; RegressionL1loss and
# RegressionQuantileloss: IsRenewTreeOutput() -> leaves re-fitted to the
# weighted percentile of the residuals after each tree).
from .._boostfacts import (BoostFacts as _BF, Profile as _P, init_mean as _mean,  # noqa: E402
                           init_median as _median, init_quantile as _quantile,
                           init_newton as _newton)

_REFIT = ("{lib}'s {b} re-fits every leaf to a weighted percentile of the residuals after the "
          "tree is grown (RenewTreeOutput / UpdateTreeLeaf), which a custom objective cannot do, "
          "so no gradient/Hessian convention reproduces its model")

mse.boosting = _BF(hess_min=2.0, init=_mean, profiles={
    "xgboost": _P("reg:squarederror", scale=0.5, doc="half squared error: grad r, hess 1"),
    "lightgbm": _P("regression", scale=0.5, doc="half squared error: grad r, hess 1")})
mae.boosting = _BF(hessian="zero", hess_min=0.0, init=_median, profiles={
    "xgboost": _P("reg:absoluteerror", refit=_REFIT.format(lib="XGBoost", b="reg:absoluteerror")),
    "lightgbm": _P("regression_l1", refit=_REFIT.format(lib="LightGBM", b="regression_l1"))})
huber.boosting = _BF(hess_min=0.0, init=_newton, profiles={
    "lightgbm": _P("huber", hess="one",
                   doc="grad clip(r, -delta, delta), hess 1 everywhere (alpha = delta)")})
smooth_l1.boosting = _BF(hess_min=0.0, init=_newton)
log_cosh.boosting = _BF(hess_min=0.0, init=_newton)
quantile.boosting = _BF(hessian="zero", hess_min=0.0, init=_quantile, profiles={
    "xgboost": _P("reg:quantileerror", refit=_REFIT.format(lib="XGBoost", b="reg:quantileerror")),
    "lightgbm": _P("quantile", refit=_REFIT.format(lib="LightGBM", b="quantile"))})
