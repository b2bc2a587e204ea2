"""GLM and boosting losses on a log link: poisson, gamma, tweedie, exponential.

Each is an :class:`~pyloss._loss.ElementwiseLoss` of ``(raw, target)``, where
``raw`` is the prediction in link space (what a booster or a GLM holds): C
kernel ``pl_<name>_<f32|f64>`` (csrc/glm_impl.h), Numba kernel
``pyloss._numba.glm.<name>_point`` and NumPy reference
``pyloss.reference.glm.<name>``.  Values, gradients and Hessians are those of
scikit-learn's ``sklearn._loss`` (SPEC 6.1).
"""
import math

import numpy as np

from .._dispatch import PylossValueError, opt_float
from .._errors import PylossTypeError
from .._loss import ElementwiseLoss


def _opt_bool(name, value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise PylossTypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")


def check_domain(loss, target, lo=None, lo_open=False, hi=None, note=""):
    """ValueError naming the loss, the domain and the first target outside it.

    NaN targets are not outside (they propagate, as NaN predictions do).  The
    common case (every target inside) costs one min/max reduction.
    """
    t = np.asarray(target)
    if t.size == 0:
        return
    with np.errstate(invalid="ignore"):
        ok = True
        if lo is not None:
            m = np.min(t)
            ok = bool(m > lo) if lo_open else bool(m >= lo)
        if ok and hi is not None:
            ok = bool(np.max(t) <= hi)
        if ok:
            return
        bad = np.zeros(t.shape, bool)
        if lo is not None:
            bad |= (t <= lo) if lo_open else (t < lo)
        if hi is not None:
            bad |= t > hi
    if not bad.any():  # only NaN tripped the fast test
        return
    pos = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), t.shape))
    if hi is not None and lo is not None:
        dom = f"in [{lo:g}, {hi:g}]"
    else:
        dom = (">" if lo_open else ">=") + f" {lo:g}"
    raise PylossValueError(f"{loss}: target must be {dom}{note}; got {float(t[pos])!r} at index {pos}")


class GLMLoss(ElementwiseLoss):
    """An elementwise loss whose targets have a domain (checked on every call).

    ``domain(ref_params) -> dict`` gives :func:`check_domain`'s bounds for the
    parsed options.
    """

    def __init__(self, name, family, doc, *, domain, dev_flag=None, **kw):
        super().__init__(name, family, doc, inputs=("raw", "target"), **kw)
        self._domain = domain
        self._dev_flag = dev_flag   # which kernel scalar (0: p0, 1: p1) says deviance=True

    def _kernel(self, backend, dtype):
        # deviance=True runs its own compiled kernel (<name>_dev), so that the
        # plain loss's loop never evaluates log(target); the flag travels in
        # the kernel scalars, which every backend call receives.
        if self._dev_flag is None or backend == "numpy":
            return ElementwiseLoss._kernel(self, backend, dtype)
        key = (backend, dtype)
        k = self._kernels.get(key)
        if k is None:
            if backend == "c":
                from .. import _c
                plain, dev = (_c.elementwise(n, dtype) for n in (self.name, self.name + "_dev"))
            else:
                import importlib
                from .._numba import elementwise
                mod = importlib.import_module(f"pyloss._numba.{self.family}")
                plain, dev = (elementwise(mod, n, dtype) for n in (self.name, self.name + "_dev"))
            which = self._dev_flag

            def k(pred, target, weight, aux, p0, p1, *rest):
                fn = dev if (p1 if which else p0) else plain
                return fn(pred, target, weight, aux, p0, p1, *rest)
            self._kernels[key] = k
        return k

    def _bind(self, arrays, opts):
        c = ElementwiseLoss._bind(self, arrays, opts)
        check_domain(self.name, c.target, **self._domain(c.ref_params))
        return c


def _glm_example(kind):
    def example(rng, n, dtype):
        raw = (0.5 * rng.standard_normal(n)).astype(dtype)
        if kind == "count":
            y = rng.poisson(np.exp(raw.astype(np.float64)))
        elif kind == "positive":
            y = rng.gamma(2.0, 0.5 * np.exp(raw.astype(np.float64)))
        elif kind == "tweedie":
            y = rng.gamma(2.0, 0.5, n) * (rng.random(n) < 0.7)
        else:
            y = (rng.random(n) < 0.5)
        return (raw, y.astype(dtype)), {}
    return example


