"""Regression losses: mse, mae, huber, smooth_l1, log_cosh, quantile,
pseudo_huber, fair, expectile.

Each is an :class:`~pyloss._loss.ElementwiseLoss` over ``r = pred - target``:
C kernel ``pl_<name>_<f32|f64>`` (csrc/regression_impl.h), Numba kernel
``pyloss._numba.regression.<name>_point`` and NumPy reference
``pyloss.reference.regression.<name>``.
"""
import numpy as np

from .. import _dispatch as D
from .._dispatch import PylossValueError, opt_float
from .._loss import ElementwiseLoss, _EwCall

# The head of the Parameters section (the arrays); docstrings that list their
# own options put them between it and the rest of _COMMON.
_HEAD = """
    Parameters
    ----------
    pred : array_like, float16/32/64
        Predictions, any shape.
    target : array_like
        Targets of the same shape (integers are cast to the prediction dtype).
"""
_REST = """    weight : array_like, optional
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
_COMMON = _HEAD + _REST


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
""" + _HEAD + """    delta : float, > 0 (default 1.0)
        Threshold between the quadratic and the linear part.
""" + _REST + """
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
""" + _HEAD + """    beta : float, >= 0 (default 1.0)
        Threshold between the quadratic and the linear part (0: ``mae``).
""" + _REST + """
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


def _quantile_levels(q):
    """K >= 1 levels in (0, 1) as a 1-D float64 array (ValueError otherwise)."""
    try:
        raw = np.asarray(q)
        if raw.dtype.kind not in "iuf":  # strings, bools, objects: as for one level
            raise TypeError
        lv = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise D.PylossTypeError(f"q: expected a level or a 1-D sequence of levels (real "
                                f"numbers), got {q!r}") from None
    if lv.ndim != 1 or lv.size == 0:
        raise PylossValueError(f"q: expected a non-empty 1-D sequence of levels, got shape {lv.shape}")
    bad = ~((lv > 0.0) & (lv < 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise PylossValueError(f"q: expected every level in (0, 1), got {float(lv[i])!r} at index {i}")
    return lv


class _QuantileLoss(ElementwiseLoss):
    """quantile: one level (elementwise) or K levels along pred's last axis."""

    def _bind(self, arrays, opts):
        q = opts["q"]
        if np.ndim(q) == 0:
            return ElementwiseLoss._bind(self, arrays, opts)
        lv = _quantile_levels(q)
        pred = D.float_input(arrays[0], "pred")
        target = D.real_input(arrays[1], "target")
        want = target.shape + (lv.size,)
        if pred.shape != want:
            raise PylossValueError(
                f"pred: with {lv.size} levels q, pred must have shape target.shape + ({lv.size},) "
                f"= {want}, got {pred.shape} (target shape {target.shape})")
        c = _EwCall()
        c.dtype = dt = D.compute_dtype(pred, target)
        c.gdtype = D.grad_dtype(pred)
        c.shape = pred.shape
        c.p0, c.p1, c.ref_params = 0.0, 1.0, {"q": lv}
        c.pred = D.contiguous(pred, dt)
        c.target = D.contiguous(np.broadcast_to(target[..., None], pred.shape), dt)
        c.aux = D.contiguous(np.broadcast_to(lv.astype(dt), pred.shape), dt)
        w = opts["weight"]
        if w is not None:
            wa = D.real_input(w, "weight")
            if wa.shape == target.shape:   # one weight per sample, on its K terms
                wa = wa[..., None]
            w = D.broadcast_weight(wa, pred.shape, dt)
        c.weight = w
        return c


