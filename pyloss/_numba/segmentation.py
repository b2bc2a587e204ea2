"""Numba kernels of the segmentation family (mirror of csrc/seg_region_impl.h).

``region_ser``/``region_par`` are the two-pass driver behind dice, iou,
tversky, generalized_dice and dice_bce: tasks (sample, spatial block of SB
positions), pass 1 accumulates the per-(sample, class) sums of each task, the
task partials of a sample are summed pairwise in task order, pass 2 writes
the gradient.  Tasks and block sizes depend only on the shape, so the result
does not depend on threads.

As in C, a block works on class rows: each row a view of the block indexed
from 0 (an offset in the index keeps Numba's loops scalar), the activation
formed row by row with the vectorisable exp/log of :mod:`.vmath`, the sums
taken by reassociating leaves (:func:`sums3`, :func:`vsum`: the only
functions with fast-math reassociation, see :func:`pyloss._numba.vsum`).
With a gradient wanted and an activation, pass 1 stores p in the gradient
buffer and pass 2 turns it into the gradient in place (no second exp); the
callers hand the kernel a gradient buffer that overlaps no input
(``_defs.segmentation.grad_buffer``).
"""
import math

import numba
import numpy as np

from . import instantiate, pairwise, vsum  # noqa: F401 (used by the template)
from .vmath import ONE, ZERO, like, vexp, vexp_nonpos, vlog1p_unit

ACT_NONE, ACT_SIGMOID, ACT_SOFTMAX = 0, 1, 2
KIND_DICE, KIND_DICE_SQ, KIND_IOU, KIND_TVERSKY, KIND_GDL = 0, 1, 2, 3, 4
W_SQUARE, W_SIMPLE, W_UNIFORM = 0, 1, 2

# the block kernels: NumPy's error model (no ZeroDivisionError test per
# division) and FMA contraction, as the C build and the vmath functions
_kernel = numba.njit(cache=True, error_model="numpy", fastmath={"contract"})


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


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def sums3(p, t, n, sq):
    """(sum p t, sum p, sum t) of the first n entries in double, or with
    sq (sum p t, sum p^2, sum t^2); vectorised (lanes of partial sums)."""
    si = 0.0
    sp = 0.0
    st = 0.0
    if sq:
        for i in range(n):
            si += p[i] * t[i]
            sp += p[i] * p[i]
            st += t[i] * t[i]
    else:
        for i in range(n):
            si += p[i] * t[i]
            sp += p[i]
            st += t[i]
    return si, sp, st


@_kernel
def labels_of(lab, haslab, n, s0, s1, lf):
    """The block's labels as floats into lf (a float compare vectorises
    where an int64 one feeding float lanes does not), with labels."""
    if haslab:
        ln = lab[n, s0:s1]
        for j in range(s1 - s0):
            lf[j] = ln[j]


@_kernel
def target_row(t, haslab, lf, n, c, s0, s1, tb):
    """Class c's target over the block: the dense row, or the one-hot of c
    from the labels lf formed in tb."""
    if not haslab:
        return t[n, c, s0:s1]
    cf = like(lf[0], c)
    for j in range(s1 - s0):
        tb[j] = ONE if lf[j] == cf else ZERO
    return tb[:s1 - s0]


@_kernel
def sigmoid_row(xc, L, pc):
    """pc[:L] = sigmoid(xc) without cancellation (e = exp(-|x|))."""
    for j in range(L):
        v = xc[j]
        e = vexp(-abs(v))
        inv = ONE / (ONE + e)
        pc[j] = inv if v >= ZERO else e * inv


@_kernel
def sigmoid_bce_row(xc, tc, L, pc, bc):
    """sigmoid_row and the BCE-with-logits terms max(x, 0) - x t +
    log1p(e^-|x|) into bc (one exp serves both)."""
    for j in range(L):
        v = xc[j]
        e = vexp(-abs(v))
        inv = ONE / (ONE + e)
        pc[j] = inv if v >= ZERO else e * inv
        bc[j] = (v if v > ZERO else ZERO) - v * tc[j] + vlog1p_unit(e, inv)


@_kernel
def softmax_exps(x, n, s0, s1, e, m, rz):
    """The softmax over the C classes of x[n, :, s0:s1], row by row: e[c, :L]
    = exp(x - max) and rz[:L] = 1 / sum_c e (the consumers multiply; m is
    scratch).  Class rows as views indexed from 0, so each loop vectorises
    over positions (C >= 1)."""
    C = x.shape[1]
    L = s1 - s0
    x0 = x[n, 0, s0:s1]
    for j in range(L):
        m[j] = x0[j]
    for c in range(1, C):
        xc = x[n, c, s0:s1]
        for j in range(L):
            v = xc[j]
            m[j] = v if v > m[j] else m[j]
    for c in range(C):
        xc = x[n, c, s0:s1]
        ec = e[c]
        if c == 0:
            for j in range(L):
                v = vexp_nonpos(xc[j] - m[j])
                ec[j] = v
                rz[j] = v
        else:
            for j in range(L):
                v = vexp_nonpos(xc[j] - m[j])
                ec[j] = v
                rz[j] += v
    for j in range(L):
        rz[j] = ONE / rz[j]


