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

from . import BLOCK, PARALLEL, pairwise, pick


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


@numba.njit(cache=True)
def triplet_block(A, P, N, margin, eps, pw, mode, swap, scale, loss, ga, gp, gn, r0, r1):
    d = A.shape[1]
    acc = 0.0
    for r in range(r0, r1):
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for j in range(d):
            aj, pj, nj = A[r, j], P[r, j], N[r, j]
            s1 += _pow(aj - pj + eps, mode, pw)
            s2 += _pow(aj - nj + eps, mode, pw)
            if swap:
                s3 += _pow(pj - nj + eps, mode, pw)
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
            for j in range(d):
                aj, pj, nj = A[r, j], P[r, j], N[r, j]
                f1 = c1 * _dnorm(aj - pj + eps, mode, pm1, l1)
                f2 = c2 * _dnorm(aj - nj + eps, mode, pm1, l2)
                f3 = c3 * _dnorm(pj - nj + eps, mode, pm1, l3) if swap else 0.0
                ga[r, j] = f1 - f2
                gp[r, j] = -f1 - f3
                gn[r, j] = f2 + f3
    return acc


@numba.njit(cache=True)
def triplet_ser(A, P, N, margin, eps, pw, mode, swap, scale, loss, ga, gp, gn):
    n, d = A.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in range(nb):
        part[b] = triplet_block(A, P, N, margin, eps, pw, mode, swap, scale, loss, ga, gp, gn,
                                b * rb, min(n, (b + 1) * rb))
    return pairwise(part)


@numba.njit(cache=True, parallel=PARALLEL)
def triplet_par(A, P, N, margin, eps, pw, mode, swap, scale, loss, ga, gp, gn):
    n, d = A.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in numba.prange(nb):
        part[b] = triplet_block(A, P, N, margin, eps, pw, mode, swap, scale, loss, ga, gp, gn,
                                b * rb, min(n, (b + 1) * rb))
    return pairwise(part)


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


@numba.njit(cache=True)
def contrastive_block(X1, X2, S, margin, scale, loss, g1, g2, r0, r1):
    d = X1.shape[1]
    acc = 0.0
    for r in range(r0, r1):
        q = 0.0
        for j in range(d):
            t = np.float64(X1[r, j] - X2[r, j])
            q += t * t
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
            for j in range(d):
                t = C * (X1[r, j] - X2[r, j])
                g1[r, j] = t
                g2[r, j] = -t
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