quantile = _QuantileLoss("quantile", "regression", """Quantile (pinball) loss at level ``q``, or at several levels.

    With ``u = target - pred``: ``l = max(q u, (q - 1) u)``, as
    ``sklearn.metrics.mean_pinball_loss(alpha=q)``.  Gradient ``-q`` where
    ``u > 0``, ``1 - q`` where ``u < 0`` and 0 at ``u = 0``; Hessian 0.

    Several levels in one call (XGBoost ``reg:quantileerror`` with a list of
    ``quantile_alpha``): ``q`` a 1-D sequence of ``K`` levels and ``pred`` of
    shape ``target.shape + (K,)``, column ``k`` predicting level ``q[k]``;
    ``"none"`` keeps ``pred.shape`` and ``mean`` averages all ``N K`` terms.
    A ``weight`` of ``target``'s shape weighs each sample's ``K`` terms; any
    other ``weight`` must broadcast to ``pred.shape`` and weighs each term.

""" + _HEAD + """    q : float or sequence of float, default 0.5
        Level in ``(0, 1)`` (0.5 is half the MAE), or a 1-D sequence of ``K``
        levels in ``(0, 1)`` (then ``pred`` has shape ``target.shape + (K,)``).
""" + _REST + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.quantile([0.0, 0.0], [1.0, -1.0], q=0.9))  # (0.9 + 0.1) / 2
    0.5
    >>> pl.quantile([[0.0, 0.0]], [1.0], q=[0.1, 0.9], reduction="none")
    array([[0.1, 0.9]])
    """, params=_quantile_params, extra_options={"q": 0.5})


def _pseudo_huber_params(opts):
    delta = opt_float("delta", opts["delta"], lo=0.0, lo_open=True)
    if not delta < float("inf"):
        raise PylossValueError(f"delta: expected a finite value > 0, got {opts['delta']!r}")
    return delta, 1.0 / delta, {"delta": delta}


pseudo_huber = ElementwiseLoss("pseudo_huber", "regression", """Pseudo-Huber loss, ``l = delta**2 (sqrt(1 + (r/delta)**2) - 1)``.

    A smooth Huber: ``r**2 / 2`` for small ``|r|``, ``delta (|r| - delta)``
    for large.  XGBoost ``reg:pseudohubererror`` with ``huber_slope = delta``
    (same gradient ``r / s`` and Hessian ``1 / s**3``, ``s = sqrt(1 +
    (r/delta)**2)``; XGBoost's Hessian is ``delta**2 / ((delta**2 + r**2) s)``,
    the same number).  Evaluated as ``r**2 / (1 + s)`` (scaled so it cannot
    overflow), which keeps full relative precision as ``r -> 0`` in float32
    where the textbook form cancels to 0.

    Parameters
    ----------
    pred : array_like, float16/32/64
        Predictions, any shape.
    target : array_like
        Targets of the same shape (integers are cast to the prediction dtype).
    delta : float, default 1.0
        Transition scale, finite and ``> 0``.
""" + _REST + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.pseudo_huber([3.0], [0.0], delta=4.0))  # 16 (sqrt(1 + 9/16) - 1)
    4.0

    References
    ----------
    Charbonnier et al., "Deterministic edge-preserving regularization in
    computed imaging", IEEE Trans. Image Process. 6, 1997; XGBoost
    ``src/objective/regression_obj.cu`` (``PseudoHuberRegression``).
    """, params=_pseudo_huber_params, extra_options={"delta": 1.0})


def _fair_params(opts):
    c = opt_float("c", opts["c"], lo=0.0, lo_open=True)
    if not c < float("inf"):
        raise PylossValueError(f"c: expected a finite value > 0, got {opts['c']!r}")
    return c, 1.0 / c, {"c": c}


fair = ElementwiseLoss("fair", "regression", """Fair loss, ``l = c**2 (|r|/c - log(1 + |r|/c))``.

    LightGBM ``fair`` with ``fair_c = c``: gradient ``c r / (|r| + c)``,
    Hessian ``c**2 / (|r| + c)**2`` (LightGBM ``RegressionFairLoss``).
    ``x - log1p(x)`` is evaluated by a series in ``s = x / (2 + x)`` for
    ``x <= 1`` (no cancellation: full float32 relative precision for small
    ``|r|``).

    Parameters
    ----------
    pred : array_like, float16/32/64
        Predictions, any shape.
    target : array_like
        Targets of the same shape (integers are cast to the prediction dtype).
    c : float, default 1.0
        Scale, finite and ``> 0``; the loss is quadratic (``r**2 / 2``) for
        ``|r| << c`` and linear (``c |r|``) for ``|r| >> c``.
""" + _REST + """
    Examples
    --------
    >>> import pyloss as pl
    >>> round(float(pl.fair([2.0], [0.0], c=2.0)), 12)  # 4 (1 - log 2)
    1.22741127776

    References
    ----------
    Fair, "On the robust estimation of econometric models", Ann. Econ. Social
    Meas. 3, 1974; LightGBM ``src/objective/regression_objective.hpp``
    (``RegressionFairLoss``).
    """, params=_fair_params, extra_options={"c": 1.0})


