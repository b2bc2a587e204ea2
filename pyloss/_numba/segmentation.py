"""Numba kernels of the segmentation family (mirror of csrc/seg_region_impl.h).

``region_ser``/``region_par`` are the two-pass driver behind dice, iou and
dice_bce: tasks (sample, spatial block of SB positions), pass 1 accumulates
the per-(sample, class) sums of each task, the task partials of a sample are
summed pairwise in task order, pass 2 writes the gradient.  Tasks and block
sizes depend only on the shape, so the result does not depend on threads.
"""
import math

import numba
import numpy as np

from . import instantiate, pairwise  # noqa: F401 (used by the template)

ACT_NONE, ACT_SIGMOID, ACT_SOFTMAX = 0, 1, 2
KIND_DICE, KIND_DICE_SQ, KIND_IOU = 0, 1, 2


@numba.njit(cache=True, error_model="numpy")
def seg_sb(C):
    sb = 8192 // C if C > 0 else 1024
    sb = min(sb, 1024)
    sb = max(sb, 64)
    return sb - sb % 8


@numba.njit(cache=True, error_model="numpy")
def seg_chunk(N, C, S):
    per = C * S
    cn = (65536 + per - 1) // per if per > 0 else N
    return max(1, min(cn, N))


@numba.njit(cache=True, inline="always", error_model="numpy")
def sigmoid2(v):
    """(p, 1 - p, e^-|v|) without cancellation."""
    e = math.exp(-abs(v))
    inv = 1.0 / (1.0 + e)
    if v >= 0:
        return inv, e * inv, e
    return e * inv, inv, e


@numba.njit(cache=True, error_model="numpy")
def softmax_block(x, n, s0, s1, buf):
    """Softmax over classes of x[n, :, s0:s1] into buf[:, :s1-s0]."""
    C = x.shape[1]
    for j in range(s1 - s0):
        m = x[n, 0, s0 + j]
        for c in range(1, C):
            v = x[n, c, s0 + j]
            if v > m:
                m = v
        z = 0.0
        for c in range(C):
            e = math.exp(x[n, c, s0 + j] - m)
            buf[c, j] = e
            z += e
        inv = 1.0 / z
        for c in range(C):
            buf[c, j] *= inv


@numba.njit(cache=True, error_model="numpy")
def pass1(x, t, lab, haslab, n, b, SB, act, sq, bce, part):
    """Sums (I, P, T, BCE) of every class over task (n, b) into part (C, 4)."""
    C, S = x.shape[1], x.shape[2]
    s0 = b * SB
    s1 = min(S, s0 + SB)
    buf = np.empty((C, SB))
    if act == ACT_SOFTMAX:
        softmax_block(x, n, s0, s1, buf)
    for c in range(C):
        si = 0.0
        sp = 0.0
        st = 0.0
        sb = 0.0
        for s in range(s0, s1):
            v = x[n, c, s]
            if act == ACT_SOFTMAX:
                p = buf[c, s - s0]
            elif act == ACT_SIGMOID:
                p, pm, e = sigmoid2(v)
            else:
                p = v
            if haslab:
                tv = 1.0 if lab[n, s] == c else 0.0
            else:
                tv = t[n, c, s]
            si += p * tv
            if sq:
                sp += p * p
                st += tv * tv
            else:
                sp += p
                st += tv
            if bce:
                e = math.exp(-abs(v))
                sb += max(v, 0.0) - v * tv + math.log1p(e)
        part[c, 0] = si
        part[c, 1] = sp
        part[c, 2] = st
        part[c, 3] = sb