_ARRAYS = """
    raw : array_like, float16/32/64
        Predictions in link space (``log`` of the predicted mean), any shape.
    target : array_like
        Targets of ``raw``'s shape (integers are cast to ``raw``'s dtype),
        inside the loss's domain (else ``ValueError`` naming the first
        offending value and its index)."""

_COMMON = """
    weight : array_like, optional
        Per-element weights, broadcast to ``raw.shape``; negative allowed.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``mean`` is ``sum(w*l) / sum(w)`` (``sum(l)/n`` without weights);
        ``none`` returns the weighted per-element losses, ``raw.shape``.
    backend : {"auto", "c", "numba", "numpy"}, default "auto"
        ``numpy`` is the float64 reference.
    out : ndarray, optional
        ``grad``, ``value_and_grad`` and ``hessian`` only: preallocated
        C-contiguous buffer of ``raw``'s shape and dtype.

    Notes
    -----
    ``grad`` and ``hessian`` are the derivatives with respect to ``raw`` of
    the returned value: for ``mean`` they carry the ``1/sum(w)`` factor; for
    ``none`` they are the elementwise derivatives, which is what
    ``sklearn._loss``'s ``gradient_hessian`` and a boosting library's custom
    objective return.  Extreme ``raw`` gives IEEE results (``inf`` where the
    exact value overflows) without warnings.  float16 is computed and
    answered in float32; sums are accumulated in float64 blocks combined
    pairwise, so results do not depend on the thread count.
"""

_DEV = """
    deviance : bool, default False
        Return the unit deviance ``2 (l + c(y))`` instead, with ``c`` sklearn's
        ``constant_to_optimal_zero``: 0 at ``exp(raw) = target`` (for
        ``target > 0``); ``mean`` then equals ``sklearn.metrics.{metric}(target,
        exp(raw))`` (also with ``sample_weight=weight``).  Gradient and
        Hessian are doubled (``c`` does not depend on ``raw``)."""


def _poisson_params(opts):
    dev = _opt_bool("deviance", opts["deviance"])
    return float(dev), 0.0, {"deviance": dev}


poisson = GLMLoss("poisson", "glm", """Poisson loss on a log link, ``l = exp(raw) - target * raw``.

    sklearn's ``HalfPoissonLoss`` (half the Poisson deviance without its
    constant term) and PyTorch's ``poisson_nll_loss(raw, target,
    log_input=True, full=False)``; LightGBM ``poisson``, XGBoost
    ``count:poisson`` (whose Hessian is multiplied by ``exp(max_delta_step)``,
    see ``pyloss.boosting``).  Gradient ``exp(raw) - target``, Hessian
    ``exp(raw)``.

    Domain: ``target >= 0``.

    Parameters
    ----------""" + _ARRAYS + _DEV.format(metric="mean_poisson_deviance") + _COMMON + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> raw, y = np.log([1.0, 2.0]), np.array([0.0, 3.0])
    >>> round(float(pl.poisson(raw, y, reduction="sum")), 12)     # 1 + 2 - 3 log 2
    0.92055845832
    >>> pl.poisson.grad(raw, y, reduction="none")     # exp(raw) - y
    array([ 1., -1.])
    >>> round(float(pl.poisson(raw, y, deviance=True)), 12)  # mean_poisson_deviance
    1.216395324324

    References
    ----------
    McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., 1989, ch. 6;
    scikit-learn ``sklearn/_loss/loss.py`` (``HalfPoissonLoss``).
    """, params=_poisson_params, extra_options={"deviance": False}, dev_flag=0,
    domain=lambda rp: {"lo": 0.0}, example=_glm_example("count"))


def _gamma_params(opts):
    dev = _opt_bool("deviance", opts["deviance"])
    return float(dev), 0.0, {"deviance": dev}


gamma = GLMLoss("gamma", "glm", """Gamma loss on a log link, ``l = raw + target * exp(-raw)``.

    sklearn's ``HalfGammaLoss`` (half the Gamma deviance without its
    constant term); LightGBM ``gamma`` and XGBoost ``reg:gamma`` optimise the
    same function.  Gradient ``1 - target * exp(-raw)``, Hessian
    ``target * exp(-raw)``.

    Domain: ``target > 0``.

    Parameters
    ----------""" + _ARRAYS + _DEV.format(metric="mean_gamma_deviance") + _COMMON + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> raw, y = np.log([1.0, 2.0]), np.array([1.0, 1.0])
    >>> float(pl.gamma(raw, y, reduction="sum"))       # 0 + 1 + log 2 + 1/2
    2.1931471805599454
    >>> round(float(pl.gamma(raw, y, deviance=True)), 12)    # mean_gamma_deviance
    0.19314718056

    References
    ----------
    McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., 1989, ch. 8;
    scikit-learn ``sklearn/_loss/loss.py`` (``HalfGammaLoss``).
    """, params=_gamma_params, extra_options={"deviance": False}, dev_flag=0,
    domain=lambda rp: {"lo": 0.0, "lo_open": True}, example=_glm_example("positive"))


