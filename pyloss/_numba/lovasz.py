"""Numba kernels of lovasz_softmax, mirroring csrc/lovasz.c and lovasz_impl.h
(the same stable LSD radix sort on error bit patterns, the same scan)."""
import numba
import numpy as np

from . import instantiate
from .segmentation import softmax_exps  # noqa: F401 (used by the template)

BITS = 11
RADIX = 1 << BITS


@numba.njit(cache=True)
def radix(key, tmp, idx, tidx, lo, hi):
    """Stable LSD radix sort of key ascending by bits [lo, hi), idx carried
    along (unless it is empty); returns (keys, idx) sorted (which buffers
    hold them varies)."""
    n = key.size
    carry = idx.size != 0
    cnt = np.zeros(RADIX, np.int64)
    mask = np.uint64(RADIX - 1)
    for sh in range(lo, hi, BITS):
        s = np.uint64(sh)
        cnt[:] = 0
        for i in range(n):
            cnt[(key[i] >> s) & mask] += 1
        if n == 0 or cnt[(key[0] >> s) & mask] == n:
            continue
        total = 0
        for r in range(RADIX):
            c = cnt[r]
            cnt[r] = total
            total += c
        if carry:
            for i in range(n):
                d = cnt[(key[i] >> s) & mask]
                cnt[(key[i] >> s) & mask] = d + 1
                tmp[d] = key[i]
                tidx[d] = idx[i]
        else:
            for i in range(n):
                d = cnt[(key[i] >> s) & mask]
                cnt[(key[i] >> s) & mask] = d + 1
                tmp[d] = key[i]
        key, tmp = tmp, key
        idx, tidx = tidx, idx
    return key, idx


@numba.njit(cache=True)
def task(pc, lb, cls, all_classes, gc, want_grad, key, tmp, idx, tidx):
    """One (group, class): (class loss, counted)."""
    P = pc.size
    G = 0
    for i in range(P):
        if lb[i] == cls:
            G += 1
    counted = all_classes or G > 0
    if not counted or P == 0:
        if want_grad:
            gc[:] = 0
        return 0.0, counted
    one = pc.dtype.type(1.0)
    zero = pc.dtype.type(0.0)
    e = np.empty(P, pc.dtype)
    for i in range(P):
        fg = one if lb[i] == cls else zero
        e[i] = abs(fg - pc[i])
    wide = pc.itemsize == 8
    if wide:
        bits = e.view(np.uint64)
        for i in range(P):
            key[i] = ~bits[i]
            idx[i] = i
        k_sorted, order = radix(key[:P], tmp[:P], idx[:P], tidx[:P], 0, 64)
    else:
        # float32: the index rides in the key's low half (as the C kernel),
        # so the sort moves one array of 64-bit words, not two
        bits32 = e.view(np.uint32)
        for i in range(P):
            key[i] = (np.uint64(~bits32[i]) << np.uint64(32)) | np.uint64(i)
        k_sorted, order = radix(key[:P], tmp[:P], idx[:0], tidx[:0], 32, 64)
        for k in range(P):
            idx[k] = np.int64(k_sorted[k] & np.uint64(0xFFFFFFFF))
        order = idx[:P]
    Gd = float(G)
    a = 0.0
    b = 0.0
    jprev = 0.0
    acc = 0.0
    for k in range(P):
        i = order[k]
        isfg = lb[i] == cls
        p = pc[i]
        fg = one if isfg else zero
        if isfg:
            a += 1.0
        else:
            b += 1.0
        j = 1.0 - (Gd - a) / (Gd + b)
        g = j - jprev
        jprev = j
        acc += float(e[i]) * g
        if want_grad:
            if p > fg:
                gc[i] = g
            elif p < fg:
                gc[i] = -g
            elif p == fg:
                gc[i] = 0.0
            else:
                gc[i] = p
    return acc, counted


