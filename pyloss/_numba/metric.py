"""Numba kernels of the metric-learning family (mirror of csrc/metric_impl.h).

Each kernel is one fused pass over an N x N matrix that NumPy's BLAS has
already filled (similarities ``z zᵀ`` or the Gram matrix ``x xᵀ``): one row
per iteration, ``_par`` versions over rows with ``prange``.  A row is
computed by one thread and writes only its own outputs, so results do not
depend on the thread count.  Row sums are accumulated in float64.  The
softmax rows compute their exponent as it (s - max s), which no FMA
contraction can touch: exactly 0 at the maximum (a row whose only entry is
its positive gives a loss of 0).
"""
import math

import numba
import numpy as np

from . import BLOCK, PARALLEL, vmax, vsum
from .vmath import ONE, TWO, ZERO, like, vexp


# ------------------------------------------------------------------ softmax rows

# The softmax row passes mirror csrc/metric_impl.h: arithmetic in the matrix
# dtype, the exponent it (s - max s) with it = (T) inv_t (exact near the
# maximum, so the log-sum-exp keeps full precision at any temperature, and
# exactly 0 at the maximum: a row whose only entry is its positive gives 0),
# the vectorisable exp of .vmath, rows as views indexed from 0, the excluded
# column left out of the max by splitting the row and zeroed before the sum,
# and the sums by the reassociating leaf vsum (in double).

_kernel = numba.njit(cache=True, error_model="numpy", fastmath={"contract"})


@_kernel
def _rowmax(s, ex):
    """The row maximum without column ex (ex < 0: none); 0 when it is not
    finite (as the reference: a row of -inf or inf gives nan/inf)."""
    m = like(s[0], -np.inf)
    if ex >= 0:
        m = vmax(s[ex + 1:], vmax(s[:ex], m))
    else:
        m = vmax(s, m)
    return m if m - m == 0 else like(m, 0.0)


@_kernel
def _exp_into(s, it, mr, e):
    """e_j = exp(it (s_j - mr)) (e another row)."""
    for j in range(s.size):
        e[j] = vexp(it * (s[j] - mr))


@_kernel
def _exp_inplace(s, it, mr):
    """s_j = exp(it (s_j - mr)) in place (a loop of its own: the same array
    as input and output fails LLVM's overlap check and runs scalar)."""
    for j in range(s.size):
        s[j] = vexp(it * (s[j] - mr))


@_kernel
def _row_expsum(s, it, mr, ex, want, buf):
    """sum_{j != ex} exp(it (s_j - mr)) in double; with want the exps replace
    the row (0 at ex), else they go to buf."""
    if want:
        _exp_inplace(s, it, mr)
        e = s
    else:
        _exp_into(s, it, mr, buf)
        e = buf
    if ex >= 0:
        e[ex] = ZERO
    return vsum(e, s.size)


@_kernel
def simrow(S, i, inv_t, pos_off, excl, rowloss, want, buf):
    """Softmax cross-entropy of row i of inv_t S against column
    (i + pos_off) % k, the diagonal left out when excl; with want, the row
    becomes d l_i / d S_i = inv_t (softmax - onehot)."""
    s = S[i]
    k = s.size
    p = (i + pos_off) % k
    ex = np.int64(i) if excl else np.int64(-1)     # i may be a prange's uint64
    it = like(s[0], inv_t)
    sp = np.float64(s[p])
    mr = _rowmax(s, ex)
    total = _row_expsum(s, it, mr, ex, want, buf)
    rowloss[i] = inv_t * (np.float64(mr) - sp) + math.log(total)
    if want:
        # the positive's weight it (p_p - 1) = -it (sum - e_p) / sum, with
        # sum - e_p in double: exact where p_p is close to 1
        rest = total - np.float64(s[p])
        f = like(it, np.float64(it) / total)
        for j in range(k):
            s[j] *= f
        s[p] = like(it, -inv_t * (rest / total))


@numba.njit(cache=True)
def simrows_ser(S, inv_t, pos_off, excl, rowloss, want):
    buf = np.empty(0 if want else S.shape[1], S.dtype)
    for i in range(S.shape[0]):
        simrow(S, i, inv_t, pos_off, excl, rowloss, want, buf)


@numba.njit(cache=True, parallel=PARALLEL)
def simrows_par(S, inv_t, pos_off, excl, rowloss, want):
    for i in numba.prange(S.shape[0]):
        buf = np.empty(0 if want else S.shape[1], S.dtype)
        simrow(S, i, inv_t, pos_off, excl, rowloss, want, buf)


