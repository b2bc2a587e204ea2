"""Numba kernels of the regression family (mirror of csrc/regression_impl.h)."""
import math

import numba
import numpy as np

from . import BLOCK, instantiate_elementwise, point, pairwise, vsum  # noqa: F401 (used by the template)
from .vmath import F32, FOUR, HALF, ONE, TWO, ZERO, by_dtype, like, vexp, vlog1p_pos, vlog1p_unit

LN2 = math.log(2.0)


@point
def _sign(r):
    # sign with sign(0) = 0 (kink sub-gradient) and NaN kept
    if r > 0:
        return ONE
    if r < 0:
        return -ONE
    return r * ZERO


@point
def mse_point(p, t, a, p0, p1):
    r = p - t
    return r * r, TWO * r, TWO


@point
def mae_point(p, t, a, p0, p1):
    r = p - t
    return abs(r), _sign(r), ZERO


@point
def huber_point(p, t, a, delta, p1):
    r = p - t
    ar = abs(r)
    if ar <= delta:
        return HALF * r * r, r, ONE
    return delta * (ar - HALF * delta), delta * _sign(r), ZERO


@point
def smooth_l1_point(p, t, a, beta, inv_beta):
    r = p - t
    ar = abs(r)
    if ar < beta:
        return HALF * r * r * inv_beta, r * inv_beta, inv_beta
    return ar - HALF * beta, _sign(r), ZERO


@point
def _sinh_series_f32(x):
    # sinh(x) for |x| <= 1/2 (csrc/regression_impl.h's float terms)
    x2 = x * x
    s = F32(1.0 / 5040.0)
    s = s * x2 + F32(1.0 / 120.0)
    s = s * x2 + F32(1.0 / 6.0)
    return (s * x2 + ONE) * x


@point
def _sinh_series_f64(x):
    x2 = x * x
    s = 1.0 / 355687428096000.0
    s = s * x2 + 1.0 / 1307674368000.0
    s = s * x2 + 1.0 / 6227020800.0
    s = s * x2 + 1.0 / 39916800.0
    s = s * x2 + 1.0 / 362880.0
    s = s * x2 + 1.0 / 5040.0
    s = s * x2 + 1.0 / 120.0
    s = s * x2 + 1.0 / 6.0
    return (s * x2 + 1.0) * x


_sinh_series = by_dtype(_sinh_series_f32, _sinh_series_f64)


@point
def log_cosh_point(p, t, a, p0, p1):
    # |r| < 1: log1p(2 sinh^2(r/2)) avoids the cancellation of the large-|r|
    # form |r| - ln2 + log1p(exp(-2|r|)); see csrc/regression_impl.h.  Both
    # forms are computed and one is selected, so the loop vectorises.
    r = p - t
    ar = abs(r)
    small = ar < ONE
    s = _sinh_series(HALF * ar if small else ZERO)
    s2 = s * s
    e = vexp(-TWO * ar)
    u = TWO * s2 if small else e            # in [0, 1]
    inv = ONE / (ONE + u)                   # 1/cosh|r| or 1/(1 + e)
    L = vlog1p_unit(u, inv)
    th = TWO * s * math.sqrt(ONE + s2) * inv if small else (ONE - e) * inv
    h = (ONE if small else FOUR * e) * (inv * inv)
    if r != r:
        return r, r, r
    return (L if small else ar - like(r, LN2) + L), math.copysign(th, r), h


@point
def quantile_point(p, t, a, q0, p1):
    # p1 != 0: several levels, this element's level is the auxiliary input
    q = a if p1 != 0 else q0
    u = t - p
    if u > 0:
        return q * u, -q, ZERO
    if u < 0:
        return (q - ONE) * u, ONE - q, ZERO
    return (q - ONE) * u, u * ZERO, ZERO


@point
def pseudo_huber_point(p, t, a, delta, inv_delta):
    # l = delta |r| (|x| / (1 + s)), s = sqrt(1 + x^2): no cancellation, no
    # overflow (see csrc/regression_impl.h)
    r = p - t
    ax = abs(r) * inv_delta
    big = ax > ONE
    u = ONE / ax if big else ax
    s0 = math.sqrt(ONE + u * u)
    s = ax * s0 if big else s0
    i = ONE / s
    return delta * abs(r) * (ax / (ONE + s)), r / s, i * i * i


@point
def _xml_series_f32(z):
    # 1/3 + z/5 + z^2/7 + ... (csrc/regression_impl.h's float terms, to 1/19)
    q = F32(1.0 / 19.0)
    for k in range(8, 0, -1):
        q = q * z + F32(1.0 / (2 * k + 1))
    return q


@point
def _xml_series_f64(z):
    q = 1.0 / 35.0
    for k in range(16, 0, -1):
        q = q * z + 1.0 / (2 * k + 1)
    return q


_xml_series = by_dtype(_xml_series_f32, _xml_series_f64)


@point
def _x_minus_log1p(x):
    # x - log1p(x) = x s - 2 s^3 (1/3 + s^2/5 + ...), s = x / (2 + x), x <= 1;
    # both forms computed and one selected (the loop vectorises)
    s = x / (TWO + x)
    z = s * s
    small = x * s - TWO * (s * z) * _xml_series(z)
    large = x - vlog1p_pos(x if x > ONE else ONE)
    return small if x <= ONE else large


@point
def fair_point(p, t, a, c, inv_c):
    r = p - t
    ar = abs(r)
    q = c / (ar + c)
    return c * c * _x_minus_log1p(ar * inv_c), q * r, q * q


@point
def expectile_point(p, t, a, tau, p1):
    u = t - p
    w = ONE - tau if u < 0 else tau
    return w * u * u, -TWO * w * u, TWO * w


NAMES = ("mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "pseudo_huber", "fair",
         "expectile")
instantiate_elementwise(NAMES, globals(), __file__)
