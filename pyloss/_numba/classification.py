"""Numba kernels of the classification family (mirror of csrc/classification_impl.h).

The softmax losses share one row engine, ``smx_rows``: logits are flat
``(n, c, d)`` (class stride ``d``), a row is one sample position; the three
modes (cross-entropy with class targets, with probability targets, softmax
focal) differ only in the per-row target mass q (see the C file's header).
Rows are cut into fixed blocks whose partial sums are combined pairwise, so
the serial and the prange twin give the same bits.
"""
import math

import numba
import numpy as np

from . import BLOCK, EW_TEMPLATE, PARALLEL, instantiate, pairwise, pick  # noqa: F401

MODE_CLASS, MODE_PROB, MODE_FOCAL = 0, 1, 2


# ------------------------------------------------------------------ elementwise

@numba.njit(cache=True, inline="always")
def _sig_pair(x):
    e = math.exp(-abs(x))
    big = 1.0 / (1.0 + e)
    small = e * big
    if x != x:
        return x, x, e
    if x >= 0:
        return big, small, e
    return small, big, e


@numba.njit(cache=True)
def binary_cross_entropy_point(p, t, a, p0, p1):
    if p != p:
        return p, p, p
    lp = max(math.log(p), -100.0) if p > 0 else -100.0
    l1p = max(math.log1p(-p), -100.0) if p < 1 else -100.0
    d = max(p * (1.0 - p), 1e-12)
    pt = p - t
    return -(t * lp + (1.0 - t) * l1p), pt / d, (pt * pt + t * (1.0 - t)) / (d * d)


@numba.njit(cache=True)
def binary_cross_entropy_with_logits_point(x, t, a, has_pw, p1):
    lw = (1.0 - t) + a * t if has_pw != 0 else 1.0
    p, pm, e = _sig_pair(x)
    # relu(-x) joins (1 - t) x first: exact cancellation for t = 0 (see C)
    l = ((1.0 - t) * x + lw * (-x if x < 0 else 0.0)) + lw * math.log1p(e)
    pw = a if has_pw != 0 else 1.0
    return l, (1.0 - t) * p - pw * t * pm, lw * p * pm


@numba.njit(cache=True)
def sigmoid_focal_point(x, t, aux, alpha, gamma):
    # q^(gamma-1) q' = q^gamma v (1 - 2t), v = p(1-p)/q: finite for gamma < 1
    p, pm, e = _sig_pair(x)
    ce = ((1.0 - t) * x + (-x if x < 0 else 0.0)) + math.log1p(e)
    q = p * (1.0 - t) + pm * t
    s = p * pm
    v = s / q if q > 0 else 1.0
    if gamma == 2.0:
        F = q * q
    elif gamma == 0.0:
        F = 1.0
    else:
        F = q ** gamma
    if q != q:
        F = q
    at = 1.0 if alpha < 0 else alpha * t + (1.0 - alpha) * (1.0 - t)
    ptm = p * (1.0 - t) - pm * t
    u = 1.0 - 2.0 * t
    gv = gamma * v * u
    l = at * ce * F
    g = at * F * (ptm + ce * gv)
    h = at * F * (s + 2.0 * ptm * gv + ce * ((gamma - 1.0) * gv * v * u + gv * (1.0 - 2.0 * p)))
    return l, g, h


instantiate(EW_TEMPLATE, ("binary_cross_entropy", "binary_cross_entropy_with_logits",
                          "sigmoid_focal"), globals(), __file__)


# ------------------------------------------------------------------ softmax rows