def _expectile_params(opts):
    tau = opt_float("tau", opts["tau"], lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    return tau, 0.0, {"tau": tau}


expectile = ElementwiseLoss("expectile", "regression", """Expectile loss, ``l = |tau - 1[u < 0]| u**2`` with ``u = target - pred``.

    Asymmetric least squares: the minimiser is the ``tau``-expectile
    (``tau = 0.5`` is half the MSE).  Gradient ``-2 w u``, Hessian ``2 w``
    with ``w = tau`` for ``u >= 0`` and ``1 - tau`` for ``u < 0`` (at
    ``u = 0`` the weight is ``tau``: gradient 0, Hessian ``2 tau``).

    Parameters
    ----------
    pred : array_like, float16/32/64
        Predictions, any shape.
    target : array_like
        Targets of the same shape (integers are cast to the prediction dtype).
    tau : float, default 0.5
        Expectile level in ``(0, 1)``.
""" + _REST + """
    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.expectile([0.0, 0.0], [1.0, -1.0], tau=0.9, reduction="sum"))  # 0.9 + 0.1
    1.0

    References
    ----------
    Newey & Powell, "Asymmetric least squares estimation and testing",
    Econometrica 55, 1987.
    """, params=_expectile_params, extra_options={"tau": 0.5})

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
# XGBoost src/objective/regression_loss.h (PseudoHuberError: the exact second
# derivative); LightGBM regression_objective.hpp (RegressionFairLoss: grad
# c x/(|x|+c), hess c^2/(|x|+c)^2).
pseudo_huber.boosting = _BF(hess_min=0.0, init=_newton, profiles={
    "xgboost": _P("reg:pseudohubererror", doc="exact; huber_slope = delta")})
fair.boosting = _BF(hess_min=0.0, init=_newton, profiles={
    "lightgbm": _P("fair", doc="exact: grad c r/(|r|+c), hess c^2/(|r|+c)^2; fair_c = c")})
expectile.boosting = _BF(hess_min=0.0, init=_newton)

# ------------------------------------------------------------------ integration facts
# pyloss.torch drop-ins (d/d target = -d/d pred; torch divides a weighted huber
# mean by the element count), pyloss.sklearn scorers on predict(), and the
# `pyloss plot` pictures against the residual (the "regression" preset overlays
# MSE, MAE, Huber and log-cosh).
_WEIGHT = (("weight", "weight", None),)
_SCORE = ("predict", "regression")
_PLOT_REG = ("regression", "residual", "Regression losses")
mse.declare(torch_functional=dict(function="mse_loss", module="MSELoss", options=_WEIGHT,
                                  tensor_options=("weight",), target_grad="neg"),
            sklearn_scorer=_SCORE, plot_axis="residual",
            plot_presets=((*_PLOT_REG, (("MSE", {}),)),))
mae.declare(torch_functional=dict(function="l1_loss", module="L1Loss", options=_WEIGHT,
                                  tensor_options=("weight",), target_grad="neg"),
            sklearn_scorer=_SCORE, plot_axis="residual",
            plot_presets=((*_PLOT_REG, (("MAE", {}),)),))
huber.declare(torch_functional=dict(function="huber_loss", module="HuberLoss",
                                    options=(("delta", "delta", 1.0),) + _WEIGHT,
                                    tensor_options=("weight",), count_mean=True, target_grad="neg"),
              sklearn_scorer=_SCORE, plot_axis="residual",
              plot_presets=((*_PLOT_REG, (("Huber δ=1", {"delta": 1.0}),)),
                            ("huber_deltas", "residual", "Huber loss for several δ",
                             tuple((f"δ={d}", {"delta": d}) for d in (0.25, 0.5, 1.0, 2.0)))))
smooth_l1.declare(torch_functional=dict(function="smooth_l1_loss", module="SmoothL1Loss",
                                        options=(("beta", "beta", 1.0),), target_grad="neg"),
                  sklearn_scorer=_SCORE, plot_axis="residual")
log_cosh.declare(sklearn_scorer=_SCORE, plot_axis="residual",
                 plot_presets=((*_PLOT_REG, (("log-cosh", {}),)),))
quantile.declare(sklearn_scorer=_SCORE, plot_axis="residual",
                 plot_presets=(("quantile_levels", "residual", "Quantile (pinball) loss for several q",
                                tuple((f"q={q}", {"q": q}) for q in (0.1, 0.5, 0.9))),))

# ------------------------------------------------------------------ bench facts
# `pyloss bench` and the tests: the --quick set, the exps/logs per element of
# the compute floor, and the peers compared against (formulas over torch/JAX
# operations, PyTorch's own functions, NumPy one-liners, scikit-learn's losses;
# written out in regression_peers).
from . import regression_peers as _peers  # noqa: E402

mse.declare(bench_quick=True, sklearn_peer="HalfSquaredError",
            peers=dict(formula=_peers.f_mse, torch=_peers.torch_mse, numpy=_peers.numpy_mse))
mae.declare(sklearn_peer="AbsoluteError",
            peers=dict(formula=_peers.f_mae, torch=_peers.torch_mae, numpy=_peers.numpy_mae))
huber.declare(bench_quick=True, peers=dict(formula=_peers.f_huber, torch=_peers.torch_huber,
                                           numpy=_peers.numpy_huber))
smooth_l1.declare(peers=dict(formula=_peers.f_smooth_l1, torch=_peers.torch_smooth_l1,
                             numpy=_peers.numpy_smooth_l1))
log_cosh.declare(bench_quick=True, bench_cost=(1, 1),
                 peers=dict(formula=_peers.f_log_cosh, torch=_peers.torch_log_cosh,
                            numpy=_peers.numpy_log_cosh))
quantile.declare(sklearn_peer=_peers.sklearn_quantile,
                 peers=dict(formula=_peers.f_quantile, torch=_peers.torch_quantile,
                            numpy=_peers.numpy_quantile))
pseudo_huber.declare(peers=dict(formula=_peers.f_pseudo_huber))
fair.declare(bench_cost=(0, 1), peers=dict(formula=_peers.f_fair))
expectile.declare(peers=dict(formula=_peers.f_expectile))
