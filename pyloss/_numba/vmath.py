"""Vectorisable exp and log for the Numba kernels (mirror of csrc/common.h).

Numba lowers ``math.exp``/``math.log``/``math.log1p`` to scalar libm calls
(without Intel's SVML), and one call in a loop keeps the whole loop scalar.
These are the C kernels' polynomial forms -- same reductions, same
coefficients, same special values -- written as plain arithmetic plus two bit
casts, so LLVM vectorises a loop that uses them.  Each name dispatches on its
argument's type at compile time: a float32 argument runs the float32
polynomial (16 lanes), a float64 one the float64 polynomial.

* ``vexp(x)``: exp; overflow gives +inf, underflow 0 (subnormals kept), NaN
  passes.  float32 1 ulp, float64 2 ulp (tests/test_math.py measures the C
  twins; tests/test_numba_vmath.py compares these with them bit for bit).
* ``vexp_nonpos(x)``: exp for x <= 0 (a softmax's x - max), two selects fewer.
* ``vlog(x)``: log; x < 0 or NaN gives NaN, 0 gives -inf, +inf gives +inf.
* ``vlog1p_pos(u)``: log1p for u >= 0 (or NaN / +inf).
* ``vlog1p_unit(u, inv)``: log1p for u in [0, 1] given inv = 1 / (1 + u).
* ``like(x, v)``: the constant `v` in `x`'s float type, so that float32
  arithmetic stays float32 (a Python float literal is float64 in Numba);
  ``ZERO, HALF, ONE, TWO, FOUR`` for the constants exact in float32.
* ``by_dtype(f32_impl, f64_impl)``: a function choosing its body by the
  argument's float type (C's ``#if PL_DOUBLE``).
"""
import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

F32 = np.float32
I32 = np.int32

# Constants exact in float32, as float32 globals (Numba freezes them with
# their type): float32 arithmetic with them stays float32, float64 arithmetic
# promotes them exactly.  A Python literal such as 0.5 is float64 in Numba and
# would turn a float32 kernel into a float64 one at half the vector width.
# Inexact constants (ln 2, 1/7!) take ``like(x, c)`` instead.
ZERO, HALF, ONE, TWO, FOUR = F32(0.0), F32(0.5), F32(1.0), F32(2.0), F32(4.0)


def _bitcast(src, dst, llvm_type):
    """An intrinsic reinterpreting the bits of a `src` scalar as a `dst` one."""
    @intrinsic
    def cast(typingctx, v):
        if v != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)
        return dst(src), codegen
    return cast


f2i = _bitcast(types.float32, types.int32, ir.IntType(32))
i2f = _bitcast(types.int32, types.float32, ir.FloatType())
d2i = _bitcast(types.float64, types.int64, ir.IntType(64))
i2d = _bitcast(types.int64, types.float64, ir.DoubleType())

_jit = numba.njit(cache=True, error_model="numpy", fastmath={"contract"})


# ------------------------------------------------------------------ exp

@_jit
def _expf_core(xc):
    magic = F32(12582912.0)                 # 1.5 * 2^23
    z = xc * F32(1.44269504088896341) + magic
    # int32 throughout (Numba widens int32 arithmetic to int64, which would
    # halve the vector width): truncate after each operation
    n = I32(f2i(z) - f2i(magic))
    nf = z - magic
    r = xc - nf * F32(0.693359375)
    r = r - nf * F32(-2.12194440e-4)
    p = F32(1.9875691500E-4)
    p = p * r + F32(1.3981999507E-3)
    p = p * r + F32(8.3334519073E-3)
    p = p * r + F32(4.1665795894E-2)
    p = p * r + F32(1.6666665459E-1)
    p = p * r + F32(5.0000001201E-1)
    p = p * (r * r) + r + F32(1.0)
    n1 = I32(n >> 1)
    n2 = I32(n - n1)
    return p * i2f(I32(I32(n1 + 127) << 23)) * i2f(I32(I32(n2 + 127) << 23))


@_jit
def _expf(x):
    hi = F32(88.8)
    lo = F32(-104.0)
    xc = hi if x > hi else x
    xc = lo if xc < lo else xc
    y = _expf_core(xc)
    y = F32(np.inf) if x > hi else y
    y = F32(0.0) if x < lo else y
    return x if x != x else y


@_jit
def _expf_nonpos(x):
    lo = F32(-104.0)
    y = _expf_core(lo if x < lo else x)
    y = F32(0.0) if x < lo else y
    return x if x != x else y


@_jit
def _exp_core(xc):
    magic = 6755399441055744.0              # 1.5 * 2^52
    z = xc * 1.4426950408889634074 + magic
    n = d2i(z) - d2i(magic)
    nf = z - magic
    r = xc - nf * 6.93147180369123816490e-01
    r = r - nf * 1.90821492927058770002e-10
    p = 1.0 / 6227020800.0                  # 1/13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * (r * r) + r + 1.0
    n1 = n >> 1
    n2 = n - n1
    return p * i2d((n1 + 1023) << 52) * i2d((n2 + 1023) << 52)


