"""NumPy reference of the metric-learning family (SPEC 6.3), in float64.

Written as the formulas read, independently of the fused kernels: distances
from explicit differences (row by row, never an N x N x D array), softmax
rows from a plain log-sum-exp.  Each function returns
``(per_sample_losses, count, grads)`` where ``count`` is the ``mean``
denominator and ``grads`` are the gradients of the *sum* of the per-sample
losses, one per embedding input in argument order.
"""
import numpy as np

EPS_NORM = 1e-12


def normalize(x):
    """``x / max(‖x‖₂, 1e-12)`` per row, and what its backward needs."""
    n = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    d = np.maximum(n, EPS_NORM)
    return x / d, (n, d)


def normalize_back(gz, z, saved):
    """Gradient through ``normalize`` (PyTorch ``F.normalize``: the clamped
    norm passes no gradient, so a row at the floor gets ``gz / 1e-12``)."""
    n, d = saved
    dot = np.sum(z * gz, axis=-1, keepdims=True)
    return np.where(n > EPS_NORM, (gz - z * dot) / d, gz / d)


def _lse_rows(s):
    m = np.max(s, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (m + np.log(np.sum(np.exp(s - m), axis=1, keepdims=True)))[:, 0]


def info_nce(query, key, temperature=0.1, normalize_=True, symmetric=False):
    q, k = np.asarray(query, np.float64), np.asarray(key, np.float64)
    n = q.shape[0]
    if normalize_:
        zq, sq = normalize(q)
        zk, sk = normalize(k)
    else:
        zq, zk = q, k
    s = (zq @ zk.T) / temperature
    idx = np.arange(n)
    lse = _lse_rows(s)
    l = lse - s[idx, idx]
    w = np.exp(s - lse[:, None])
    w[idx, idx] -= 1.0
    if symmetric:
        lse_c = _lse_rows(s.T)
        l = 0.5 * (l + (lse_c - s[idx, idx]))
        wc = np.exp(s - lse_c[None, :])
        wc[idx, idx] -= 1.0
        w = 0.5 * (w + wc)
    w /= temperature
    gq, gk = w @ zk, w.T @ zq
    if normalize_:
        gq, gk = normalize_back(gq, zq, sq), normalize_back(gk, zk, sk)
    return l, n, (gq, gk)


def nt_xent(z1, z2, temperature=0.5):
    a, b = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
    n = a.shape[0]
    z, sz = normalize(np.concatenate([a, b], axis=0))
    s = (z @ z.T) / temperature
    m = 2 * n
    idx = np.arange(m)
    pos = (idx + n) % m if m else idx
    s[idx, idx] = -np.inf
    lse = _lse_rows(s) if m else np.zeros(0)
    l = lse - s[idx, pos]
    w = np.exp(s - lse[:, None])
    w[idx, pos] -= 1.0
    w /= temperature
    gz = normalize_back((w + w.T) @ z, z, sz)
    return l, m, (gz[:n], gz[n:])


def supcon(features, labels, temperature=0.1):
    x = np.asarray(features, np.float64)
    y = np.asarray(labels)
    n = x.shape[0]
    z, sz = normalize(x)
    s = (z @ z.T) / temperature
    idx = np.arange(n)
    pos = (y[:, None] == y[None, :])
    pos[idx, idx] = False
    npos = pos.sum(axis=1)
    s[idx, idx] = -np.inf
    has = npos > 0
    lse = _lse_rows(s) if n else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pos = np.where(has, np.sum(np.where(pos, s, 0.0), axis=1) / np.maximum(npos, 1), 0.0)
    l = np.where(has, lse - mean_pos, 0.0)
    w = np.exp(s - lse[:, None]) - pos / np.maximum(npos, 1)[:, None]
    w[~has] = 0.0
    w /= temperature
    gz = normalize_back((w + w.T) @ z, z, sz)
    return l, int(has.sum()), (gz,)


def _dist_rows(x, i, squared):
    """Exact distances from row i to every row (one row of the matrix)."""
    diff = x - x[i]
    d2 = np.sum(diff * diff, axis=1)
    return (d2 if squared else np.sqrt(d2)), diff


def _ddist(diff_row, d, squared):
    """d d(x_i, x_j) / d x_i for the rows j of diff_row = x_j - x_i
    (0 at distance 0, SPEC 3a)."""
    if squared:
        return -2.0 * diff_row
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d[:, None] > 0, -diff_row / np.where(d > 0, d, 1.0)[:, None], 0.0)


def batch_triplet(embeddings, labels, margin=1.0, mining="batch_hard", squared=False):
    x = np.asarray(embeddings, np.float64)
    y = np.asarray(labels)
    n = x.shape[0]
    l = np.zeros(n)
    g = np.zeros_like(x)
    count = 0
    for i in range(n):
        d, diff = _dist_rows(x, i, squared)
        pmask = y == y[i]
        pmask[i] = False
        nmask = y != y[i]
        if not pmask.any() or not nmask.any():
            continue
        pidx, nidx = np.flatnonzero(pmask), np.flatnonzero(nmask)
        if mining == "batch_hard":
            count += 1
            ap = pidx[np.argmax(d[pidx])]   # argmax/argmin: the first index on ties
            an = nidx[np.argmin(d[nidx])]
            h = (d[ap] + margin) - d[an]
            if h > 0 or h != h:                        # NaN propagates
                l[i] = h
                cp = np.array([1.0, -1.0])
                js = np.array([ap, an])
            else:
                continue
        else:
            t = d[pidx] + margin
            h = t[:, None] - d[nidx][None, :]
            act = h > 0
            l[i] = np.sum(np.where(act | np.isnan(h), h, 0.0))   # NaN propagates
            count += int(act.sum())
            cp = np.concatenate([act.sum(axis=1), -act.sum(axis=0)]).astype(np.float64)
            js = np.concatenate([pidx, nidx])
        dd = _ddist(diff[js], d[js], squared)          # d d_ij / d x_i
        contrib = cp[:, None] * dd
        g[i] += contrib.sum(axis=0)
        np.add.at(g, js, -contrib)                     # d d_ij / d x_j = -d d_ij / d x_i
    return l, count, (g,)


def margin_ranking(x1, x2, y, margin=0.0):
    a, b, t = (np.asarray(v, np.float64) for v in (x1, x2, y))
    h = -t * (a - b) + margin
    l = np.maximum(h, 0.0)
    ga = np.where(h > 0, -t, 0.0)
    return l, l.size, (ga, -ga)


def cosine_embedding(x1, x2, y, margin=0.0):
    a, b = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    t = np.asarray(y, np.float64)
    # PyTorch: cos = a·b / sqrt((|a|² + eps)(|b|² + eps)), eps = 1e-12
    ab = np.sum(a * b, axis=-1)
    na = np.sum(a * a, axis=-1) + EPS_NORM
    nb = np.sum(b * b, axis=-1) + EPS_NORM
    den = np.sqrt(na * nb)
    cos = ab / den
    pos = t > 0
    l = np.where(pos, 1.0 - cos, np.maximum(cos - margin, 0.0))
    dcos = np.where(pos, -1.0, np.where(cos - margin > 0, 1.0, 0.0))
    # d cos / d a = b / den - cos · a / na
    ga = dcos[..., None] * (b / den[..., None] - cos[..., None] * a / na[..., None])
    gb = dcos[..., None] * (a / den[..., None] - cos[..., None] * b / nb[..., None])
    return l, l.size, (ga, gb)