@numba.njit(cache=True)
def smx_rows(z, y, tp, w, W, eps, ignore, scale, mode, alpha, alpha0, gamma,
             loss, g, hm, c, d, r0, r1):
    acc = 0.0
    for r in range(r0, r1):
        nn = r // d
        base = nn * c * d + (r - nn * d)
        yy = -1
        if mode != MODE_PROB:
            yy = y[r]
            if yy == ignore or yy < 0 or yy >= c:
                yy = -1
            if yy < 0:
                if loss is not None:
                    loss[r] = 0.0
                if g is not None:
                    for k in range(c):
                        g[base + k * d] = 0.0
                continue
        m = -np.inf
        for k in range(c):
            v = z[base + k * d]
            if v > m:
                m = v
        S = 0.0
        Aw = 0.0
        At = 0.0
        Qt = 0.0
        rest = 0.0
        for k in range(c):
            dz = z[base + k * d] - m
            e = math.exp(dz)
            S += e
            if g is not None:
                g[base + k * d] = e   # reused by the gradient pass: one exp per element
            wk = 1.0
            if w is not None:
                wk = w[k]
            Aw += wk * dz
            if mode == MODE_PROB:
                qk = wk * tp[base + k * d]
                At += qk * dz
                Qt += qk
            if mode == MODE_FOCAL and k != yy:
                rest += e
        logS = math.log(S)
        a = 0.0
        bw = 0.0
        bt = 0.0
        if mode == MODE_PROB:
            bw = eps / c
            bt = 1.0 - eps
            smass = bt * Qt + bw * W
            l = bt * (Qt * logS - At)
            if eps > 0:
                l += bw * (W * logS - Aw)
        elif mode == MODE_CLASS:
            zym = z[base + yy * d] - m
            wy = 1.0
            if w is not None:
                wy = w[yy]
            a = (1.0 - eps) * wy
            bw = eps / c
            smass = a + bw * W
            l = a * (logS - zym)
            if eps > 0:
                l += bw * (W * logS - Aw)
        else:
            zym = z[base + yy * d] - m
            at = alpha0
            if alpha is not None:
                at = alpha[yy]
            logpt = -math.log1p(rest) if zym == 0 else zym - logS
            u = rest / S
            pt = math.exp(zym) / S
            rr = logpt / u if u > 0 else -1.0
            if gamma == 0.0:
                F = 1.0
            elif gamma == 2.0:
                F = u * u
            else:
                F = u ** gamma
            G = at * F * (gamma * pt * rr - 1.0)
            a = -G
            smass = -G
            l = -at * F * logpt
        if loss is not None:
            loss[r] = l
        acc += l
        if g is not None:
            invS = 1.0 / S
            for k in range(c):
                i = base + k * d
                p = g[i] * invS
                if hm:
                    g[i] = scale * smass * p * (1.0 - p)
                else:
                    wk = 1.0
                    if w is not None:
                        wk = w[k]
                    v = smass * p - bw * wk
                    if mode == MODE_PROB:
                        v -= bt * wk * tp[i]
                    elif k == yy:
                        v -= a
                    g[i] = scale * v
    return acc


@numba.njit(cache=True)
def smx_ser(z, y, tp, w, W, eps, ignore, scale, mode, alpha, alpha0, gamma, loss, g, hm, c, d, rows, per):
    nb = (rows + per - 1) // per
    part = np.empty(nb)
    for b in range(nb):
        part[b] = smx_rows(z, y, tp, w, W, eps, ignore, scale, mode, alpha, alpha0, gamma,
                           loss, g, hm, c, d, b * per, min(rows, (b + 1) * per))
    return pairwise(part)


@numba.njit(cache=True, parallel=PARALLEL)
def smx_par(z, y, tp, w, W, eps, ignore, scale, mode, alpha, alpha0, gamma, loss, g, hm, c, d, rows, per):
    nb = (rows + per - 1) // per
    part = np.empty(nb)
    for b in numba.prange(nb):
        part[b] = smx_rows(z, y, tp, w, W, eps, ignore, scale, mode, alpha, alpha0, gamma,
                           loss, g, hm, c, d, b * per, min(rows, (b + 1) * per))
    return pairwise(part)


def softmax_rows(mode, n, c, d, z, y, tp, w, eps, ignore, scale, alpha, alpha0, gamma,
                 loss, g, hm, nthreads):
    """Run the row engine; arrays are C-contiguous, outputs may be None."""
    rows = n * d
    if rows == 0:
        return 0.0
    if c == 0:
        return float("nan") if mode == MODE_PROB or np.any(y != ignore) else 0.0
    W = float(c) if w is None else float(np.sum(w, dtype=np.float64))
    per = max(1, BLOCK // c)
    fn = pick(smx_ser, smx_par, rows * c, nthreads)
    rav = lambda a: None if a is None else a.reshape(-1)  # noqa: E731
    # y and tp are indexed under a runtime mode: give absent ones an empty array
    y = np.empty(0, np.int64) if y is None else y.reshape(-1)
    tp = np.empty(0, z.dtype) if tp is None else tp.reshape(-1)
    return fn(rav(z), y, tp, w, W, float(eps), int(ignore), float(scale), mode,
              alpha, float(alpha0), float(gamma), rav(loss), rav(g), bool(hm), c, d, rows, per)
