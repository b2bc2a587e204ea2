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
def quantile_point(p, t, a, q, p1):
    u = t - p
    if u > 0:
        return q * u, -q, 0.0
    if u < 0:
        return (q - 1.0) * u, 1.0 - q, 0.0
    return (q - 1.0) * u, u * 0.0, 0.0


NAMES = ("mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile")
instantiate(EW_TEMPLATE, NAMES, globals(), __file__)