def _tweedie_params(opts):
    p = opt_float("power", opts["power"])
    if not math.isfinite(p) or 0.0 < p < 1.0:
        raise PylossValueError(
            f"power: expected a finite value <= 0 or >= 1 (no Tweedie distribution has "
            f"0 < power < 1), got {opts['power']!r}")
    dev = _opt_bool("deviance", opts["deviance"])
    return p, float(dev), {"power": p, "deviance": dev}


def _tweedie_domain(rp):
    p = rp["power"]
    if p <= 0:
        return {}
    if p < 2:
        return {"lo": 0.0, "note": f" for power={p:g}"}
    return {"lo": 0.0, "lo_open": True, "note": f" for power={p:g}"}


tweedie = GLMLoss("tweedie", "glm", """Tweedie loss on a log link with variance power ``power``.

    With ``p = power``:
    ``l = exp((2-p) raw) / (2-p) - target * exp((1-p) raw) / (1-p)``,
    sklearn's ``HalfTweedieLoss(power=p)``; ``p = 0, 1, 2`` are sklearn's own
    forms: ``(exp(raw) - target)**2 / 2``, :data:`poisson`, :data:`gamma`.
    Gradient ``exp((2-p) raw) - target * exp((1-p) raw)``, Hessian
    ``(2-p) exp((2-p) raw) - (1-p) target exp((1-p) raw)`` (may be negative
    for ``p > 2`` or ``p < 1`` far from the optimum; no floor is applied).
    LightGBM ``tweedie`` (``tweedie_variance_power``) and XGBoost
    ``reg:tweedie`` use the same gradient and Hessian for ``1 < p < 2``.

    Domain: any ``target`` for ``p <= 0``, ``target >= 0`` for ``1 <= p < 2``,
    ``target > 0`` for ``p >= 2``.

    Parameters
    ----------""" + _ARRAYS + """
    power : float, default 1.5
        Tweedie variance power, ``<= 0`` or ``>= 1`` (``0 < power < 1`` is a
        ``ValueError``: no distribution exists there).  ``1 < p < 2`` is the
        compound Poisson-Gamma family (counts of positive amounts, with exact
        zeros).""" + _DEV.format(metric="mean_tweedie_deviance") + """
        For ``mean_tweedie_deviance`` pass the same ``power``.""" + _COMMON + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> raw, y = np.zeros(2), np.array([0.0, 2.0])
    >>> float(pl.tweedie(raw, y, power=1.5, reduction="sum"))  # 2 + (2 + 4)
    8.0
    >>> pl.tweedie.hessian(raw, y, power=1.5, reduction="none")  # 0.5 + 0.5 y
    array([0.5, 1.5])

    References
    ----------
    Jorgensen, *The Theory of Dispersion Models*, 1997, ch. 4; scikit-learn
    ``sklearn/_loss/loss.py`` (``HalfTweedieLoss``).
    """, params=_tweedie_params, extra_options={"power": 1.5, "deviance": False}, dev_flag=1,
    domain=_tweedie_domain, example=_glm_example("tweedie"))


exponential = GLMLoss("exponential", "glm", """Exponential (AdaBoost) loss, ``l = target e^-raw + (1 - target) e^raw``.

    sklearn's ``ExponentialLoss`` (with ``y = target`` in ``[0, 1]``, i.e.
    ``exp(-(2y - 1) raw)`` for labels 0/1).  Gradient
    ``-target e^-raw + (1 - target) e^raw``, Hessian equal to the loss.
    A zero factor (``target`` 0 or 1) gives a zero term even where the
    exponential overflows, where sklearn's formula would give ``nan``.

    Domain: ``0 <= target <= 1``.

    Parameters
    ----------""" + _ARRAYS + _COMMON + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> raw, y = np.array([0.0, np.log(2.0)]), np.array([1.0, 0.0])
    >>> float(pl.exponential(raw, y, reduction="sum"))  # 1 + 2
    3.0

    References
    ----------
    Freund & Schapire, "A decision-theoretic generalization of on-line
    learning and an application to boosting", J. Comput. Syst. Sci. 55, 1997;
    scikit-learn ``sklearn/_loss/loss.py`` (``ExponentialLoss``).
    """, domain=lambda rp: {"lo": 0.0, "hi": 1.0}, example=_glm_example("binary"))

