"""Reference GLM losses: point functions returning (l, dl/draw, d2l/draw2).

Written from the formulas of scikit-learn's ``sklearn._loss`` (loss.py and
_loss.pyx.tp: HalfPoissonLoss, HalfGammaLoss, HalfTweedieLoss,
ExponentialLoss) in float64 NumPy; ``deviance=True`` adds
``constant_to_optimal_zero`` and doubles (a series near the deviance's zero,
where that sum cancels: ``_near_zero``).  A zero factor times an overflowed
exponential is 0 (the limit), where sklearn would give nan.
"""
import numpy as np


def _ymul(y, e):
    return np.where(y == 0, 0.0, y * e)


def _near_zero(raw, y, b, closed):
    """The unit deviance `closed` (closed form), replaced near its zero by
    2 mu^b F(delta), mu = e^raw, delta = log(y / mu):

        2 (mu^b / b - y mu^a / a + y^b / (ab)) = 2 mu^b (r^b / (ab) - r / a + 1 / b),
        r = e^delta, a = b - 1, and expanding both powers of r,
        F(delta) = sum_{k >= 2} (1 + b + ... + b^{k-2}) delta^k / k!

    (b = 1 and b = 0 are the Poisson and Gamma limits).  The closed forms
    subtract O(1) terms to get O(delta^2); the series does not.  Applied where
    max(1, |b|) |delta| < 1, with 20 terms (double rounding there).
    """
    y = np.asarray(y, np.float64)
    raw = np.asarray(raw, np.float64)
    pos = y > 0
    d = np.where(pos, np.log(np.where(pos, y, 1.0)), 0.0) - raw
    with np.errstate(invalid="ignore"):
        near = pos & (np.abs(d) * max(1.0, abs(b)) < 1.0)
    if not near.any():
        return closed
    dn = d[near]
    s, c, term = np.zeros_like(dn), 1.0, 0.5 * dn * dn
    for k in range(2, 22):
        s += c * term
        c = 1.0 + b * c
        term = term * dn / (k + 1)
    out = np.broadcast_to(np.asarray(closed, np.float64), near.shape).copy()
    out[near] = 2.0 * np.exp(b * np.broadcast_to(raw, near.shape)[near]) * s
    return out


def poisson(raw, target, aux=None, deviance=False):
    e = np.exp(raw)
    g = e - target
    if deviance:
        ylog = np.where(target > 0, target * (np.log(np.where(target > 0, target, 1.0)) - raw), 0.0)
        return _near_zero(raw, target, 1.0, 2.0 * (ylog + g)), 2.0 * g, 2.0 * e
    return e - _ymul(target, raw), g, e


def gamma(raw, target, aux=None, deviance=False):
    ye = target * np.exp(-raw)
    if deviance:
        closed = 2.0 * ((raw - np.log(target)) + (ye - 1.0))
        return _near_zero(raw, target, 0.0, closed), 2.0 * (1.0 - ye), 2.0 * ye
    return raw + ye, 1.0 - ye, ye


def tweedie(raw, target, aux=None, power=1.5, deviance=False):
    y = target
    if power == 0:
        e = np.exp(raw)
        d = e - y
        l, g, h = 0.5 * d * d, e * d, e * (2.0 * e - y)
        c = 0.0
    elif power == 1:
        l, g, h = poisson(raw, y)
        c = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)) - y, 0.0)
    elif power == 2:
        l, g, h = gamma(raw, y)
        c = -np.log(y) - 1.0
    else:
        a, b = 1.0 - power, 2.0 - power
        ea, eb = np.exp(a * raw), np.exp(b * raw)
        ya = _ymul(y, ea)
        l = eb / b - ya / a
        g = eb - ya
        h = b * eb - a * ya
        # both exponentials overflowed (inf - inf): the term with the larger
        # exponent wins, e^{br} for raw > 0 and y e^{ar} for raw < 0
        both = np.isnan(l) & ~np.isnan(raw) & ~np.isnan(y)
        if both.any():
            sp = np.where(raw > 0, b, -y * a)
            sg = np.where(raw > 0, 1.0, -y)
            l = np.where(both, np.copysign(np.inf, sp), l)
            g = np.where(both, np.copysign(np.inf, sg), g)
            h = np.where(both, np.copysign(np.inf, sp), h)
        c = np.power(np.maximum(y, 0.0), b) / (a * b)
    if deviance:
        return _near_zero(raw, y, 2.0 - power, 2.0 * (l + c)), 2.0 * g, 2.0 * h
    return l, g, h


def exponential(raw, target, aux=None):
    e = np.exp(raw)
    u = np.where(target == 0, 0.0, target / e)
    v = _ymul(1.0 - target, e)
    return u + v, v - u, u + v
