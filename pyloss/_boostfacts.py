"""Boosting facts a loss carries (``loss.boosting``), read by :mod:`pyloss.boosting`.

A loss definition sets ``loss.boosting = BoostFacts(...)``: how its scores are
laid out, what a library's built-in objective for the same loss does to the
gradient and Hessian (:class:`Profile`), how the adapter treats a Hessian that
can be 0 or negative, and the optimal constant raw prediction (``init``).
Only NumPy is imported here: the defs import this module at ``import pyloss``.
"""
import numpy as np

_LIBS = ("xgboost", "lightgbm")


class Profile:
    """A library's built-in objective for a loss.

    builtin : str
        The library's objective name (``"reg:squarederror"``, ``"poisson"``, ...).
    scale : float
        Multiplies the pyloss per-sample gradient and Hessian (0.5 turns pyloss
        ``mse = r**2`` into the libraries' ``r**2 / 2``).
    hess : None or "one"
        None: the loss's exact Hessian; ``"one"``: 1 per sample (times its weight).
    factor : None or callable ``(extra, K) -> float``
        Multiplies the Hessian (``exp(max_delta_step)``, ``K/(K-1)``).
    floor : float
        The library's own lower bound on the (weighted, for multi-class)
        Hessian; 0 for none.
    extra : dict
        Objective-only options of the built-in and their defaults
        (``max_delta_step=0.7``), taken by ``objective()`` next to the loss's options.
    check : None or callable ``(loss_opts) -> None``
        Raises ``PylossValueError`` for loss options the built-in does not accept.
    refit : None or str
        The built-in re-fits leaf values after growing each tree, which a custom
        objective cannot do: the profile is refused with this reason.
    doc : str
        One line for the docstrings.
    """

    def __init__(self, builtin, *, scale=1.0, hess=None, factor=None, floor=0.0, extra=None,
                 check=None, refit=None, doc=""):
        self.builtin = builtin
        self.scale = float(scale)
        self.hess = hess
        self.factor = factor
        self.floor = float(floor)
        self.extra = dict(extra or {})
        self.check = check
        self.refit = refit
        self.doc = doc

    def __repr__(self):
        return f"<boosting profile {self.builtin}: {self.doc}>"


class BoostFacts:
    """What :mod:`pyloss.boosting` needs to know about a loss.

    kind : {"elementwise", "multiclass"}
        ``elementwise``: one score per label (regression, binary on logits;
        several quantile levels give ``(N, K)`` scores for ``(N,)`` labels);
        ``multiclass``: ``(N, K)`` scores, class-index labels ``(N,)``.
    profiles : dict library -> Profile
    hessian : {"exact", "zero", "surrogate"}
        ``zero``: the exact Hessian is 0 everywhere (the adapter's ``"auto"``
        uses a constant 1); ``surrogate``: the adapter uses ``surrogate(...)``
        (with ``"exact"``: ``max(exact, surrogate)`` where an exact Hessian exists).
    hess_min : float
        A lower bound of the loss's exact per-sample Hessian (unweighted):
        the adapter skips its floor pass when ``hess_min >= hess_floor``.
    init : callable ``(loss, target, weight, opts) -> float or ndarray``
        The optimal constant raw prediction.
    surrogate : None or callable ``(scores, target, opts) -> ndarray``
        Positive Hessian used where the exact one is absent or not positive.
    """

    def __init__(self, kind="elementwise", *, profiles=None, hessian="exact", hess_min=-np.inf,
                 init=None, surrogate=None):
        self.kind = kind
        self.profiles = dict(profiles or {})
        self.hessian = hessian
        self.hess_min = float(hess_min)
        self.init = init
        self.surrogate = surrogate


# ------------------------------------------------------------------ init scores
def _w(target, weight):
    return np.ones(np.shape(target)) if weight is None else \
        np.broadcast_to(np.asarray(weight, np.float64), np.shape(target))


def _wmean(target, weight):
    y = np.asarray(target, np.float64)
    w = _w(y, weight)
    return float(np.sum(w * y) / np.sum(w))


def init_mean(loss, target, weight, opts):
    """Weighted mean (squared error)."""
    return _wmean(target, weight)


def init_log_mean(loss, target, weight, opts):
    """log of the weighted mean (log-link deviances: Poisson, Gamma, Tweedie)."""
    with np.errstate(divide="ignore"):
        return float(np.log(_wmean(target, weight)))


