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
KIND_DICE, KIND_DICE_SQ, KIND_IOU, KIND_TVERSKY, KIND_GDL = 0, 1, 2, 3, 4
W_SQUARE, W_SIMPLE, W_UNIFORM = 0, 1, 2


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
def pass1(x, t, lab, haslab, n, b, SB, act, sq, bce, ign, part):
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
                if ign and lab[n, s] < 0:
                    continue     # an ignored pixel leaves every sum
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
def pass2(x, t, lab, haslab, n, b, SB, act, bce, ign, coef, grad):
    """Gradient of task (n, b); coef (C, 4) = A, B, G, K of sample n."""
    C, S = x.shape[1], x.shape[2]
    s0 = b * SB
    s1 = min(S, s0 + SB)
    if act == ACT_SOFTMAX:
        buf = np.empty((C, SB))
        softmax_block(x, n, s0, s1, buf)
        gp = np.empty(C)
        for s in range(s0, s1):
            if ign and lab[n, s] < 0:
                for c in range(C):
                    grad[n, c, s] = 0.0
                continue
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
                if ign and lab[n, s] < 0:
                    grad[n, c, s] = 0.0
                    continue
                tv = 1.0 if lab[n, s] == c else 0.0
            else:
                tv = t[n, c, s]
            if act == ACT_SIGMOID:
                p = sigmoid2(v)[0]
                # p (1 - p) with 1 - p by subtraction, as the C kernel and the
                # NumPy reference: the class term (1 - num/den, the same
                # cancellation) is off by as much, and its derivative matches it
                # only so (focal Tversky at p = 1 - 1e-12 was 9e-5 off otherwise)
                g = (A * tv + B + G * p) * (p * (1.0 - p))
                if bce:
                    g += K * (p - tv)
                grad[n, c, s] = g
            else:
                grad[n, c, s] = A * tv + B + G * v


@numba.njit(cache=True, error_model="numpy")
def coef_of(I, P, T, kind, smooth, f, k, alpha, beta, gamma):
    """Class term 1 - num/den (tversky: its power gamma) and gradient
    coefficients (A, B, G) times f."""
    if kind == KIND_TVERSKY:
        D = I + alpha * (P - I) + beta * (T - I) + smooth
        num = I + smooth
        r = num / (D * D)
        base = 1.0 - num / D
        term = base
        m = 1.0
        if gamma != 1.0:
            term = base ** gamma
            m = 0.0 if base == 0.0 else gamma * base ** (gamma - 1.0)
        k[0] = f * m * (-1.0 / D + r * (1.0 - alpha - beta))
        k[1] = f * m * (r * alpha)
        k[2] = 0.0
        return term
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


@numba.njit(cache=True, error_model="numpy")
def gdl_w(T, wtype):
    if wtype == W_UNIFORM:
        return 1.0
    return 1.0 / T if wtype == W_SIMPLE else 1.0 / (T * T)


@numba.njit(cache=True, error_model="numpy")
def gdl_of(sums, c0, wtype, smooth, f, coef):
    """Generalized Dice ratio of one sample from its class sums (C, 4) and
    its coefficients (weights constant; infinite ones -> largest finite)."""
    C = sums.shape[0]
    wmax = 0.0
    anyf = False
    for c in range(c0, C):
        w = gdl_w(sums[c, 2], wtype)
        if math.isfinite(w) and (not anyf or w > wmax):
            wmax = w
            anyf = True
    sI = 0.0
    sD = 0.0
    for c in range(c0, C):
        w = gdl_w(sums[c, 2], wtype)
        if math.isinf(w):
            w = wmax
        sI += w * sums[c, 0]
        sD += w * (sums[c, 1] + sums[c, 2])
    num = 2.0 * sI + smooth
    den = sD + smooth
    r = num / (den * den)
    for c in range(c0):     # left out: in no sum, exactly zero (den = 0 included)
        coef[c, 0] = 0.0
        coef[c, 1] = 0.0
        coef[c, 2] = 0.0
    for c in range(c0, C):
        w = gdl_w(sums[c, 2], wtype)
        if math.isinf(w):
            w = wmax
        coef[c, 0] = f * (-2.0 * w / den)
        coef[c, 1] = f * (w * r)
        coef[c, 2] = 0.0
    return 1.0 - num / den


