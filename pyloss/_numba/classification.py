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

from . import (BLOCK, PARALLEL, empty_input, instantiate_elementwise, instantiate_split,  # noqa: F401
               no_output, point, pairwise, pick, vmax, vsum)
from .vmath import ONE, TWO, ZERO, like, vexp, vexp_nonpos, vlog, vlog1p_unit

MODE_CLASS, MODE_PROB, MODE_FOCAL = 0, 1, 2


# ------------------------------------------------------------------ elementwise

@point
def _sig_pair(x):
    # (sigmoid(x), sigmoid(-x), log1p(e)) from e = exp(-|x|) and one division
    e = vexp(-abs(x))
    big = ONE / (ONE + e)
    small = e * big
    lp = vlog1p_unit(e, big)
    if x != x:
        return x, x, x
    if x >= 0:
        return big, small, lp
    return small, big, lp


@point
def binary_cross_entropy_point(p, t, a, p0, p1):
    # log p and log(1 - p) clamped at -100, as PyTorch (and the C kernel)
    if p != p:
        return p, p, p
    c = -like(p, 100.0)
    lp = max(vlog(p), c)
    l1p = max(vlog(ONE - p), c)
    d = max(p * (ONE - p), like(p, 1e-12))
    pt = p - t
    return -(t * lp + (ONE - t) * l1p), pt / d, (pt * pt + t * (ONE - t)) / (d * d)


@point
def bce_hard_point(p, t, a, p0, p1):
    # binary_cross_entropy on a hard label t = 0 or 1: the one log that t
    # selects, the bits of the two-log form (see csrc/binary_impl.h)
    if p != p:
        return p, p, p
    c = -like(p, 100.0)
    lq = max(vlog(p if t != ZERO else ONE - p), c)
    d = max(p * (ONE - p), like(p, 1e-12))
    pt = p - t
    return -lq, pt / d, (pt * pt + t * (ONE - t)) / (d * d)


@numba.njit(cache=True, error_model="numpy")
def bce_hard_targets(t, s, e):
    """Whether the targets of block [s, e) are all 0 or 1 (-0 counts as 0,
    a NaN does not)."""
    tv = t[s:e]
    ok = True
    for i in range(tv.size):
        ok &= (tv[i] == ZERO) | (tv[i] == ONE)
    return ok


@point
def binary_cross_entropy_with_logits_point(x, t, a, has_pw, p1):
    lw = (ONE - t) + a * t if has_pw != 0 else ONE
    p, pm, lp = _sig_pair(x)
    # relu(-x) joins (1 - t) x first: exact cancellation for t = 0 (see C)
    l = ((ONE - t) * x + lw * (-x if x < 0 else ZERO)) + lw * lp
    pw = a if has_pw != 0 else ONE
    return l, (ONE - t) * p - pw * t * pm, lw * p * pm


@point
def _focal_q(x, t):
    # p, 1 - p, the BCE term ce and q = 1 - p_t
    p, pm, lp = _sig_pair(x)
    ce = ((ONE - t) * x + (-x if x < 0 else ZERO)) + lp
    return p, pm, ce, p * (ONE - t) + pm * t


@point
def _focal_finish(p, pm, ce, q, F, t, alpha, gamma):
    # q^(gamma-1) q' = q^gamma v (1 - 2t), v = p(1-p)/q: finite for gamma < 1
    s = p * pm
    v = s / q if q > 0 else ONE
    if q != q:
        F = q
    at = ONE if alpha < 0 else alpha * t + (ONE - alpha) * (ONE - t)
    ptm = p * (ONE - t) - pm * t
    u = ONE - TWO * t
    gv = gamma * v * u
    l = at * ce * F
    g = at * F * (ptm + ce * gv)
    h = at * F * (s + TWO * ptm * gv + ce * ((gamma - ONE) * gv * v * u + gv * (ONE - TWO * p)))
    return l, g, h


@point
def sigmoid_focal_g2_point(x, t, aux, alpha, gamma):
    # gamma == 2 (the default): F = q^2, a multiply
    p, pm, ce, q = _focal_q(x, t)
    return _focal_finish(p, pm, ce, q, q * q, t, alpha, gamma)