@_kernel
def statrow(S, i, inv_t, pos_off, excl, rowloss, mr, f, q, buf):
    """simrow's loss of row i of a symmetric S, S unchanged, and the row's
    statistics for symgrad_row: its max mr, f = it / sum and q = 1 - p_pos
    = (sum - e_pos) / sum in double (see csrc/metric_impl.h, statrows)."""
    s = S[i]
    k = s.size
    p = (i + pos_off) % k
    ex = np.int64(i) if excl else np.int64(-1)     # i may be a prange's uint64
    it = like(s[0], inv_t)
    m = _rowmax(s, ex)
    total = _row_expsum(s, it, m, ex, False, buf)
    rowloss[i] = inv_t * (np.float64(m) - np.float64(s[p])) + math.log(total)
    mr[i] = m
    f[i] = np.float64(it) / total
    q[i] = (total - np.float64(vexp(it * (s[p] - m)))) / total


@numba.njit(cache=True)
def statrows_ser(S, inv_t, pos_off, excl, rowloss, mr, f, q):
    buf = np.empty(S.shape[1], S.dtype)
    for i in range(S.shape[0]):
        statrow(S, i, inv_t, pos_off, excl, rowloss, mr, f, q, buf)


@numba.njit(cache=True, parallel=PARALLEL)
def statrows_par(S, inv_t, pos_off, excl, rowloss, mr, f, q):
    for i in numba.prange(S.shape[0]):
        buf = np.empty(S.shape[1], S.dtype)
        statrow(S, i, inv_t, pos_off, excl, rowloss, mr, f, q, buf)


@_kernel
def symgrad_factors(mr, f, u, w, inv_t, bound):
    """The one-exp form's factors (csrc/metric_impl.h, statrows): while
    inv_t 2 bound is at most 64 in float32 (600 in float64), every factor
    stays a normal number; u_i = e^(it (mr_i - c)), w_j = f_j e^-(it (mr_j -
    c)), c the middle of the maxima.  Returns whether the form applies."""
    spread = 600.0 if mr.itemsize == 8 else 64.0
    if mr.shape[0] == 0 or not (bound > 0 and inv_t * 2.0 * bound <= spread):
        return False
    lo = mr[0]
    hi = mr[0]
    for i in range(1, mr.shape[0]):
        lo = mr[i] if mr[i] < lo else lo
        hi = mr[i] if mr[i] > hi else hi
    it = like(lo, inv_t)
    c = lo + (hi - lo) / TWO
    for i in range(mr.shape[0]):
        u[i] = vexp(it * (mr[i] - c))
        w[i] = f[i] * vexp(-it * (mr[i] - c))
    return True


@_kernel
def symgrad_row(S, i, inv_t, pos_off, excl, mr, f, q, u, w, one):
    """Row i of G = W + W^T over S in place (S symmetric): G_ij =
    e^(it (s_ij - mr_i)) f_i + e^(it (s_ij - mr_j)) f_j (one exp with u, w),
    0 on the excluded diagonal, -inv_t (q_i + q_p) at the positive p."""
    s = S[i]
    k = s.size
    p = (i + pos_off) % k
    it = like(s[0], inv_t)
    mi = mr[i]
    fi = f[i]
    if one:
        ui = u[i]
        for j in range(k):
            e = vexp(it * (s[j] - mi))
            s[j] = e * fi + (e * ui) * w[j]
    else:
        for j in range(k):
            v = s[j]
            s[j] = vexp(it * (v - mi)) * fi + vexp(it * (v - mr[j])) * f[j]
    if excl:
        s[i] = ZERO
    s[p] = like(it, -inv_t * (q[i] + q[p]))


@numba.njit(cache=True)
def symgrad_rows_ser(S, inv_t, pos_off, excl, mr, f, q, u, w, one):
    for i in range(S.shape[0]):
        symgrad_row(S, i, inv_t, pos_off, excl, mr, f, q, u, w, one)


@numba.njit(cache=True, parallel=PARALLEL)
def symgrad_rows_par(S, inv_t, pos_off, excl, mr, f, q, u, w, one):
    for i in numba.prange(S.shape[0]):
        symgrad_row(S, i, inv_t, pos_off, excl, mr, f, q, u, w, one)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _label_sum(s, labels, yi):
    """(count, sum in double) of the s_j with labels_j == yi (a leaf)."""
    c = 0
    t = 0.0
    for j in range(s.size):
        hit = labels[j] == yi
        c += 1 if hit else 0
        t += np.float64(s[j]) if hit else 0.0
    return c, t