@numba.njit(cache=True, error_model="numpy")
def chunk_sums(part, ln, nb, C, col, sums):
    """Sums (C, 4) of local sample ln: its task partials summed pairwise."""
    for c in range(C):
        for q in range(4):
            for i in range(nb):
                col[i] = part[ln * nb + i, c, q]
            sums[c, q] = pairwise(col)


# The driver, stamped out serial (region_ser) and parallel (region_par; in the
# serial twin numba.prange is a plain range).
REGION_TEMPLATE = '''
def region{name}(x, t, lab, haslab, act, kind, bce, smooth, dice_w, bce_w, scale, loss, grad,
                 ign, c0, batch, wtype, alpha, beta, gamma):
    N, C, S = x.shape
    if N == 0 and not batch:
        return 0.0
    keep = loss.size != 0       # per-sample (per-class) losses wanted; empty: no
    SB = seg_sb(C)
    nb = (S + SB - 1) // SB
    CN = max(1, seg_chunk(N, C, S))
    sq = kind == KIND_DICE_SQ
    ign = ign and haslab
    CK = C - c0
    if batch or kind == KIND_GDL:
        f = dice_w * scale
    else:
        f = dice_w * scale / CK if CK > 0 else 0.0
    cs = float(C) * float(S)
    kb = bce_w * scale / cs if cs > 0 else 0.0
    total = 0.0
    col = np.empty(nb)
    k = np.empty(3)
    sums = np.empty((C, 4))
    bs = np.zeros((C, 4))
    for n0 in range(0, N, CN):
        cn = min(CN, N - n0)
        ntask = cn * nb
        part = np.empty((ntask, C, 4))
        for i in numba.prange(ntask):
            pass1(x, t, lab, haslab, n0 + i // nb, i % nb, SB, act, sq, bce, ign, part[i])
        coef = np.zeros((cn, C, 4), x.dtype)
        for ln in range(cn):
            chunk_sums(part, ln, nb, C, col, sums)
            if batch:
                for c in range(C):
                    for q in range(4):
                        bs[c, q] += sums[c, q]
                continue
            if kind == KIND_GDL:
                cf = np.zeros((C, 4))
                v = dice_w * gdl_of(sums, c0, wtype, smooth, f, cf)
                for c in range(C):
                    coef[ln, c, 0] = cf[c, 0]
                    coef[ln, c, 1] = cf[c, 1]
                    coef[ln, c, 2] = cf[c, 2]
                    coef[ln, c, 3] = kb
            else:
                acc = 0.0
                for c in range(C):
                    if c < c0:
                        coef[ln, c, 3] = kb
                        continue
                    acc += coef_of(sums[c, 0], sums[c, 1], sums[c, 2], kind, smooth, f, k,
                                   alpha, beta, gamma)
                    coef[ln, c, 0] = k[0]
                    coef[ln, c, 1] = k[1]
                    coef[ln, c, 2] = k[2]
                    coef[ln, c, 3] = kb
                v = dice_w * (acc / CK)
            if bce:
                bsum = 0.0
                for c in range(C):
                    bsum += sums[c, 3]
                v += bce_w * (bsum / cs)
            if keep:
                loss[n0 + ln] = v
            total += v
        if grad is not None and not batch:
            for i in numba.prange(ntask):
                pass2(x, t, lab, haslab, n0 + i // nb, i % nb, SB, act, bce, ign, coef[i // nb], grad)
    if batch:
        kc = np.zeros((C, 4), x.dtype)
        for c in range(c0, C):
            v = dice_w * coef_of(bs[c, 0], bs[c, 1], bs[c, 2], kind, smooth, f, k, alpha, beta, gamma)
            kc[c, 0] = k[0]
            kc[c, 1] = k[1]
            kc[c, 2] = k[2]
            if keep:
                loss[c - c0] = v
            total += v
        if grad is not None and C > 0:
            for n0 in range(0, N, CN):
                ntask = min(CN, N - n0) * nb
                for i in numba.prange(ntask):
                    pass2(x, t, lab, haslab, n0 + i // nb, i % nb, SB, act, bce, ign, kc, grad)
    return total
'''

instantiate(REGION_TEMPLATE, ("_ser", "_par"), globals(), __file__, error_model="numpy")
