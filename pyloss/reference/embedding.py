"""Reference embedding losses (float64 NumPy): triplet and contrastive.

Each function takes arrays whose last axis is the embedding and returns
``(loss, grads)``: the per-sample losses (the leading shape) and the
gradients of their *sum* with respect to each differentiable input.  The
caller scales the gradients for ``mean``.  Sub-gradients: a norm at distance 0
has gradient 0, a hinge exactly at its margin has gradient 0 (SPEC 3a).
"""
import numpy as np


def _active(v):
    """d max(v, 0) / dv with 0 at the kink; NaN propagates."""
    return np.where(v > 0, 1.0, np.where(np.isnan(v), np.nan, 0.0))


def pnorm(x, p):
    """(‖x‖_p over the last axis, its gradient); gradient 0 where ‖x‖ = 0."""
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        if p == 2.0:
            d = np.sqrt(np.sum(x * x, axis=-1))
            g = np.where(d[..., None] > 0, x / d[..., None], 0.0 * x)
        elif p == 1.0:
            d = np.sum(ax, axis=-1)
            g = np.sign(x)
        else:
            d = np.sum(ax ** p, axis=-1) ** (1.0 / p)
            # d‖x‖_p/dx_j = sign(x_j) (|x_j| / ‖x‖_p)^(p-1)
            g = np.where((ax > 0) & (d[..., None] > 0),
                         np.sign(x) * (ax / d[..., None]) ** (p - 1.0), 0.0 * x)
    return d, g


def triplet(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False):
    """PyTorch ``triplet_margin_loss``: d(x, y) = ‖x - y + eps‖_p,
    l = max(d(a, p) - d(a, n) + margin, 0); ``swap`` replaces d(a, n) by
    min(d(a, n), d(p, n)), splitting the gradient at a tie as torch's
    ``minimum`` does."""
    a, q, n = (np.asarray(x, np.float64) for x in (anchor, positive, negative))
    d_ap, g_ap = pnorm(a - q + eps, p)
    d_an, g_an = pnorm(a - n + eps, p)
    if swap:
        d_pn, g_pn = pnorm(q - n + eps, p)
        w_an = np.where(d_an < d_pn, 1.0, np.where(d_an == d_pn, 0.5, 0.0))
        d_neg = np.minimum(d_an, d_pn)
    else:
        g_pn = np.zeros_like(g_an)
        w_an = np.ones_like(d_an)
        d_neg = d_an
    w_pn = 1.0 - w_an
    v = d_ap - d_neg + margin
    with np.errstate(invalid="ignore"):
        loss = np.where(v < 0, 0.0, v)
    act = _active(v)[..., None]
    wa, wp = w_an[..., None], w_pn[..., None]
    ga = act * (g_ap - wa * g_an)
    gp = act * (-g_ap - wp * g_pn)
    gn = act * (wa * g_an + wp * g_pn)
    return loss, (ga, gp, gn)


def contrastive(x1, x2, similar, margin=1.0):
    """``similar·d² + (1-similar)·max(0, margin - d)²``, d = ‖x1 - x2‖₂."""
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    s = np.asarray(similar, np.float64)
    diff = x1 - x2
    d2 = np.sum(diff * diff, axis=-1)
    d = np.sqrt(d2)
    v = margin - d
    with np.errstate(invalid="ignore"):
        h = np.where(v < 0, 0.0, v)
    loss = s * d2 + (1.0 - s) * h * h
    with np.errstate(all="ignore"):
        # d/dd of (1-s) h^2 is -2 (1-s) h; times dd/dx1 = diff / d (0 at d = 0)
        c = 2.0 * s - np.where(d > 0, 2.0 * (1.0 - s) * h / d, 0.0)
    g1 = c[..., None] * diff
    return loss, (g1, -g1)