# Serial and parallel twins (prange is range in the serial one), compiled
# from one source with this file's name so that Numba's cache finds them.
_TEMPLATE = '''
def lovasz_{name}(x, labels, has_ignore, ignore_index, softmax, per_image, all_classes, scale,
                   loss, grad, want_grad):
    """x (N, C, S), labels (N, S); returns the sum of the group losses, fills
    loss (groups,) and grad (N, C, S) as csrc/lovasz_impl.h does."""
    N, C, S = x.shape
    off = np.zeros(N + 1, np.int64)
    for im in range(N):
        v = S
        if has_ignore:
            v = 0
            for j in range(S):
                if labels[im, j] != ignore_index:
                    v += 1
        off[im + 1] = off[im] + v
    P = off[N]
    ng = N if per_image else 1
    ntask = ng * C
    pb = np.empty((C, P), x.dtype)
    gb = np.empty((C, P if want_grad else 0), x.dtype)
    lb = np.empty(P, np.int64)
    for im in numba.prange(N):
        k = off[im]
        if softmax and not has_ignore and C > 0:
            # no pixel left out: the image's softmax row by row over its
            # positions (vectorised, as the region engine), straight into pb
            e = np.empty((C + 2, S), x.dtype)
            softmax_exps(x, im, 0, S, e, e[C], e[C + 1])
            rz = e[C + 1]
            for q in range(C):
                eq = e[q]
                pq = pb[q, k:k + S]
                for j in range(S):
                    pq[j] = eq[j] * rz[j]
            lv = lb[k:k + S]
            li = labels[im]
            for j in range(S):
                lv[j] = li[j]
            continue
        for j in range(S):
            if has_ignore and labels[im, j] == ignore_index:
                continue
            lb[k] = labels[im, j]
            if softmax:
                m = x[im, 0, j]
                for q in range(1, C):
                    if x[im, q, j] > m:
                        m = x[im, q, j]
                z = x.dtype.type(0.0)
                for q in range(C):
                    e = np.exp(x[im, q, j] - m)
                    pb[q, k] = e
                    z += e
                rz = x.dtype.type(1.0) / z
                for q in range(C):
                    pb[q, k] *= rz
            else:
                for q in range(C):
                    pb[q, k] = x[im, q, j]
            k += 1
    maxp = 0
    for gi in range(ng):
        pg = off[gi + 1] - off[gi] if per_image else P
        if pg > maxp:
            maxp = pg
    tl = np.zeros(ntask)
    tc = np.zeros(ntask, np.int64)
    for t in numba.prange(ntask):
        gi = t // C
        cls = t % C
        o = off[gi] if per_image else 0
        pg = off[gi + 1] - off[gi] if per_image else P
        key = np.empty(pg, np.uint64)
        tmp = np.empty(pg, np.uint64)
        idx = np.empty(pg, np.int64)
        tidx = np.empty(pg, np.int64)
        gc = gb[cls, o:o + pg] if want_grad else gb[cls, 0:0]
        lt, ct = task(pb[cls, o:o + pg], lb[o:o + pg], cls, all_classes, gc, want_grad,
                      key, tmp, idx, tidx)
        tl[t] = lt
        tc[t] = 1 if ct else 0
    total = 0.0
    fac = np.zeros(ng)
    for gi in range(ng):
        s = 0.0
        k = 0
        for q in range(C):
            s += tl[gi * C + q]
            k += tc[gi * C + q]
        lg = s / k if k else 0.0
        fac[gi] = scale / k if k else 0.0
        if loss.size:
            loss[gi] = lg
        total += lg
    fimg = np.empty(N, x.dtype)
    for im in range(N):
        fimg[im] = fac[im] if per_image else fac[0]
    if want_grad:
        for im in numba.prange(N):
            f = fimg[im]
            k = off[im]
            for j in range(S):
                if has_ignore and labels[im, j] == ignore_index:
                    for q in range(C):
                        grad[im, q, j] = 0
                    continue
                if softmax:
                    dot = x.dtype.type(0.0)
                    for q in range(C):
                        dot += pb[q, k] * gb[q, k]
                    for q in range(C):
                        grad[im, q, j] = f * (pb[q, k] * (gb[q, k] - dot))
                else:
                    for q in range(C):
                        grad[im, q, j] = f * gb[q, k]
                k += 1
    return total
'''

_made = instantiate(_TEMPLATE, ("ser", "par"), globals(), __file__)
