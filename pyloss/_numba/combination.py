"""Numba kernels of the combination family (mirror of csrc/combination_impl.h).

dice_bce runs the segmentation region driver with its BCE accumulation on
(``segmentation.region_ser/_par`` with ``bce=1``); focal_smooth_l1 is here.

focal_smooth_l1 works as its C twin: blocks of whole anchors, the focal terms
of a block's flat range of A*K elements in one straight elementwise loop (a
compiled loop per focusing mode -- gamma 0, 1, 2 by multiplies, any other by
exp(gamma log q) -- so gamma = 2 evaluates no exp or log for q^gamma), then
summed row by row in a fixed order; the box terms per positive anchor.
"""
import numba
import numpy as np

from . import instantiate, pairwise, vsum  # noqa: F401 (used by the templates)
from .segmentation import region_par, region_ser  # noqa: F401  (dice_bce)
from .vmath import HALF, ONE, TWO, ZERO, like, vexp, vlog, vlog1p_unit

BLOCK = 4096

_kernel = numba.njit(cache=True, error_model="numpy", fastmath={"contract"})


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def focal_point(x, t, alpha, gamma, gm, ua):
    """torchvision sigmoid_focal_loss at one element and d/dx (the C twin's
    expressions).  q = 1 - p_t from p and 1 - p each from e^-|x| (no
    cancellation); d q^g/dx = -g (2t - 1) w with w = p (1-p) q^(g-1), which
    stays finite as q -> 0.  gm: 0 g = 0, 1 g = 1, 2 g = 2 (multiplies),
    3 any other g; a constant at every call, so the branch folds away."""
    e = vexp(-abs(x))
    inv = ONE / (ONE + e)
    p = inv if x >= ZERO else e * inv
    pm = e * inv if x >= ZERO else inv
    ce = (x if x > ZERO else ZERO) - x * t + vlog1p_unit(e, inv)
    q = p * (ONE - t) + pm * t
    if gm == 0:
        qg = ONE
        w = ZERO
    elif gm == 1:
        qg = q
        w = p * pm
    elif gm == 2:
        qg = q * q
        w = p * pm * q
    else:
        qg = vexp(gamma * vlog(q))      # q = 0: log -inf, exp 0
        qg = qg if q > ZERO else ZERO
        w = p * pm / (q if q > ZERO else ONE) * qg if q > ZERO else ZERO
    at = alpha * t + (ONE - alpha) * (ONE - t) if ua else ONE
    return at * ce * qg, at * (qg * (p - t) - gamma * ce * (TWO * t - ONE) * w)


# The flat run of focal terms, one compiled loop per mode (fsl_run_g0..g3):
# terms into l, the scaled gradient into g where wanted.
FSL_RUN = '''
def fsl_run{name}(x, t, alpha, gamma, sc, l, g, wg, ua):
    n = x.size
    if wg:
        for j in range(n):
            lj, gj = focal_point(x[j], t[j], alpha, gamma, GM, ua)
            l[j] = lj
            g[j] = sc * gj
    else:
        for j in range(n):
            lj, gj = focal_point(x[j], t[j], alpha, gamma, GM, ua)
            l[j] = lj
'''
for _gm in range(4):
    instantiate(FSL_RUN.replace("GM", str(_gm)), ("_g%d" % _gm,), globals(), __file__,
                error_model="numpy", fastmath={"contract"})


@_kernel
def fsl_block(a0, na, K, D, xf, tf, bp, bt, alpha, gamma, beta, sc, loss, has_loss, gf, gbox,
              has_grad, gm, ua, lbuf, rows, pos):
    """Anchors [a0, a0 + na): (sum of their terms, positive count).  gf is
    the flat class gradient (empty without one)."""
    for i in range(na):
        tr = tf[(a0 + i) * K:(a0 + i + 1) * K]
        n = 0
        for j in range(K):
            n += 1 if tr[j] > ZERO else 0
        pos[i] = n > 0
        rows[i] = 0.0
    f1 = (a0 + na) * K
    p0 = a0 * K
    while p0 < f1:
        p1 = min(f1, p0 + BLOCK)
        xv = xf[p0:p1]
        tv = tf[p0:p1]
        gv = gf[p0:p1] if has_grad else gf
        if gm == 2:
            fsl_run_g2(xv, tv, alpha, gamma, sc, lbuf, gv, has_grad, ua)
        elif gm == 0:
            fsl_run_g0(xv, tv, alpha, gamma, sc, lbuf, gv, has_grad, ua)
        elif gm == 1:
            fsl_run_g1(xv, tv, alpha, gamma, sc, lbuf, gv, has_grad, ua)
        else:
            fsl_run_g3(xv, tv, alpha, gamma, sc, lbuf, gv, has_grad, ua)
        j = p0
        while j < p1:
            a = j // K
            e = min((a + 1) * K, p1)
            rows[a - a0] += vsum(lbuf[j - p0:], e - j)
            j = e
        p0 = p1
    total = 0.0
    npos = 0
    for i in range(na):
        a = a0 + i
        box = 0.0
        for d in range(D):
            r = bp[a, d] - bt[a, d]
            ar = abs(r)
            if ar < beta:
                l = HALF * r * r / beta
                g = r / beta
            else:
                l = ar - HALF * beta
                g = ONE if r > ZERO else (-ONE if r < ZERO else r * ZERO)
            if pos[i]:
                box += l
            if has_grad:
                gbox[a, d] = sc * g if pos[i] else ZERO
        row = rows[i] + box
        if pos[i]:
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
    D = bp.shape[1]
    width = max(K + D, 1)
    rb = 1 if width >= BLOCK else BLOCK // width
    nb = (A + rb - 1) // rb
    gm = 2 if gamma == 2 else (0 if gamma == 0 else (1 if gamma == 1 else 3))
    ua = alpha >= 0
    scd = 1.0
    if normalize and has_grad:
        cnt = np.zeros(nb, np.int64)
        for b in numba.prange(nb):
            cnt[b] = fsl_count(t, b * rb, min(A, (b + 1) * rb))
        scd = 1.0 / max(1, cnt.sum())
    sc = like(alpha, scd)           # 1 / positives in double, then the input's type (as C)
    xf = x.reshape(x.size)
    tf = t.reshape(t.size)
    gf = gcls.reshape(gcls.size)
    part = np.empty(nb)
    pcnt = np.empty(nb, np.int64)
    for b in numba.prange(nb):
        lbuf = np.empty(BLOCK, x.dtype)
        rows = np.empty(rb)
        pos = np.empty(rb, np.bool_)
        a0 = b * rb
        part[b], pcnt[b] = fsl_block(a0, min(A, a0 + rb) - a0, K, D, xf, tf, bp, bt, alpha,
                                     gamma, beta, sc, loss, has_loss, gf, gbox, has_grad, gm, ua,
                                     lbuf, rows, pos)
    return pairwise(part), pcnt.sum()
'''

instantiate(FSL_TEMPLATE, ("_ser", "_par"), globals(), __file__, error_model="numpy")