def weighted_quantile(target, weight, q):
    """The smallest y with cumulative weight >= q * total (a minimiser of the
    weighted pinball loss; the weighted median for q = 0.5)."""
    y = np.asarray(target, np.float64).ravel()
    w = _w(target, weight).ravel()
    order = np.argsort(y, kind="stable")
    y, w = y[order], w[order]
    cw = np.cumsum(w)
    qs = np.atleast_1d(np.asarray(q, np.float64))
    idx = np.searchsorted(cw, qs * cw[-1], side="left")
    out = y[np.minimum(idx, y.size - 1)]
    return out if np.ndim(q) else float(out[0])


def init_median(loss, target, weight, opts):
    return weighted_quantile(target, weight, 0.5)


def init_quantile(loss, target, weight, opts):
    return weighted_quantile(target, weight, opts.get("q", 0.5))


def init_logit_mean(loss, target, weight, opts):
    """logit of the weighted mean (BCE on logits without pos_weight)."""
    if opts.get("pos_weight") is not None:
        return init_newton(loss, target, weight, opts)
    m = _wmean(target, weight)
    with np.errstate(divide="ignore"):
        return float(np.log(m) - np.log1p(-m))


def init_log_odds_half(loss, target, weight, opts):
    """Exponential loss: ``0.5 log(sum w y / sum w (1 - y))``."""
    y = np.asarray(target, np.float64)
    w = _w(y, weight)
    with np.errstate(divide="ignore"):
        return float(0.5 * (np.log(np.sum(w * y)) - np.log(np.sum(w * (1 - y)))))


def init_log_prior(loss, target, weight, opts):
    """log of the weighted class priors (cross-entropy), label smoothing mixed in,
    each prior clipped at float64 eps so the score stays finite."""
    y = np.asarray(target)
    if y.ndim >= 1 and y.dtype.kind == "f" and y.ndim == 2:     # probability rows (N, K)
        w = _w(y[:, 0], weight)
        prior = np.sum(w[:, None] * y, axis=0)
    else:
        y = y.astype(np.int64).ravel()
        keep = y != opts.get("ignore_index", -100)
        w = _w(y, weight)[keep]
        yk = y[keep]
        K = opts.get("num_class") or (int(yk.max()) + 1 if yk.size else 1)
        cw = opts.get("weight")
        if cw is not None:
            w = w * np.asarray(cw, np.float64)[yk]
        prior = np.bincount(yk, weights=w, minlength=K)
    prior = prior / np.sum(prior)
    eps = opts.get("label_smoothing", 0.0) or 0.0
    prior = (1 - eps) * prior + eps / prior.size
    return np.log(np.clip(prior, np.finfo(np.float64).eps, None))


def _grad_sum(loss, c, target, weight, opts, hess=False):
    s = np.full(np.shape(target), c, np.float64)
    f = loss.hessian if hess else loss.grad
    return float(np.sum(f(s, target, weight=weight, reduction="sum", **opts)))


def init_newton(loss, target, weight, opts, x0=None):
    """Root of the summed gradient of an elementwise loss at a constant score:
    Newton steps safeguarded by a bracket (bisection where Newton leaves it or
    the Hessian is not positive).  Converges in a few steps for smooth losses."""
    y = np.asarray(target, np.float64)
    if x0 is None:
        x0 = weighted_quantile(y, weight, 0.5) if loss.inputs[0] == "pred" else 0.0
    g0 = _grad_sum(loss, x0, y, weight, opts)
    if g0 == 0.0:
        return float(x0)
    # bracket [lo, hi] with G(lo) < 0 < G(hi)
    step = max(1.0, abs(x0))
    lo = hi = x0
    glo = ghi = g0
    for _ in range(60):
        if g0 > 0:
            lo = lo - step
            glo = _grad_sum(loss, lo, y, weight, opts)
            if glo <= 0:
                break
        else:
            hi = hi + step
            ghi = _grad_sum(loss, hi, y, weight, opts)
            if ghi >= 0:
                break
        step *= 2
    if g0 > 0:
        hi, ghi = x0, g0
    else:
        lo, glo = x0, g0
    if glo == 0.0:
        return float(lo)
    if ghi == 0.0:
        return float(hi)
    x, g = (lo, glo) if abs(glo) < abs(ghi) else (hi, ghi)
    scale = float(np.sum(np.abs(_w(y, weight)))) or 1.0
    for _ in range(100):
        h = _grad_sum(loss, x, y, weight, opts, hess=True) if loss.has_hessian else 0.0
        xn = x - g / h if h > 0 else np.nan
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        gn = _grad_sum(loss, xn, y, weight, opts)
        if gn < 0:
            lo = xn
        elif gn > 0:
            hi = xn
        x, g = xn, gn
        if abs(g) <= 1e-13 * scale or hi - lo <= 1e-15 * max(1.0, abs(x)):
            break
    return float(x)


