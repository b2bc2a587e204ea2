"""Numba kernels of the embedding family (mirror of csrc/embedding_impl.h).

Row kernels: rows are cut into blocks of ``rows_per_block(d)`` rows (about
BLOCK elements, as csrc/rows.h), each block returns the float64 sum of its
rows' losses and the block partials are summed pairwise, so the result does
not depend on the thread count.  Differences are formed in the input dtype
(as PyTorch and the C kernels do); distances are accumulated in float64.
"""
import math

import numba
import numpy as np

from . import BLOCK, PARALLEL, instantiate, pairwise, pick


@numba.njit(cache=True)
def rows_per_block(d):
    return 1 if d >= BLOCK else BLOCK // max(d, 1)


@numba.njit(cache=True, inline="always")
def _sign0(x):
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x * 0.0


@numba.njit(cache=True, inline="always")
def _pow(x, mode, pw):
    # |x|^p: mode 0 is p = 2, 1 is p = 1, 2 any p > 0
    xd = np.float64(x)
    if mode == 0:
        return xd * xd
    if mode == 1:
        return abs(xd)
    ax = abs(xd)
    return ax ** pw if ax > 0 else ax * 0.0


@numba.njit(cache=True, inline="always")
def _root(q, mode, pw):
    if mode == 0:
        return math.sqrt(q)
    if mode == 1:
        return q
    return q ** (1.0 / pw)


@numba.njit(cache=True, inline="always")
def _dnorm(x, mode, pm1, ld):
    # d||x||_p/dx up to the row factor (see csrc/embedding_impl.h: tri_dnorm)
    if mode == 0:
        return np.float64(x)
    if mode == 1:
        return _sign0(x)
    ax = abs(np.float64(x))
    if not ax > 0:
        return 0.0
    return math.copysign(math.exp(pm1 * (math.log(ax) - ld)), x)


@numba.njit(cache=True, inline="always")
def _coef(dist, w, mode):
    if mode == 0:
        return w / dist if dist > 0 else w * 0.0
    return w


# sum |a - b + eps|^p over two rows, one leaf per power: the differences in
# the input dtype, the sum in double, reassociated so that the loop
# vectorises (leaves, as pyloss._numba.vsum).  One function with the power
# as a run-time mode, even with a loop per mode, ran 3-4x slower (measured:
# float32 rows of 128).
_leaf = numba.njit(cache=True, fastmath={"reassoc", "nsz"})


@_leaf
def _psum_sq(a, b, eps):
    s = 0.0
    for j in range(a.size):
        x = np.float64(a[j] - b[j] + eps)
        s += x * x
    return s


@_leaf
def _psum_abs(a, b, eps):
    s = 0.0
    for j in range(a.size):
        s += abs(np.float64(a[j] - b[j] + eps))
    return s


@_leaf
def _psum_pow(a, b, eps, pw):
    s = 0.0
    for j in range(a.size):
        s += _pow(a[j] - b[j] + eps, 2, pw)
    return s


@numba.njit(cache=True, inline="always")
def _psum(a, b, eps, mode, pw):
    if mode == 0:
        return _psum_sq(a, b, eps)
    if mode == 1:
        return _psum_abs(a, b, eps)
    return _psum_pow(a, b, eps, pw)


# The block, compiled once per power (mode 0: p = 2, 1: p = 1, 2: any other p,
# a constant in the code): with the mode a run-time value the row loop
# carried every mode's leaf and per-element derivative and ran 2-3x slower
# on float32 rows of 128 (LLVM does not unswitch it).
TRIPLET_BLOCK = '''
def triplet_block{name}(A, P, N, margin, eps, pw, swap, scale, loss, ga, gp, gn, r0, r1):
    mode = MODE
    d = A.shape[1]
    acc = 0.0
    for r in range(r0, r1):
        ar = A[r]       # rows as views indexed from 0, so the loops vectorise
        pr = P[r]
        nr = N[r]
        s1 = _psum(ar, pr, eps, mode, pw)
        s2 = _psum(ar, nr, eps, mode, pw)
        s3 = _psum(pr, nr, eps, mode, pw) if swap else 0.0
        d1 = _root(s1, mode, pw)
        d2 = _root(s2, mode, pw)
        dn, w2, w3, d3 = d2, 1.0, 0.0, 0.0
        if swap:
            d3 = _root(s3, mode, pw)
            # torch.minimum: NaN propagates; the gradient splits at a tie
            dn = d3 if (d3 < d2 or d3 != d3) else d2
            w2 = 1.0 if d2 < d3 else (0.5 if d2 == d3 else 0.0)
            w3 = 1.0 - w2
        v = d1 - dn + margin
        l = 0.0 if v < 0 else v
        acc += l
        if loss is not None:
            loss[r] = l
        if ga is not None:
            # sub-gradient 0 exactly at the hinge (SPEC 3a)
            act = scale * (1.0 if v > 0 else (0.0 if v == v else v))
            c1 = _coef(d1, act, mode)
            c2 = _coef(d2, act * w2, mode)
            c3 = _coef(d3, act * w3, mode) if swap else 0.0
            pm1 = pw - 1.0
            l1 = math.log(d1) if mode == 2 and d1 > 0 else 0.0
            l2 = math.log(d2) if mode == 2 and d2 > 0 else 0.0
            l3 = math.log(d3) if mode == 2 and swap and d3 > 0 else 0.0
            gar = ga[r]
            gpr = gp[r]
            gnr = gn[r]
            for j in range(d):
                aj, pj, nj = ar[j], pr[j], nr[j]
                f1 = c1 * _dnorm(aj - pj + eps, mode, pm1, l1)
                f2 = c2 * _dnorm(aj - nj + eps, mode, pm1, l2)
                f3 = c3 * _dnorm(pj - nj + eps, mode, pm1, l3) if swap else 0.0
                gar[j] = f1 - f2
                gpr[j] = -f1 - f3
                gnr[j] = f2 + f3
    return acc
'''
for _mode in range(3):
    instantiate(TRIPLET_BLOCK.replace("MODE", str(_mode)), ("_m%d" % _mode,), globals(), __file__)