@_kernel
def supcon_row(S, i, labels, inv_t, rowloss, want, buf):
    """SupCon row i (csrc/metric_impl.h mx_suprow): positives j != i with
    labels_j == labels_i, loss inv_t (max - mean positive s) + log sum_{j != i}
    exp(it (s_j - max)); with want the row becomes its gradient."""
    s = S[i]
    n = s.size
    yi = labels[i]
    c0, t0 = _label_sum(s[:i], labels[:i], yi)
    c1, t1 = _label_sum(s[i + 1:], labels[i + 1:], yi)
    npos = c0 + c1
    spos = t0 + t1
    if npos == 0:
        rowloss[i] = 0.0
        if want:
            for j in range(n):
                s[j] = ZERO
        return
    it = like(s[0], inv_t)
    ex = np.int64(i)                # i may be a prange's uint64
    mr = _rowmax(s, ex)
    total = _row_expsum(s, it, mr, ex, want, buf)
    rowloss[i] = inv_t * (np.float64(mr) - spos / npos) + math.log(total)
    if want:
        f = like(it, np.float64(it) / total)
        fp = like(it, np.float64(it) / npos)
        for j in range(n):
            s[j] = s[j] * f - (fp if labels[j] == yi else ZERO)
        s[i] = ZERO


@numba.njit(cache=True)
def supcon_rows_ser(S, labels, inv_t, rowloss, want):
    buf = np.empty(0 if want else S.shape[1], S.dtype)
    for i in range(S.shape[0]):
        supcon_row(S, i, labels, inv_t, rowloss, want, buf)


@numba.njit(cache=True, parallel=PARALLEL)
def supcon_rows_par(S, labels, inv_t, rowloss, want):
    for i in numba.prange(S.shape[0]):
        buf = np.empty(0 if want else S.shape[1], S.dtype)
        supcon_row(S, i, labels, inv_t, rowloss, want, buf)


# ------------------------------------------------------------------ distances

@_kernel
def _dist_row(g, sqn, i, squared, d):
    """d_ij of anchor i from its Gram row g into d, in the matrix dtype as
    mx_dist in C (sqn_i + sqn_j - 2 g_j, clamped at 0, its root unless
    squared), 0 at j = i: a straight loop that vectorises."""
    si = sqn[i]
    if squared:
        for j in range(g.size):
            d2 = si + sqn[j] - TWO * g[j]
            d[j] = d2 if d2 > ZERO else ZERO
    else:
        for j in range(g.size):
            d2 = si + sqn[j] - TWO * g[j]
            d[j] = np.sqrt(d2 if d2 > ZERO else ZERO)
    d[i] = ZERO


@numba.njit(cache=True)
def hard_row(G, sqn, labels, squared, ap, an, i, d):
    """Batch-hard mining of anchor i: the farthest positive and the nearest
    negative (strict comparisons: ties keep the first index); -1 for both
    when either is missing.  d: a row of scratch in the matrix dtype."""
    n = G.shape[0]
    yi = labels[i]
    _dist_row(G[i], sqn, i, squared, d)
    # the extreme values first, by selects (no branch per entry: a branchy
    # argmax/argmin ran at 4 ns an entry), then the first index holding
    # each: the same as strict comparisons keeping the first index.  d >= 0
    # and never NaN, and d_i = 0 cannot raise the positives' max.
    dp = -ONE
    dn = like(dp, np.inf)
    for j in range(n):
        pos = labels[j] == yi
        dj = d[j]
        dp = dj if pos and dj > dp else dp
        dn = dj if (not pos) and dj < dn else dn
    bp = -1
    for j in range(n):
        if j != i and labels[j] == yi and d[j] == dp:
            bp = j
            break
    bn = -1
    for j in range(n):
        if labels[j] != yi and d[j] == dn:
            bn = j
            break
    if bp < 0 or bn < 0:
        bp = -1
        bn = -1
    ap[i] = bp
    an[i] = bn


@numba.njit(cache=True)
def hard_mine_ser(G, sqn, labels, squared, ap, an):
    d = np.empty(G.shape[0], G.dtype)
    for i in range(G.shape[0]):
        hard_row(G, sqn, labels, squared, ap, an, i, d)


@numba.njit(cache=True, parallel=PARALLEL)
def hard_mine_par(G, sqn, labels, squared, ap, an):
    for i in numba.prange(G.shape[0]):
        d = np.empty(G.shape[0], G.dtype)
        hard_row(G, sqn, labels, squared, ap, an, i, d)