@point
def sigmoid_focal_gen_point(x, t, aux, alpha, gamma):
    # any other gamma: F = exp(gamma log q) (q = 0: log -inf, exp 0), 1 at gamma 0
    p, pm, ce, q = _focal_q(x, t)
    F = ONE if gamma == 0.0 else vexp(gamma * vlog(q))
    return _focal_finish(p, pm, ce, q, F, t, alpha, gamma)


instantiate_elementwise(("binary_cross_entropy", "bce_hard", "binary_cross_entropy_with_logits",
                         "sigmoid_focal_g2", "sigmoid_focal_gen"), globals(), __file__)
# binary_cross_entropy's blocks of hard labels take one log (C: PL_EW_KERNEL_SPLIT)
instantiate_split("binary_cross_entropy", "bce_hard", "bce_hard_targets", globals(), __file__)


# sigmoid_focal picks its body by gamma (p1), as the C kernel does: a select
# between q^2 and exp(gamma log q) inside the loop would pay for both.
def sigmoid_focal_ser(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want):
    fn = sigmoid_focal_g2_ser if p1 == 2 else sigmoid_focal_gen_ser
    return fn(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want)


def sigmoid_focal_par(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want):
    fn = sigmoid_focal_g2_par if p1 == 2 else sigmoid_focal_gen_par
    return fn(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want)


# ------------------------------------------------------------------ softmax rows

# Leaves of the row engine.  A reduction vectorises only when it may be
# reassociated; Numba compiles a callee with its caller's fast-math flags
# (numba issue #7168), so those flags sit on these leaves, which call nothing.
@numba.njit(cache=True)
def _row_max(zr):
    # the first entry starts it, not -inf: a float64 -inf made the max, and
    # with it every z - m and exp of a float32 row, float64 (2x slower); a
    # NaN logit makes the row's loss and gradient NaN through z - m whatever
    # the max then is
    return vmax(zr, zr[0])


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _row_dot(zr, w, m):
    """sum_k w_k (z_k - m) (w None: weights 1), in double."""
    s = 0.0
    for k in range(zr.size):
        dz = np.float64(zr[k] - m)
        s += dz if w is None else np.float64(w[k]) * dz
    return s


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _row_prob(zr, tr, w, m):
    """(sum_k q_k (z_k - m), sum_k q_k), q_k = w_k t_k, in double."""
    a = 0.0
    q = 0.0
    for k in range(zr.size):
        qk = np.float64(tr[k]) if w is None else np.float64(w[k]) * np.float64(tr[k])
        a += qk * np.float64(zr[k] - m)
        q += qk
    return a, q


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _row_exp(zr, m, er):
    """er_k = exp(z_k - m), vectorised (z_k - m <= 0)."""
    for k in range(zr.size):
        er[k] = vexp_nonpos(zr[k] - m)