# ------------------------------------------------------------------ boosting facts
# What pyloss.boosting serves for these losses (SPEC 7).  Sources: XGBoost
# src/objective/regression_obj.cu (PoissonRegression: grad e^p - y, hess
# e^(p + max_delta_step), max_delta_step 0.7; GammaRegression: grad 1 - y e^-p,
# hess y e^-p; TweedieRegression: grad -y e^((1-rho)p) + e^((2-rho)p), hess
# -y(1-rho) e^((1-rho)p) + (2-rho) e^((2-rho)p), rho in [1, 2)); LightGBM
# src/objective/regression_objective.hpp (RegressionPoissonLoss: hess
# e^(score + poisson_max_delta_step), 0.7; RegressionGammaLoss;
# RegressionTweedieLoss, tweedie_variance_power in [1, 2)).
from .._boostfacts import (BoostFacts as _BF, Profile as _P,  # noqa: E402
                           init_log_mean as _log_mean, init_log_odds_half as _log_odds_half)


def _no_deviance(opts):
    if opts.get("deviance"):
        raise PylossValueError("deviance: the built-in objectives use the half loss "
                               "(deviance=False)")


def _tweedie_power(opts):
    _no_deviance(opts)
    p = opts.get("power", 1.5)
    if not 1.0 <= p < 2.0:
        raise PylossValueError(f"power: XGBoost's and LightGBM's Tweedie objectives accept "
                               f"powers in [1, 2), got {p!r}")


def _max_delta_step(extra, K):
    return float(np.exp(extra["max_delta_step"]))


_POIS = "grad e^r - y, hess e^(r + max_delta_step) (max_delta_step=0.7)"
_GAMMA = "exact: grad 1 - y e^-r, hess y e^-r"
_TWEEDIE = "exact; tweedie_variance_power = power, in [1, 2) only"
poisson.boosting = _BF(hess_min=0.0, init=_log_mean, profiles={
    "xgboost": _P("count:poisson", factor=_max_delta_step, extra={"max_delta_step": 0.7},
                  check=_no_deviance, doc=_POIS + "; also set max_delta_step=0.7 in the "
                  "booster's parameters: count:poisson caps leaf values with it"),
    "lightgbm": _P("poisson", factor=_max_delta_step, extra={"max_delta_step": 0.7},
                   check=_no_deviance, doc=_POIS + " (poisson_max_delta_step)")})
gamma.boosting = _BF(hess_min=0.0, init=_log_mean, profiles={
    "xgboost": _P("reg:gamma", check=_no_deviance, doc=_GAMMA),
    "lightgbm": _P("gamma", check=_no_deviance, doc=_GAMMA)})
tweedie.boosting = _BF(init=_log_mean, profiles={
    "xgboost": _P("reg:tweedie", check=_tweedie_power, doc=_TWEEDIE),
    "lightgbm": _P("tweedie", check=_tweedie_power, doc=_TWEEDIE)})
exponential.boosting = _BF(hess_min=0.0, init=_log_odds_half)

# ------------------------------------------------------------------ bench facts
# `pyloss bench` and the tests: the exps/logs of the compute floor and the
# peers compared against, scikit-learn's half losses among them (glm_peers).
from . import glm_peers as _peers  # noqa: E402

poisson.declare(bench_cost=_peers.log_link_cost,
                sklearn_peer=_peers.sklearn_half("HalfPoissonLoss"),
                peers=dict(formula=_peers.f_poisson))
gamma.declare(bench_cost=_peers.log_link_cost, sklearn_peer=_peers.sklearn_half("HalfGammaLoss"),
              peers=dict(formula=_peers.f_gamma))
tweedie.declare(bench_cost=_peers.tweedie_cost,
                sklearn_peer=_peers.sklearn_half("HalfTweedieLoss", power="power"),
                peers=dict(formula=_peers.f_tweedie))
exponential.declare(bench_cost=_peers.log_link_cost,
                    sklearn_peer=_peers.sklearn_half("ExponentialLoss"),
                    peers=dict(formula=_peers.f_exponential))
