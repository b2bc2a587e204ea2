"""Numba kernels of the regression family (mirror of csrc/regression_impl.h)."""
import math

import numba
import numpy as np

from . import BLOCK, EW_TEMPLATE, instantiate, pairwise  # noqa: F401 (used by the template)

LN2 = math.log(2.0)


@numba.njit(cache=True, inline="always")
def _sign(r):
    # sign with sign(0) = 0 (kink sub-gradient) and NaN kept
    if r > 0:
        return 1.0
    if r < 0:
        return -1.0
    return r * 0.0


@numba.njit(cache=True)
def mse_point(p, t, a, p0, p1):
    r = p - t
    return r * r, 2.0 * r, 2.0


@numba.njit(cache=True)
def mae_point(p, t, a, p0, p1):
    r = p - t
    return abs(r), _sign(r), 0.0


@numba.njit(cache=True)
def huber_point(p, t, a, delta, p1):
    r = p - t
    ar = abs(r)
    if ar <= delta:
        return 0.5 * r * r, r, 1.0
    return delta * (ar - 0.5 * delta), delta * _sign(r), 0.0


@numba.njit(cache=True)
def smooth_l1_point(p, t, a, beta, inv_beta):
    r = p - t
    ar = abs(r)
    if ar < beta:
        return 0.5 * r * r * inv_beta, r * inv_beta, inv_beta
    return ar - 0.5 * beta, _sign(r), 0.0


@numba.njit(cache=True)
def log_cosh_point(p, t, a, p0, p1):
    # |r| < 1: log1p(2 sinh^2(r/2)) avoids the cancellation of the large-|r|
    # form |r| - ln2 + log1p(exp(-2|r|)); see csrc/regression_impl.h.
    r = p - t
    ar = abs(r)
    if r != r:
        return r, r, r
    if ar < 1.0:
        s = math.sinh(0.5 * ar)
        s2 = s * s
        c = 1.0 + 2.0 * s2
        return math.log1p(2.0 * s2), math.copysign(math.tanh(ar), r), 1.0 / (c * c)
    e = math.exp(-2.0 * ar)
    ope = 1.0 + e
    return ar - LN2 + math.log1p(e), math.copysign((1.0 - e) / ope, r), 4.0 * e / (ope * ope)


@numba.njit(cache=True)
def quantile_point(p, t, a, q0, p1):
    # p1 != 0: several levels, this element's level is the auxiliary input
    q = a if p1 != 0 else q0
    u = t - p
    if u > 0:
        return q * u, -q, 0.0
    if u < 0:
        return (q - 1.0) * u, 1.0 - q, 0.0
    return (q - 1.0) * u, u * 0.0, 0.0


@numba.njit(cache=True)
def pseudo_huber_point(p, t, a, delta, inv_delta):
    # l = delta |r| (|x| / (1 + s)), s = sqrt(1 + x^2): no cancellation, no
    # overflow (see csrc/regression_impl.h)
    r = p - t
    ax = abs(r) * inv_delta
    if ax > 1.0:
        s = ax * math.sqrt(1.0 + (1.0 / ax) ** 2)
    else:
        s = math.sqrt(1.0 + ax * ax)
    i = 1.0 / s
    return delta * abs(r) * (ax / (1.0 + s)), r / s, i * i * i


@numba.njit(cache=True)
def _x_minus_log1p(x):
    # x - log1p(x) = x s - 2 s^3 (1/3 + s^2/5 + ...), s = x / (2 + x), x <= 1
    if x > 1.0:
        return x - math.log1p(x)
    s = x / (2.0 + x)
    z = s * s
    q = 0.0
    for k in range(17, 0, -1):
        q = q * z + 1.0 / (2 * k + 1)
    return x * s - 2.0 * (s * z) * q


@numba.njit(cache=True)
def fair_point(p, t, a, c, inv_c):
    r = p - t
    ar = abs(r)
    q = c / (ar + c)
    return c * c * _x_minus_log1p(ar * inv_c), q * r, q * q


@numba.njit(cache=True)
def expectile_point(p, t, a, tau, p1):
    u = t - p
    w = 1.0 - tau if u < 0 else tau
    return w * u * u, -2.0 * w * u, 2.0 * w


NAMES = ("mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "pseudo_huber", "fair",
         "expectile")
instantiate(EW_TEMPLATE, NAMES, globals(), __file__)