@_jit
def _exp(x):
    xc = 709.9 if x > 709.9 else x
    xc = -745.2 if xc < -745.2 else xc
    y = _exp_core(xc)
    y = math.inf if x > 709.9 else y
    y = 0.0 if x < -745.2 else y
    return x if x != x else y


@_jit
def _exp_nonpos(x):
    y = _exp_core(-745.2 if x < -745.2 else x)
    y = 0.0 if x < -745.2 else y
    return x if x != x else y


# ------------------------------------------------------------------ log

@_jit
def _logf_core(xs, esub):
    ix = I32(f2i(xs) + I32(0x3f800000 - 0x3f3504f3))
    e = I32(I32(ix >> 23) - 127 - esub)
    m = i2f(I32(I32(ix & 0x007fffff) + 0x3f3504f3))
    f = m - F32(1.0)
    z = f * f
    y = F32(7.0376836292E-2)
    y = y * f - F32(1.1514610310E-1)
    y = y * f + F32(1.1676998740E-1)
    y = y * f - F32(1.2420140846E-1)
    y = y * f + F32(1.4249322787E-1)
    y = y * f - F32(1.6668057665E-1)
    y = y * f + F32(2.0000714765E-1)
    y = y * f - F32(2.4999993993E-1)
    y = y * f + F32(3.3333331174E-1)
    y = y * f * z
    ef = F32(e)
    y += F32(-2.12194440e-4) * ef
    y += F32(-0.5) * z
    r = f + y
    r += F32(0.693359375) * ef
    return r


@_jit
def _logf(x):
    sub = x < F32(1.17549435e-38)
    xs = x * F32(33554432.0) if sub else x  # 2^25
    r = _logf_core(xs, I32(25) if sub else I32(0))
    r = x if x == F32(np.inf) else r
    r = F32(-np.inf) if x == F32(0.0) else r
    r = F32(np.nan) if x < F32(0.0) else r
    return x if x != x else r


@_jit
def _log_core(xs, esub):
    ix = d2i(xs) + (0x3ff0000000000000 - 0x3fe6a09e667f3bcd)
    e = (ix >> 52) - 1023 - esub
    m = i2d((ix & 0x000fffffffffffff) + 0x3fe6a09e667f3bcd)
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                             + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (
        1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
    R = t2 + t1
    ed = float(e)
    return ed * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R)
                                                       + ed * 1.90821492927058770002e-10)) - f)


@_jit
def _log(x):
    sub = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if sub else x  # 2^54
    r = _log_core(xs, 54 if sub else 0)
    r = x if x == math.inf else r
    r = -math.inf if x == 0.0 else r
    r = math.nan if x < 0.0 else r
    return x if x != x else r


@_jit
def _log1pf_pos(u):
    v = F32(1.0) + u
    c = (v - F32(1.0)) - u
    r = _logf(v) - c / v
    r = u if u == F32(np.inf) else r        # c = inf - inf is NaN there
    return u if v == F32(1.0) else r


@_jit
def _log1p_pos(u):
    v = 1.0 + u
    c = (v - 1.0) - u
    r = _log(v) - c / v
    r = u if u == math.inf else r
    return u if v == 1.0 else r


@_jit
def _log1pf_unit(u, inv):
    v = F32(1.0) + u
    r = _logf_core(v, I32(0)) - ((v - F32(1.0)) - u) * inv
    return u if v == F32(1.0) else r


@_jit
def _log1p_unit(u, inv):
    v = 1.0 + u
    r = _log_core(v, 0) - ((v - 1.0) - u) * inv
    return u if v == 1.0 else r


# ------------------------------------------------------------------ dispatch

def by_dtype(f32_impl, f64_impl):
    """A function of one float for jitted code: `f32_impl` on a float32
    argument, `f64_impl` on a float64 one (chosen at compile time, as C's
    PL_DOUBLE): for a polynomial that float32 needs fewer terms of."""
    def stub(x):                            # pragma: no cover - typing only
        raise TypeError("pyloss._numba.vmath functions are for jitted code")

    @overload(stub)
    def _ov(x):
        if x == types.float32:
            return lambda x: f32_impl(x)
        if x == types.float64:
            return lambda x: f64_impl(x)
        return None
    return stub


vexp = by_dtype(_expf, _exp)
vexp_nonpos = by_dtype(_expf_nonpos, _exp_nonpos)
vlog = by_dtype(_logf, _log)
vlog1p_pos = by_dtype(_log1pf_pos, _log1p_pos)


def vlog1p_unit(u, inv):                    # pragma: no cover - typing only
    raise TypeError("pyloss._numba.vmath functions are for jitted code")


@overload(vlog1p_unit)
def _ov_log1p_unit(u, inv):
    if u == types.float32:
        return lambda u, inv: _log1pf_unit(u, F32(inv))
    if u == types.float64:
        return lambda u, inv: _log1p_unit(u, float(inv))
    return None


def like(x, v):                             # pragma: no cover - typing only
    raise TypeError("pyloss._numba.vmath.like is for jitted code")


@overload(like)
def _like(x, v):
    if isinstance(x, types.Float):
        ty = x
        return lambda x, v: ty(v)
    return None
