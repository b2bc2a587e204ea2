"""Numba kernels of the GLM family (mirror of csrc/glm_impl.h).

Point functions return ``(l, dl/draw, d2l/draw2)``; the ``<name>_dev``
kernels return the unit deviance ``2 (loss + sklearn's
constant_to_optimal_zero)`` (``deviance=True``).
"""
import math

import numba
import numpy as np

from . import BLOCK, EW_TEMPLATE, instantiate, pairwise  # noqa: F401 (used by the template)


@numba.njit(cache=True, inline="always")
def _ymul(y, e):
    # y * e with a zero factor giving 0 even where e overflowed
    if y == 0:
        return 0.0 * y
    return y * e


@numba.njit(cache=True)
def _poisson(p, t, dev):
    e = math.exp(p)
    gr = e - t
    if dev:
        ylog = t * (math.log(t) - p) if t > 0 else 0.0 * t
        return 2.0 * (ylog + gr), 2.0 * gr, 2.0 * e
    return e - _ymul(t, p), gr, e


@numba.njit(cache=True)
def _gamma(p, t, dev):
    ye = t * math.exp(-p)
    if dev:
        return 2.0 * ((p - math.log(t)) + (ye - 1.0)), 2.0 * (1.0 - ye), 2.0 * ye
    return p + ye, 1.0 - ye, ye


@numba.njit(cache=True)
def _tweedie(p, t, pw, dev):
    a = 1.0 - pw
    b = 2.0 - pw
    ea = 1.0 if a == 0 else math.exp(a * p)
    eb = 1.0 if b == 0 else math.exp(b * p)
    ya = _ymul(t, ea)
    if pw == 0:
        d = ea - t
        lo = 0.5 * d * d
        gr = ea * d
        he = ea * (2.0 * ea - t)
    else:
        t1 = p if b == 0 else eb / b
        t2 = _ymul(t, p) if a == 0 else ya / a
        lo = t1 - t2
        gr = eb - ya
        he = b * eb - a * ya
        if lo != lo and p == p and t == t:
            # inf - inf: the larger exponent's term wins (see csrc/glm_impl.h)
            sp = b if p > 0 else -t * a
            sg = 1.0 if p > 0 else -t
            lo = math.copysign(math.inf, sp)
            gr = math.copysign(math.inf, sg)
            he = math.copysign(math.inf, sp)
    if dev:
        if pw == 0:
            c = 0.0
        elif a == 0:
            c = t * math.log(t) - t if t > 0 else 0.0
        elif b == 0:
            c = -math.log(t) - 1.0
        else:
            c = math.exp(b * math.log(t)) / (a * b) if t > 0 else 0.0
        return 2.0 * (lo + c), 2.0 * gr, 2.0 * he
    return lo, gr, he


@numba.njit(cache=True)
def exponential_point(p, t, a, p0, p1):
    # y e^-r as y * exp(-r): Numba's float division raises on a zero divisor
    e = math.exp(p)
    u = _ymul(t, math.exp(-p))
    v = _ymul(1.0 - t, e)
    return u + v, v - u, u + v


@numba.njit(cache=True)
def poisson_point(p, t, a, p0, p1):
    return _poisson(p, t, False)


@numba.njit(cache=True)
def poisson_dev_point(p, t, a, p0, p1):
    return _poisson(p, t, True)


@numba.njit(cache=True)
def gamma_point(p, t, a, p0, p1):
    return _gamma(p, t, False)


@numba.njit(cache=True)
def gamma_dev_point(p, t, a, p0, p1):
    return _gamma(p, t, True)


@numba.njit(cache=True)
def tweedie_point(p, t, a, pw, p1):
    return _tweedie(p, t, pw, False)


@numba.njit(cache=True)
def tweedie_dev_point(p, t, a, pw, p1):
    return _tweedie(p, t, pw, True)


NAMES = ("poisson", "poisson_dev", "gamma", "gamma_dev", "tweedie", "tweedie_dev", "exponential")
instantiate(EW_TEMPLATE, NAMES, globals(), __file__)