def init_softmax_newton(loss, target, weight, opts):
    """Constant scores (K,) for a softmax loss without a closed form: start at
    the log priors and take Newton steps on the summed gradient, its (K, K)
    Jacobian by central differences (K gradient passes; solved by least
    squares, the softmax being invariant to a common shift), each step halved
    until the value does not increase."""
    y = np.asarray(target).astype(np.int64).ravel()
    c = init_log_prior(loss, y, weight, {"ignore_index": opts.get("ignore_index", -100),
                                         "num_class": opts.get("num_class")})
    opts = {k: v for k, v in opts.items() if k != "num_class"}
    K = c.size
    w = None if weight is None else np.asarray(weight, np.float64).ravel()
    total = float(y.size if w is None else np.sum(np.abs(w)))

    def parts(c):
        s = np.broadcast_to(c, (y.size, K))
        v, g = loss.value_and_grad(s, y, reduction="none", **opts)
        if w is not None:
            v, g = v * w, g * w[:, None]
        return float(np.sum(v)), g.sum(axis=0)
    v, g = parts(c)
    eps = 1e-5
    for _ in range(30):
        if np.max(np.abs(g)) <= 1e-13 * total:
            break
        J = np.empty((K, K))
        for j in range(K):
            e = np.zeros(K)
            e[j] = eps
            J[:, j] = (parts(c + e)[1] - parts(c - e)[1]) / (2 * eps)
        step = np.linalg.lstsq(J, g, rcond=None)[0]
        t = 1.0
        while True:
            vn, gn = parts(c - t * step)
            if vn <= v or t < 1e-6:
                break
            t *= 0.5
        c, v, g = c - t * step, vn, gn
    return c


# ------------------------------------------------------------------ focal Hessians
def _sigmoid_pair(s):
    """(sigmoid(s), sigmoid(-s)), each without cancellation."""
    e = np.exp(-np.abs(s))
    d = 1.0 + e
    big = np.where(s >= 0, 1.0, e) / d
    small = np.where(s >= 0, e, 1.0) / d
    return big, small


def sigmoid_focal_surrogate(s, t, opts, g):
    """``|g| p_t``: the Hessian that makes the Newton step ``g / h`` exactly
    logistic loss's (``1 / p_t``), focal loss then acting as a per-sample
    reweighting by ``|g|`` (``g`` the weighted focal gradient, so the result is
    weighted too).  Positive wherever the gradient is not 0, finite for every
    logit; with ``gamma = 0, alpha < 0`` it is the logistic Hessian."""
    s = np.asarray(s, np.float64)
    t = np.asarray(t, np.float64)
    p, pm = _sigmoid_pair(s)
    pt = p * t + pm * (1 - t)
    return np.abs(g) * pt


def softmax_focal_surrogate(s, y, opts, g=None):
    """``|G| p_k (1 - p_k)`` with ``G = alpha_t (1-p_t)^gamma (gamma p_t log(p_t)/(1-p_t) - 1)``
    the row's gradient multiplier (``dl/dz_k = G (delta_kt - p_k)``): the Newton
    step is then softmax cross-entropy's, focal loss reweighting each row by
    ``|G|``.  Unweighted; 0 on ignored rows."""
    s = np.asarray(s, np.float64)
    y = np.asarray(y).astype(np.int64).ravel()
    z = s - s.max(axis=1, keepdims=True)
    e = np.exp(z)
    S = e.sum(axis=1)
    p = e / S[:, None]
    ign = y == opts.get("ignore_index", -100)
    yt = np.where(ign, 0, y)
    rows = np.arange(y.size)
    q = (S - e[rows, yt]) / S                      # 1 - p_t as the sum of the others
    pt = e[rows, yt] / S
    logpt = z[rows, yt] - np.log(S)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(q > 1e-8, logpt / np.where(q > 0, q, 1.0), -1.0 - q / 2)
    alpha = opts.get("alpha")
    a = 1.0 if alpha is None else (np.asarray(alpha, np.float64)[yt] if np.ndim(alpha)
                                   else float(alpha))
    gamma = opts.get("gamma", 2.0)
    G = np.where(ign, 0.0, np.abs(a * q ** gamma * (gamma * pt * r - 1.0)))
    return G[:, None] * p * (1 - p)