@numba.njit(cache=True, error_model="numpy")
def pass2(x, t, lab, haslab, n, b, SB, act, bce, coef, grad):
    """Gradient of task (n, b); coef (C, 4) = A, B, G, K of sample n."""
    C, S = x.shape[1], x.shape[2]
    s0 = b * SB
    s1 = min(S, s0 + SB)
    if act == ACT_SOFTMAX:
        buf = np.empty((C, SB))
        softmax_block(x, n, s0, s1, buf)
        gp = np.empty(C)
        for s in range(s0, s1):
            dot = 0.0
            for c in range(C):
                tv = (1.0 if lab[n, s] == c else 0.0) if haslab else t[n, c, s]
                p = buf[c, s - s0]
                gp[c] = coef[c, 0] * tv + coef[c, 1] + coef[c, 2] * p
                dot += p * gp[c]
            for c in range(C):
                grad[n, c, s] = buf[c, s - s0] * (gp[c] - dot)
        return
    for c in range(C):
        A, B, G, K = coef[c, 0], coef[c, 1], coef[c, 2], coef[c, 3]
        for s in range(s0, s1):
            v = x[n, c, s]
            if haslab:
                tv = 1.0 if lab[n, s] == c else 0.0
            else:
                tv = t[n, c, s]
            if act == ACT_SIGMOID:
                p, pm, e = sigmoid2(v)
                g = (A * tv + B + G * p) * (p * pm)
                if bce:
                    g += K * (p - tv)
                grad[n, c, s] = g
            else:
                grad[n, c, s] = A * tv + B + G * v


@numba.njit(cache=True, error_model="numpy")
def coef_of(I, P, T, kind, smooth, f, k):
    """Class term 1 - num/den and gradient coefficients (A, B, G) times f."""
    if kind == KIND_IOU:
        U = P + T - I + smooth
        num = I + smooth
        r = num / (U * U)
        k[0] = f * (-1.0 / U - r)
        k[1] = f * r
        k[2] = 0.0
        return 1.0 - num / U
    D = P + T + smooth
    num = 2.0 * I + smooth
    r = num / (D * D)
    k[0] = f * (-2.0 / D)
    if kind == KIND_DICE_SQ:
        k[1] = 0.0
        k[2] = f * 2.0 * r
    else:
        k[1] = f * r
        k[2] = 0.0
    return 1.0 - num / D


# The driver, stamped out serial (region_ser) and parallel (region_par; in the
# serial twin numba.prange is a plain range).
REGION_TEMPLATE = '''
def region{name}(x, t, lab, haslab, act, kind, bce, smooth, dice_w, bce_w, scale, loss, grad):
    N, C, S = x.shape
    if N == 0:
        return 0.0
    SB = seg_sb(C)
    nb = (S + SB - 1) // SB
    CN = seg_chunk(N, C, S)
    sq = kind == KIND_DICE_SQ
    f = dice_w * scale / C if C > 0 else 0.0
    cs = float(C) * float(S)
    kb = bce_w * scale / cs if cs > 0 else 0.0
    total = 0.0
    for n0 in range(0, N, CN):
        cn = min(CN, N - n0)
        ntask = cn * nb
        part = np.empty((ntask, C, 4))
        for i in numba.prange(ntask):
            pass1(x, t, lab, haslab, n0 + i // nb, i % nb, SB, act, sq, bce, part[i])
        coef = np.empty((cn, C, 4), x.dtype)
        col = np.empty(nb)
        k = np.empty(3)
        for ln in range(cn):
            acc = 0.0
            bsum = 0.0
            for c in range(C):
                sums = np.empty(4)
                for q in range(4):
                    for i in range(nb):
                        col[i] = part[ln * nb + i, c, q]
                    sums[q] = pairwise(col)
                acc += coef_of(sums[0], sums[1], sums[2], kind, smooth, f, k)
                coef[ln, c, 0] = k[0]
                coef[ln, c, 1] = k[1]
                coef[ln, c, 2] = k[2]
                coef[ln, c, 3] = kb
                bsum += sums[3]
            v = dice_w * (acc / C)
            if bce:
                v += bce_w * (bsum / cs)
            if loss is not None:
                loss[n0 + ln] = v
            total += v
        if grad is not None:
            for i in numba.prange(ntask):
                pass2(x, t, lab, haslab, n0 + i // nb, i % nb, SB, act, bce, coef[i // nb], grad)
    return total
'''

instantiate(REGION_TEMPLATE, ("_ser", "_par"), globals(), __file__, error_model="numpy")