@numba.njit(cache=True)
def all_row(G, sqn, labels, margin, squared, rowloss, rowcount, want, i, buf):
    """Every valid triplet of anchor i: with t_p = d_ip + margin sorted and the
    negative distances b sorted, positive p has cnt_p = #{b < t_p} active
    hinges and negative n is in #{t > b_n} of them; the row's hinge sum is
    sum_p (cnt_p t_p - prefix_b(cnt_p)).  With want, the row becomes
    d loss / d(d²_ij).  buf: 4 n + 1 doubles of scratch (d, t, b, prefix),
    sorted in place (mirror of csrc/metric_impl.h mx_allrow)."""
    g = G[i]
    n = g.size
    yi = labels[i]
    d = buf[:n]
    npos = 0
    nneg = 0
    _dist_row(g, sqn, i, squared, d)
    t = buf[n:2 * n]
    b = buf[2 * n:3 * n]
    for j in range(n):
        if j == i:
            continue
        if labels[j] == yi:
            t[npos] = d[j] + margin
            npos += 1
        else:
            b[nneg] = d[j]
            nneg += 1
    if npos == 0 or nneg == 0:
        rowloss[i] = 0.0
        rowcount[i] = 0.0
        if want:
            for j in range(n):
                g[j] = 0.0
        return
    ts = t[:npos]
    bs = b[:nneg]
    ts.sort()
    bs.sort()
    pre = buf[3 * n:4 * n + 1]
    pre[0] = 0.0
    for k in range(nneg):
        pre[k + 1] = pre[k] + bs[k]
    total = 0.0
    cnt = 0.0
    for k in range(npos):
        c = np.searchsorted(bs, ts[k], side="left")
        total += c * ts[k] - pre[c]
        cnt += c
    rowloss[i] = total
    rowcount[i] = cnt
    if want:
        for j in range(n):
            if j == i:
                g[j] = 0.0
                continue
            if labels[j] == yi:
                coef = np.float64(np.searchsorted(bs, d[j] + margin, side="left"))
            else:
                coef = -np.float64(npos - np.searchsorted(ts, d[j], side="right"))
            if squared:
                g[j] = coef
            else:
                g[j] = coef / (2.0 * d[j]) if d[j] > 0 else 0.0


@numba.njit(cache=True)
def batch_all_rows_ser(G, sqn, labels, margin, squared, rowloss, rowcount, want):
    buf = np.empty(4 * G.shape[0] + 1)
    for i in range(G.shape[0]):
        all_row(G, sqn, labels, margin, squared, rowloss, rowcount, want, i, buf)


@numba.njit(cache=True, parallel=PARALLEL)
def batch_all_rows_par(G, sqn, labels, margin, squared, rowloss, rowcount, want):
    for i in numba.prange(G.shape[0]):
        buf = np.empty(4 * G.shape[0] + 1)
        all_row(G, sqn, labels, margin, squared, rowloss, rowcount, want, i, buf)


_TILE = 64


@numba.njit(cache=True)
def sym_tilerow(W, a0):
    """W <- W + Wᵀ on tile row a0: tile (a, b), b >= a, is copied row by row
    into a small buffer; each row of its mirror (b, a), contiguous in W, is
    updated in place and the sums go back through the buffer, written back
    row by row (a column walk straight through W steps a whole row per
    access: every row of a tile lands in one cache set).  Every entry is one
    addition of the same two numbers, so the result does not depend on the
    thread count (mirror of csrc/metric_impl.h)."""
    n = W.shape[0]
    A = np.empty((_TILE, _TILE), W.dtype)
    ha = min(_TILE, n - a0)
    for b0 in range(a0, n, _TILE):
        hb = min(_TILE, n - b0)
        for i in range(ha):
            for j in range(hb):
                A[i, j] = W[a0 + i, b0 + j]
        if b0 == a0:
            for i in range(ha):
                A[i, i] = A[i, i] + A[i, i]
                for j in range(i + 1, hb):
                    v = A[i, j] + A[j, i]
                    A[i, j] = v
                    A[j, i] = v
        else:
            for j in range(hb):
                for i in range(ha):
                    v = A[i, j] + W[b0 + j, a0 + i]
                    W[b0 + j, a0 + i] = v
                    A[i, j] = v
        for i in range(ha):
            for j in range(hb):
                W[a0 + i, b0 + j] = A[i, j]