@_kernel
def pass1(x, t, lab, haslab, n, b, SB, act, sq, bce, ign, part, keep, gk):
    """Sums (I, P, T, BCE) of every class over task (n, b) into part (C, 4);
    keep: p (before any ignore mask) into gk[n, :, block]."""
    C, S = x.shape[1], x.shape[2]
    if C == 0:
        return
    s0 = b * SB
    s1 = min(S, s0 + SB)
    L = s1 - s0
    # rows: C activations, then m / labels as floats, 1/sum, target, masked p, BCE terms
    buf = np.empty((C + 5, SB), x.dtype)
    m = buf[C]
    rz = buf[C + 1]
    lf = buf[C + 2]
    tb = buf[C + 3]
    pm = buf[C + 4]
    if act == ACT_SOFTMAX:
        softmax_exps(x, n, s0, s1, buf, m, rz)
    labels_of(lab, haslab, n, s0, s1, lf)
    bc = m     # the max row is free again: the BCE terms
    for c in range(C):
        tc = target_row(t, haslab, lf, n, c, s0, s1, tb)
        xc = x[n, c, s0:s1]
        pc = gk[n, c, s0:s1] if keep else buf[c, :L]
        sb = 0.0
        if act == ACT_SOFTMAX:
            ec = buf[c]
            if keep:
                for j in range(L):
                    pc[j] = ec[j] * rz[j]
            else:
                # in place on its own: pc is ec's memory here, and a loop
                # reading and writing one buffer under two names fails
                # LLVM's overlap check and runs scalar
                for j in range(L):
                    ec[j] *= rz[j]
        elif act == ACT_SIGMOID:
            if bce:
                sigmoid_bce_row(xc, tc, L, pc, bc)
                sb = vsum(bc, L)
            else:
                sigmoid_row(xc, L, pc)
        else:
            pc = xc
        if ign:
            # an ignored pixel (label < 0) leaves every sum (p -> 0, a NaN too)
            for j in range(L):
                pm[j] = pc[j] if lf[j] >= ZERO else ZERO
            pc = pm
        si, sp, st = sums3(pc, tc, L, sq)
        part[c, 0] = si
        part[c, 1] = sp
        part[c, 2] = st
        part[c, 3] = sb


@_kernel
def pass2(x, t, lab, haslab, n, b, SB, act, bce, ign, coef, grad):
    """Gradient of task (n, b); coef (C, 4) = A, B, G, K of sample n.  With
    an activation, grad holds p (pass 1) and is overwritten in place."""
    C, S = x.shape[1], x.shape[2]
    if C == 0:
        return
    s0 = b * SB
    s1 = min(S, s0 + SB)
    L = s1 - s0
    buf = np.empty((C + 3, SB), x.dtype)
    dot = buf[C]
    lf = buf[C + 1]
    tb = buf[C + 2]
    labels_of(lab, haslab, n, s0, s1, lf)
    if act == ACT_SOFTMAX:
        # h_c = A t + B + G p, dot = sum_c p_c h_c, g_c = p_c (h_c - dot)
        for j in range(L):
            dot[j] = ZERO
        for c in range(C):
            A, B, G = coef[c, 0], coef[c, 1], coef[c, 2]
            tc = target_row(t, haslab, lf, n, c, s0, s1, tb)
            pc = grad[n, c, s0:s1]
            hc = buf[c]
            for j in range(L):
                h = A * tc[j] + B + G * pc[j]
                hc[j] = h
                dot[j] += pc[j] * h
        for c in range(C):
            hc = buf[c]
            gc = grad[n, c, s0:s1]
            if ign:
                for j in range(L):
                    g = gc[j] * (hc[j] - dot[j])
                    gc[j] = g if lf[j] >= ZERO else ZERO
            else:
                for j in range(L):
                    gc[j] = gc[j] * (hc[j] - dot[j])
        return
    for c in range(C):
        A, B, G, K = coef[c, 0], coef[c, 1], coef[c, 2], coef[c, 3]
        tc = target_row(t, haslab, lf, n, c, s0, s1, tb)
        gc = grad[n, c, s0:s1]
        if act == ACT_SIGMOID:
            # p (1 - p) with 1 - p by subtraction, as the C kernel and the
            # NumPy reference: the class term (1 - num/den, the same
            # cancellation) is off by as much, and its derivative matches it
            # only so (focal Tversky at p = 1 - 1e-12 was 9e-5 off otherwise)
            if bce:
                for j in range(L):
                    p = gc[j]
                    gc[j] = (A * tc[j] + B + G * p) * (p * (ONE - p)) + K * (p - tc[j])
            else:
                for j in range(L):
                    p = gc[j]
                    gc[j] = (A * tc[j] + B + G * p) * (p * (ONE - p))
        else:
            xc = x[n, c, s0:s1]
            for j in range(L):
                gc[j] = A * tc[j] + B + G * xc[j]
        if ign:
            for j in range(L):
                gc[j] = gc[j] if lf[j] >= ZERO else ZERO


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
    # keep: pass 1 stores p in the gradient buffer, pass 2 reads it there
    if grad is None:
        keep_p = False
        gk = np.empty((0, 0, 0), x.dtype)
    else:
        keep_p = act != ACT_NONE
        gk = grad
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
            pass1(x, t, lab, haslab, n0 + i // nb, i % nb, SB, act, sq, bce, ign, part[i],
                  keep_p, gk)
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
