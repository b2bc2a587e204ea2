"""Numba kernels of the GLM family (mirror of csrc/glm_impl.h).

Point functions return ``(l, dl/draw, d2l/draw2)``; the ``<name>_dev``
kernels return the unit deviance ``2 (loss + sklearn's
constant_to_optimal_zero)`` (``deviance=True``).
"""
import math

import numba
import numpy as np

from . import BLOCK, instantiate_elementwise, point, pairwise, vsum  # noqa: F401 (used by the template)
from .vmath import HALF, ONE, TWO, ZERO, like, vexp, vlog


@point
def _ymul(y, e):
    # y * e with a zero factor giving 0 even where e overflowed
    if y == 0:
        return ZERO * y
    return y * e


def _dev_series_source(terms=20):
    """pl_dev_series (csrc/glm_impl.h) as straight-line Python: q_k = c_k /
    k! for k = 2..terms+1 (c_2 = 1, c_{k+1} = 1 + b c_k), then Horner's rule
    in d.  A loop would stay a loop inside the element loop and stop its
    vectorisation (10x slower, measured); the q_k depend on b alone."""
    lines = ["def _dev_series(d, b):", "    c = 1.0", "    f = 0.5"]
    for k in range(terms):
        lines.append(f"    q{k} = c * f")
        if k + 1 < terms:
            lines += ["    c = 1.0 + b * c", f"    f *= 1.0 / {k + 3}.0"]
    lines.append(f"    s = q{terms - 1}")
    lines += [f"    s = s * d + q{k}" for k in range(terms - 2, -1, -1)]
    lines.append("    return s * d * d")
    return "\n".join(lines) + "\n"


# the unit deviance over 2 mu^b near its zero, sum_{k=2}^{21} c_k d^k / k!
# (d and b in float64)
exec(compile(_dev_series_source(), __file__, "exec"))
_dev_series = point(_dev_series)  # noqa: F821 (defined by the exec above)


@point
def _dev_near(p, t, b):
    """(whether the series applies, delta = log y - raw), in float64: y > 0
    and max(1, |b|) |delta| < 1 (see csrc/glm_impl.h)."""
    tt = np.float64(t)
    d = vlog(tt if tt > 0.0 else 1.0) - np.float64(p)
    bb = np.float64(b)
    m = abs(bb) if abs(bb) > 1.0 else 1.0
    return (tt > 0.0) and (abs(d) * m < 1.0), d


@point
def _poisson(p, t, dev):
    e = vexp(p)
    gr = e - t
    if dev:
        near, dl = _dev_near(p, t, 1.0)
        if near:
            lo = like(p, 2.0 * np.float64(e) * _dev_series(dl, 1.0))
        else:
            ylog = t * (vlog(t) - p) if t > 0 else ZERO * t
            lo = TWO * (ylog + gr)
        return lo, TWO * gr, TWO * e
    return e - _ymul(t, p), gr, e


@point
def _gamma(p, t, dev):
    ye = t * vexp(-p)
    if dev:
        near, dl = _dev_near(p, t, 0.0)
        if near:
            lo = like(p, 2.0 * _dev_series(dl, 0.0))
        else:
            lo = TWO * ((p - vlog(t)) + (ye - ONE))
        return lo, TWO * (ONE - ye), TWO * ye
    return p + ye, ONE - ye, ye


@point
def _tweedie(p, t, pw, dev):
    a = ONE - pw
    b = TWO - pw
    ea = ONE if a == 0 else vexp(a * p)
    eb = ONE if b == 0 else vexp(b * p)
    ya = _ymul(t, ea)
    if pw == 0:
        d = ea - t
        lo = HALF * d * d
        gr = ea * d
        he = ea * (TWO * ea - t)
    else:
        t1 = p if b == 0 else eb / b
        t2 = _ymul(t, p) if a == 0 else ya / a
        lo = t1 - t2
        gr = eb - ya
        he = b * eb - a * ya
        if lo != lo and p == p and t == t:
            # inf - inf: the larger exponent's term wins (see csrc/glm_impl.h)
            sp = b if p > 0 else -t * a
            sg = ONE if p > 0 else -t
            inf = like(p, math.inf)
            lo = math.copysign(inf, sp)
            gr = math.copysign(inf, sg)
            he = math.copysign(inf, sp)
    if dev:
        if pw == 0:
            c = ZERO
        elif a == 0:
            c = t * vlog(t) - t if t > 0 else ZERO
        elif b == 0:
            c = -vlog(t) - ONE
        else:
            c = vexp(b * vlog(t)) / (a * b) if t > 0 else ZERO
        near, dl = _dev_near(p, t, b)
        if near:
            lo = like(p, 2.0 * np.float64(eb) * _dev_series(dl, np.float64(b)))
        else:
            lo = TWO * (lo + c)
        return lo, TWO * gr, TWO * he
    return lo, gr, he


@point
def exponential_point(p, t, a, p0, p1):
    # y e^-r as y * exp(-r): Numba's float division raises on a zero divisor
    e = vexp(p)
    u = _ymul(t, vexp(-p))
    v = _ymul(ONE - t, e)
    return u + v, v - u, u + v


@point
def poisson_point(p, t, a, p0, p1):
    return _poisson(p, t, False)


@point
def poisson_dev_point(p, t, a, p0, p1):
    return _poisson(p, t, True)


@point
def gamma_point(p, t, a, p0, p1):
    return _gamma(p, t, False)


@point
def gamma_dev_point(p, t, a, p0, p1):
    return _gamma(p, t, True)


@point
def tweedie_point(p, t, a, pw, p1):
    return _tweedie(p, t, pw, False)


@point
def tweedie_dev_point(p, t, a, pw, p1):
    return _tweedie(p, t, pw, True)


NAMES = ("poisson", "poisson_dev", "gamma", "gamma_dev", "tweedie", "tweedie_dev", "exponential")
instantiate_elementwise(NAMES, globals(), __file__)