# The drivers pick the block once per call, outside the block loop (a pick
# per block let LLVM inline all three bodies into the loop: 1.4x slower).
TRIPLET_DRIVER = '''
def triplet{name}(A, P, N, margin, eps, pw, mode, swap, scale, loss, ga, gp, gn):
    n, d = A.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    if mode == 0:
        for b in numba.prange(nb):
            part[b] = triplet_block_m0(A, P, N, margin, eps, pw, swap, scale, loss, ga, gp, gn,
                                       b * rb, min(n, (b + 1) * rb))
    elif mode == 1:
        for b in numba.prange(nb):
            part[b] = triplet_block_m1(A, P, N, margin, eps, pw, swap, scale, loss, ga, gp, gn,
                                       b * rb, min(n, (b + 1) * rb))
    else:
        for b in numba.prange(nb):
            part[b] = triplet_block_m2(A, P, N, margin, eps, pw, swap, scale, loss, ga, gp, gn,
                                       b * rb, min(n, (b + 1) * rb))
    return pairwise(part)
'''
instantiate(TRIPLET_DRIVER, ("_ser", "_par"), globals(), __file__)


def _rows(x, n, d):
    return None if x is None else x.reshape(n, d)


def triplet(n, d, arrays, margin, pw, eps, swap, scale, loss, grads, nthreads):
    """Adapter: arrays (anchor, positive, negative) of n rows of d elements."""
    A, P, N = (x.reshape(n, d) for x in arrays)
    ga, gp, gn = (None, None, None) if grads is None else (_rows(g, n, d) for g in grads)
    mode = 0 if pw == 2.0 else (1 if pw == 1.0 else 2)
    fn = pick(triplet_ser, triplet_par, n * d, nthreads)
    return fn(A, P, N, float(margin), A.dtype.type(eps), float(pw), mode, bool(swap),
              float(scale), None if loss is None else loss.reshape(n), ga, gp, gn)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def sqdist(a, b):
    """sum((a - b)^2) of two rows, the differences in the input dtype and the
    sum in double, reassociated (lanes of partial sums, as PL_LANES in C) so
    that it vectorises; a leaf, as pyloss._numba.vsum."""
    q = 0.0
    for j in range(a.size):
        t = np.float64(a[j] - b[j])
        q += t * t
    return q


@numba.njit(cache=True)
def contrastive_block(X1, X2, S, margin, scale, loss, g1, g2, r0, r1):
    acc = 0.0
    for r in range(r0, r1):
        a = X1[r]       # rows as views indexed from 0, so the loops vectorise
        b = X2[r]
        q = sqdist(a, b)
        dist = math.sqrt(q)
        s = np.float64(S[r])
        v = margin - dist
        h = 0.0 if v < 0 else v
        l = s * q + (1.0 - s) * h * h
        acc += l
        if loss is not None:
            loss[r] = l
        if g1 is not None:
            # the hinge part's gradient is 0 at d = 0 (SPEC 3a)
            c = 2.0 * s - (2.0 * (1.0 - s) * h / dist if dist > 0 else 0.0)
            C = X1.dtype.type(scale * c)
            ga = g1[r]
            gb = g2[r]
            for j in range(a.size):
                t = C * (a[j] - b[j])
                ga[j] = t
                gb[j] = -t
    return acc


@numba.njit(cache=True)
def contrastive_ser(X1, X2, S, margin, scale, loss, g1, g2):
    n, d = X1.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in range(nb):
        part[b] = contrastive_block(X1, X2, S, margin, scale, loss, g1, g2, b * rb,
                                    min(n, (b + 1) * rb))
    return pairwise(part)


@numba.njit(cache=True, parallel=PARALLEL)
def contrastive_par(X1, X2, S, margin, scale, loss, g1, g2):
    n, d = X1.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in numba.prange(nb):
        part[b] = contrastive_block(X1, X2, S, margin, scale, loss, g1, g2, b * rb,
                                    min(n, (b + 1) * rb))
    return pairwise(part)


def contrastive(n, d, arrays, margin, scale, loss, grads, nthreads):
    """Adapter: arrays (x1, x2, similar) with n rows of d elements."""
    X1, X2 = (x.reshape(n, d) for x in arrays[:2])
    g1, g2 = (None, None) if grads is None else (_rows(g, n, d) for g in grads)
    fn = pick(contrastive_ser, contrastive_par, n * d, nthreads)
    return fn(X1, X2, arrays[2].reshape(n), float(margin), float(scale),
              None if loss is None else loss.reshape(n), g1, g2)