@numba.njit(cache=True, error_model="numpy")
def _smx_row(zr, tr, gr, er, yy, w, W, eps, scale, mode, alpha, alpha0, gamma, hm):
    """Loss of one row (views: logits zr, targets tr, gradient gr or None,
    scratch er); writes the row's gradient (or Hessian with hm) into gr."""
    c = zr.size
    m = _row_max(zr)
    e = er                                  # contiguous scratch whatever the layout: the
    _row_exp(zr, m, e)                      # sums do not depend on it (value == value_and_grad)
    if mode == MODE_FOCAL:
        ey = e[yy]
        e[yy] = 0.0
        rest = vsum(e, c)                   # sum over k != y, without cancellation
        e[yy] = ey
        S = rest + np.float64(ey)
    else:
        rest = 0.0
        S = vsum(e, c)
    Aw = _row_dot(zr, w, m) if eps > 0 else 0.0
    logS = math.log(S)
    a = 0.0
    bw = 0.0
    bt = 0.0
    if mode == MODE_PROB:
        At, Qt = _row_prob(zr, tr, w, m)
        bw = eps / c
        bt = 1.0 - eps
        smass = bt * Qt + bw * W
        l = bt * (Qt * logS - At)
        if eps > 0:
            l += bw * (W * logS - Aw)
    elif mode == MODE_CLASS:
        zym = np.float64(zr[yy] - m)
        wy = 1.0 if w is None else np.float64(w[yy])
        a = (1.0 - eps) * wy
        bw = eps / c
        smass = a + bw * W
        l = a * (logS - zym)
        if eps > 0:
            l += bw * (W * logS - Aw)
    else:
        zym = np.float64(zr[yy] - m)
        at = alpha0 if alpha is None else np.float64(alpha[yy])
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
    if gr is not None:
        _row_grad(gr, e, tr, w, 1.0 / S, smass, a, bw, bt, yy, scale, mode, hm)
    return l


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _row_grad(gr, er, tr, w, invS, smass, a, bw, bt, yy, scale, mode, hm):
    """The row's gradient scale (smass p - q) into gr (or with hm the diagonal
    Hessian scale smass p (1 - p)), p = e invS, er the row's exps."""
    t = gr.dtype.type
    invS_, smass_, bw_, bt_, scale_ = t(invS), t(smass), t(bw), t(bt), t(scale)
    if hm:
        for k in range(gr.size):
            p = er[k] * invS_
            gr[k] = scale_ * smass_ * p * (t(1.0) - p)
        return
    # a loop per mode: LLVM does not unswitch a loop on a run-time mode
    if mode == MODE_PROB:
        for k in range(gr.size):
            p = er[k] * invS_
            wk = t(1.0) if w is None else w[k]
            gr[k] = scale_ * ((smass_ * p - bw_ * wk) - bt_ * wk * tr[k])
        return
    for k in range(gr.size):
        p = er[k] * invS_
        wk = t(1.0) if w is None else w[k]
        gr[k] = scale_ * (smass_ * p - bw_ * wk)
    wy = t(1.0) if w is None else w[yy]     # the target class: q_y has a as well
    gr[yy] = scale_ * ((smass_ * (er[yy] * invS_) - bw_ * wy) - t(a))


@numba.njit(cache=True)
def smx_rows(z, y, tp, w, W, eps, ignore, scale, mode, alpha, alpha0, gamma,
             loss, g, hm, c, d, r0, r1):
    """Rows [r0, r1) of the (n, c, d) logits (row = one sample position,
    class stride d); returns the sum of their losses.  Each row runs on views
    indexed from 0 (contiguous for d == 1), so its loops vectorise."""
    acc = 0.0
    er = np.empty(c, z.dtype)               # the exps when there is no gradient row
    keep = loss.size != 0                   # per-row losses wanted (empty: no)
    for r in range(r0, r1):
        nn = r // d
        base = nn * c * d + (r - nn * d)
        yy = -1
        if mode != MODE_PROB:
            yy = y[r]
            if yy == ignore or yy < 0 or yy >= c:
                if keep:
                    loss[r] = 0.0
                if g is not None:
                    for k in range(c):
                        g[base + k * d] = 0.0
                continue
        tr = tp[base:base + (c - 1) * d + 1:d] if mode == MODE_PROB else tp
        if d == 1:
            zr = z[base:base + c]
            if g is not None:
                l = _smx_row(zr, tr, g[base:base + c], er, yy, w, W, eps, scale, mode,
                             alpha, alpha0, gamma, hm)
            else:
                l = _smx_row(zr, tr, None, er, yy, w, W, eps, scale, mode,
                             alpha, alpha0, gamma, hm)
        else:
            zr = z[base:base + (c - 1) * d + 1:d]
            if g is not None:
                l = _smx_row(zr, tr, g[base:base + (c - 1) * d + 1:d], er, yy, w, W, eps,
                             scale, mode, alpha, alpha0, gamma, hm)
            else:
                l = _smx_row(zr, tr, None, er, yy, w, W, eps, scale, mode,
                             alpha, alpha0, gamma, hm)
        if keep:
            loss[r] = l
        acc += l
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
    """Run the row engine; arrays are C-contiguous, outputs may be None (an
    absent `loss` goes in as an empty array: one specialisation for the value
    with and without per-row losses)."""
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
    # (read-only, as the bound inputs are: one type whichever is absent)
    y = empty_input(0, np.int64) if y is None else y.reshape(-1)
    tp = empty_input(0, z.dtype) if tp is None else tp.reshape(-1)
    return fn(rav(z), y, tp, w, W, float(eps), int(ignore), float(scale), mode,
              alpha, float(alpha0), float(gamma),
              no_output(z.dtype) if loss is None else loss.reshape(-1), rav(g), bool(hm), c, d, rows, per)