@numba.njit(cache=True)
def symmetrize_ser(W):
    for t in range((W.shape[0] + _TILE - 1) // _TILE):
        sym_tilerow(W, t * _TILE)


@numba.njit(cache=True, parallel=PARALLEL)
def symmetrize_par(W):
    nt = (W.shape[0] + _TILE - 1) // _TILE
    for t in numba.prange((nt + 1) // 2):      # tile rows t and nt-1-t: equal work
        sym_tilerow(W, t * _TILE)
        if nt - 1 - t != t:
            sym_tilerow(W, (nt - 1 - t) * _TILE)


@numba.njit(cache=True, error_model="numpy")
def margin_rank_block(x1, x2, y, m, rowloss, g1, g2, want, b):
    """PyTorch's margin_ranking_loss over block b of BLOCK elements (mirror
    of csrc/metric_impl.h mx_rank_block): h = -y (x1 - x2) + margin in the
    compute dtype, l = max(h, 0) with NaN kept, g1 = -y where h > 0 else 0,
    g2 = -g1.  Views indexed from 0 and constants of the input's type, so
    the loops vectorise."""
    s = b * BLOCK
    e = min(x1.shape[0], s + BLOCK)
    a = x1[s:e]
    c = x2[s:e]
    yv = y[s:e]
    rl = rowloss[s:e]
    for i in range(e - s):
        h = -yv[i] * (a[i] - c[i]) + m
        rl[i] = h if h > ZERO else (ZERO if h == h else h)
    if want:
        ga = g1[s:e]
        gb = g2[s:e]
        for i in range(e - s):
            h = -yv[i] * (a[i] - c[i]) + m
            g = -yv[i] if h > ZERO else ZERO
            ga[i] = g
            gb[i] = -g


@numba.njit(cache=True)
def margin_rank_ser(x1, x2, y, m, rowloss, g1, g2, want):
    for b in range((x1.shape[0] + BLOCK - 1) // BLOCK):
        margin_rank_block(x1, x2, y, m, rowloss, g1, g2, want, b)


@numba.njit(cache=True, parallel=PARALLEL)
def margin_rank_par(x1, x2, y, m, rowloss, g1, g2, want):
    for b in numba.prange((x1.shape[0] + BLOCK - 1) // BLOCK):
        margin_rank_block(x1, x2, y, m, rowloss, g1, g2, want, b)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _dot3(a, b):
    """(a.b, a.a, b.b) of two rows in double, reassociated (lanes of partial
    sums, as mx_cosrow's PL_LANES in C) so that it vectorises: a leaf."""
    ab = 0.0
    na = 0.0
    nb = 0.0
    for j in range(a.size):
        u = np.float64(a[j])
        v = np.float64(b[j])
        ab += u * v
        na += u * u
        nb += v * v
    return ab, na, nb


@numba.njit(cache=True)
def cosine_row(x1, x2, y, margin, rowloss, g1, g2, coef, want, i):
    """One row of PyTorch's cosine_embedding_loss, sums in float64
    (mirror of csrc/metric_impl.h mx_cosrow); coef (n, 3) of the compute
    dtype rounds the row's three gradient coefficients to it, as C does."""
    a = x1[i]           # rows as views indexed from 0, so the loops vectorise
    b = x2[i]
    ab, na, nb = _dot3(a, b)
    na += 1e-12
    nb += 1e-12
    den = math.sqrt(na * nb)
    cs = ab / den
    pos = y[i] > 0
    h = cs - margin
    if pos:
        rowloss[i] = 1.0 - cs
    else:
        rowloss[i] = h if h > 0 else (0.0 if h == h else h)
    if want:
        dc = -1.0 if pos else (1.0 if h > 0 else 0.0)
        coef[i, 0] = dc / den
        coef[i, 1] = dc * cs / na
        coef[i, 2] = dc * cs / nb
        s = coef[i, 0]
        ca = coef[i, 1]
        cb = coef[i, 2]
        ga = g1[i]
        gb = g2[i]
        for j in range(a.size):
            u = a[j]
            v = b[j]
            ga[j] = s * v - ca * u
            gb[j] = s * u - cb * v


@numba.njit(cache=True)
def cosine_rows_ser(x1, x2, y, margin, rowloss, g1, g2, coef, want):
    for i in range(x1.shape[0]):
        cosine_row(x1, x2, y, margin, rowloss, g1, g2, coef, want, i)


@numba.njit(cache=True, parallel=PARALLEL)
def cosine_rows_par(x1, x2, y, margin, rowloss, g1, g2, coef, want):
    for i in numba.prange(x1.shape[0]):
        cosine_row(x1, x2, y, margin, rowloss, g1, g2, coef, want, i)
