"""Reference regression losses: point functions returning (l, dl/dp, d2l/dp2).

Sub-gradients at kinks are 0 (SPEC 3a); second derivatives of the piecewise
linear parts are exactly 0.  Computed in float64 with NumPy.
"""
import numpy as np


def _sign0(r):
    return np.where(r > 0, 1.0, np.where(r < 0, -1.0, r * 0.0))


def mse(pred, target, aux=None):
    r = pred - target
    return r * r, 2.0 * r, np.full_like(r, 2.0)


def mae(pred, target, aux=None):
    r = pred - target
    return np.abs(r), _sign0(r), np.zeros_like(r)


def huber(pred, target, aux=None, delta=1.0):
    r = pred - target
    a = np.abs(r)
    quad = a <= delta
    l = np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))
    g = np.where(quad, r, delta * _sign0(r))
    return l, g, np.where(quad, 1.0, 0.0)


def smooth_l1(pred, target, aux=None, beta=1.0):
    r = pred - target
    a = np.abs(r)
    if beta == 0:
        return mae(pred, target)
    quad = a < beta
    l = np.where(quad, 0.5 * r * r / beta, a - 0.5 * beta)
    g = np.where(quad, r / beta, _sign0(r))
    return l, g, np.where(quad, 1.0 / beta, 0.0)


def log_cosh(pred, target, aux=None):
    r = pred - target
    a = np.abs(r)
    # log cosh r = |r| + log1p(exp(-2|r|)) - log 2 cannot overflow; near 0
    # use log1p(2 sinh^2(r/2)), which does not cancel.
    big = a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)
    small = np.log1p(2.0 * np.sinh(0.5 * a) ** 2)
    l = np.where(a < 1.0, small, big)
    return l, np.tanh(r), 1.0 / np.cosh(r) ** 2


def quantile(pred, target, aux=None, q=0.5):
    # several levels: q is an array broadcast against pred (last axis)
    q = np.asarray(q, np.float64)
    u = target - pred
    l = np.maximum(q * u, (q - 1.0) * u)
    g = np.where(u > 0, -q, np.where(u < 0, 1.0 - q, u * 0.0))
    return l, g, np.zeros_like(u)


def pseudo_huber(pred, target, aux=None, delta=1.0):
    # delta^2 (sqrt(1 + x^2) - 1) = r^2 / (1 + s) with s = sqrt(1 + x^2)
    # (= hypot(1, x)): no cancellation for small r, no overflow for large
    r = pred - target
    ax = np.abs(r) / delta
    s = np.hypot(1.0, ax)
    return delta * np.abs(r) * (ax / (1.0 + s)), r / s, 1.0 / s ** 3


def _x_minus_log1p(x):
    """x - log1p(x) for x >= 0: the atanh series below 1 (see csrc)."""
    s = x / (2.0 + x)
    z = s * s
    q = np.zeros_like(x)
    for k in range(17, 0, -1):
        q = q * z + 1.0 / (2 * k + 1)
    return np.where(x <= 1.0, x * s - 2.0 * (s * z) * q, x - np.log1p(x))


def fair(pred, target, aux=None, c=1.0):
    r = pred - target
    a = np.abs(r)
    q = c / (a + c)
    return c * c * _x_minus_log1p(a / c), q * r, q * q


def expectile(pred, target, aux=None, tau=0.5):
    u = target - pred
    w = np.where(u < 0, 1.0 - tau, tau)
    return w * u * u, -2.0 * w * u, 2.0 * w
