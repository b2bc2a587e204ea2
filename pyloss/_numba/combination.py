"""Numba kernels of the combination family (mirror of csrc/combination_impl.h).

dice_bce runs the segmentation region driver with its BCE accumulation on
(``segmentation.region_ser/_par`` with ``bce=1``); focal_smooth_l1 is here.
"""
import numba
import numpy as np

from . import instantiate, pairwise, vsum  # noqa: F401 (used by the template)
from .segmentation import region_par, region_ser  # noqa: F401  (dice_bce)
from .vmath import ONE, TWO, ZERO, vexp, vlog, vlog1p_unit

BLOCK = 4096


@numba.njit(cache=True, inline="always", error_model="numpy")
def focal_point(x, t, alpha, gamma):
    """torchvision sigmoid_focal_loss at one element and d/dx; see the C twin
    for why r = p(1-p)/q keeps g < 1 finite as q = 1 - p_t -> 0."""
    e = vexp(-abs(x))
    inv = ONE / (ONE + e)
    if x >= 0:
        p, pm = inv, e * inv
    else:
        p, pm = e * inv, inv
    ce = max(x, ZERO) - x * t + vlog1p_unit(e, inv)
    q = p * (ONE - t) + pm * t
    if gamma == 0.0:
        qg = ONE
    elif gamma == 2.0:
        qg = q * q
    else:
        qg = vexp(gamma * vlog(q))          # q = 0: log -inf, exp 0 (gamma > 0)
    at = alpha * t + (ONE - alpha) * (ONE - t) if alpha >= 0 else ONE
    r = p * pm / q if q > 0 else ZERO
    dq = gamma * ce * (TWO * t - ONE) * r if gamma != 0.0 else ZERO
    return at * ce * qg, at * qg * ((p - t) - dq)


@numba.njit(cache=True, error_model="numpy")
def _focal_row(xr, tr, gr, alpha, gamma, sc, lb):
    """(sum of the focal terms of one anchor's row, whether it has a positive
    class); views indexed from 0, the terms through lb and vsum, the positives
    as an integer count, so the loop vectorises."""
    npos = 0
    for j in range(xr.size):
        tv = tr[j]
        l, g = focal_point(xr[j], tv, alpha, gamma)
        npos += 1 if tv > 0 else 0
        lb[j] = l
        if gr is not None:
            gr[j] = sc * g
    return vsum(lb, xr.size), npos > 0


@numba.njit(cache=True, error_model="numpy")
def fsl_block(a0, a1, x, t, bp, bt, alpha, gamma, beta, sc, loss, has_loss, gcls, gbox, has_grad):
    """Rows [a0, a1): (sum of per-anchor terms, positive count)."""
    D = bp.shape[1]
    total = 0.0
    npos = 0
    lb = np.empty(x.shape[1], x.dtype)
    for a in range(a0, a1):
        if has_grad:
            row, pos = _focal_row(x[a], t[a], gcls[a], alpha, gamma, sc, lb)
        else:
            row, pos = _focal_row(x[a], t[a], None, alpha, gamma, sc, lb)
        for d in range(D):
            r = bp[a, d] - bt[a, d]
            ar = abs(r)
            if ar < beta:
                l = 0.5 * r * r / beta
                g = r / beta
            else:
                l = ar - 0.5 * beta
                g = 1.0 if r > 0 else (-1.0 if r < 0 else r * 0.0)
            if pos:
                row += l
            if has_grad:
                gbox[a, d] = sc * g if pos else 0.0
        if pos:
            npos += 1
        if has_loss:
            loss[a] = row
        total += row
    return total, npos


@numba.njit(cache=True)
def fsl_count(t, a0, a1):
    n = 0
    for a in range(a0, a1):
        for j in range(t.shape[1]):
            if t[a, j] > 0:
                n += 1
                break
    return n


FSL_TEMPLATE = '''
def focal_smooth_l1{name}(x, t, bp, bt, alpha, gamma, beta, normalize, loss, has_loss,
                          gcls, gbox, has_grad):
    A, K = x.shape
    width = max(K + bp.shape[1], 1)
    rb = 1 if width >= BLOCK else BLOCK // width
    nb = (A + rb - 1) // rb
    sc = 1.0
    if normalize and has_grad:
        cnt = np.zeros(nb, np.int64)
        for b in numba.prange(nb):
            cnt[b] = fsl_count(t, b * rb, min(A, (b + 1) * rb))
        sc = 1.0 / max(1, cnt.sum())
    part = np.empty(nb)
    pcnt = np.empty(nb, np.int64)
    for b in numba.prange(nb):
        part[b], pcnt[b] = fsl_block(b * rb, min(A, (b + 1) * rb), x, t, bp, bt, alpha, gamma,
                                     beta, sc, loss, has_loss, gcls, gbox, has_grad)
    return pairwise(part), pcnt.sum()
'''

instantiate(FSL_TEMPLATE, ("_ser", "_par"), globals(), __file__, error_model="numpy")
