"""Numba kernels of the combination family (mirror of csrc/combination_impl.h).

dice_bce runs the segmentation region driver with its BCE accumulation on
(``segmentation.region_ser/_par`` with ``bce=1``); focal_smooth_l1 is here.
"""
import numba
import numpy as np

from . import instantiate, pairwise  # noqa: F401 (used by the template)
from .segmentation import region_par, region_ser  # noqa: F401  (dice_bce)
from .vmath import vexp, vlog, vlog1p_unit

BLOCK = 4096


@numba.njit(cache=True, error_model="numpy")
def focal_point(x, t, alpha, gamma):
    """torchvision sigmoid_focal_loss at one element and d/dx; see the C twin
    for why r = p(1-p)/q keeps g < 1 finite as q = 1 - p_t -> 0."""
    e = vexp(-abs(x))
    inv = 1.0 / (1.0 + e)
    if x >= 0:
        p, pm = inv, e * inv
    else:
        p, pm = e * inv, inv
    ce = max(x, 0.0) - x * t + vlog1p_unit(e, inv)
    q = p * (1.0 - t) + pm * t
    if gamma == 0.0:
        qg = 1.0
    elif gamma == 2.0:
        qg = q * q
    else:
        qg = vexp(gamma * vlog(q))          # q = 0: log -inf, exp 0 (gamma > 0)
    at = alpha * t + (1.0 - alpha) * (1.0 - t) if alpha >= 0 else 1.0
    r = p * pm / q if q > 0 else 0.0
    dq = gamma * ce * (2.0 * t - 1.0) * r if gamma != 0.0 else 0.0
    return at * ce * qg, at * qg * ((p - t) - dq)


@numba.njit(cache=True, error_model="numpy")
def fsl_block(a0, a1, x, t, bp, bt, alpha, gamma, beta, sc, loss, has_loss, gcls, gbox, has_grad):
    """Rows [a0, a1): (sum of per-anchor terms, positive count)."""
    K = x.shape[1]
    D = bp.shape[1]
    total = 0.0
    npos = 0
    for a in range(a0, a1):
        row = 0.0
        pos = False
        for j in range(K):
            tv = t[a, j]
            l, g = focal_point(x[a, j], tv, alpha, gamma)
            if tv > 0:
                pos = True
            row += l
            if has_grad:
                gcls[a, j] = sc * g
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
