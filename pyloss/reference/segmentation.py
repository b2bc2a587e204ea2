"""Reference segmentation losses: soft Dice, soft Jaccard (IoU), Tversky and
generalized Dice, with the region options of SPEC 6.4.

Layout ``pred (N, C, *spatial)``; ``target`` either of that shape (one-hot or
soft) or integer labels ``(N, *spatial)`` (turned into one-hot here).  Each
function returns ``(per_sample, grad)``: the per-sample losses ``(N,)`` and the
gradient of their *sum* with respect to ``pred`` (the logits when
``from_logits`` is set).  Written for clarity, in float64.
"""
import numpy as np


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(x, axis=1):
    m = np.max(x, axis=axis, keepdims=True) if x.size else x
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def dense_target(target, shape):
    """One-hot float64 of `shape` from labels (N, *spatial), or target as is."""
    t = np.asarray(target)
    if t.shape == tuple(shape):
        return t.astype(np.float64)
    classes = np.arange(shape[1]).reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    return (t[:, None, ...] == classes).astype(np.float64)


def activate(x, from_logits):
    if from_logits is None:
        return x
    if from_logits == "sigmoid":
        return sigmoid(x)
    return softmax(x, 1)


def activation_vjp(p, gp, from_logits):
    """Pull the gradient w.r.t. p back to the logits."""
    if from_logits is None:
        return gp
    if from_logits == "sigmoid":
        return gp * p * (1.0 - p)
    return p * (gp - np.sum(p * gp, axis=1, keepdims=True))


def _sums(p, t, squared):
    axes = tuple(range(2, p.ndim))
    inter = np.sum(p * t, axis=axes)
    ps = np.sum(p * p if squared else p, axis=axes)
    ts = np.sum(t * t if squared else t, axis=axes)
    return inter, ps, ts


def _expand(a, ndim):
    return a.reshape(a.shape + (1,) * (ndim - 2))


def dice(pred, target, smooth=1.0, from_logits=None, squared=False):
    """Per-sample ``mean_c [1 - (2 I + s) / (P + T + s)]`` and its gradient."""
    x = np.asarray(pred, np.float64)
    t = dense_target(target, x.shape)
    with np.errstate(all="ignore"):
        p = activate(x, from_logits)
        inter, ps, ts = _sums(p, t, squared)
        den = ps + ts + smooth
        num = 2.0 * inter + smooth
        per_class = 1.0 - num / den
        C = x.shape[1]
        per_sample = np.mean(per_class, axis=1) if C else np.full(x.shape[0], np.nan)
        # d(1 - num/den)/dp = -2t/den + num/den^2 * d(den)/dp
        dden = 2.0 * p if squared else 1.0
        gp = (-2.0 * t / _expand(den, x.ndim) + _expand(num / den**2, x.ndim) * dden) / C
        grad = activation_vjp(p, gp, from_logits)
    return per_sample, grad


def iou(pred, target, smooth=1.0, from_logits=None):
    """Per-sample ``mean_c [1 - (I + s) / (P + T - I + s)]`` and its gradient."""
    x = np.asarray(pred, np.float64)
    t = dense_target(target, x.shape)
    with np.errstate(all="ignore"):
        p = activate(x, from_logits)
        inter, ps, ts = _sums(p, t, False)
        union = ps + ts - inter + smooth
        num = inter + smooth
        per_class = 1.0 - num / union
        C = x.shape[1]
        per_sample = np.mean(per_class, axis=1) if C else np.full(x.shape[0], np.nan)
        # d(1 - num/U)/dp = -t/U + num/U^2 * (1 - t)
        gp = (-t / _expand(union, x.ndim) + _expand(num / union**2, x.ndim) * (1.0 - t)) / C
        grad = activation_vjp(p, gp, from_logits)
    return per_sample, grad


def _where0(mask, a):
    return np.where(mask, a, 0.0) if mask is not None else a


def region(pred, target, kind, smooth=1.0, from_logits=None, squared=False, alpha=0.5,
           beta=0.5, gamma=1.0, weight_type="square", include_background=True,
           ignore_index=None, batch=False):
    """Every region loss with the options of SPEC 6.4, written out directly.

    kind: "dice", "iou", "tversky" or "generalized_dice".  ``target`` is
    dense of pred's shape or integer labels; with ``ignore_index`` the pixels
    labelled so leave every sum (prediction included).  Returns
    ``(values, grad)``: the per-sample values ``(N,)`` (``batch``: the per-class
    values ``(C - c0,)``) and the gradient of their sum w.r.t. pred (the logits
    when ``from_logits``).
    """
    x = np.asarray(pred, np.float64)
    t_in = np.asarray(target)
    N, C = x.shape[0], x.shape[1]
    nd = x.ndim
    valid = None
    if ignore_index is not None and t_in.shape != x.shape:
        valid = (t_in != ignore_index)[:, None, ...]          # (N, 1, *spatial)
        t_in = np.where(t_in == ignore_index, -1, t_in)
    t = dense_target(t_in, x.shape)
    c0 = 0 if include_background else 1
    axes = ((0,) if batch else ()) + tuple(range(2, nd))
    with np.errstate(all="ignore"):
        p = activate(x, from_logits)
        pm = _where0(valid, p)                                  # ignored pixels leave every sum
        sq = squared and kind == "dice"
        inter = np.sum(pm * t, axis=axes)
        ps = np.sum(pm * pm if sq else pm, axis=axes)
        ts = np.sum(t * t if sq else t, axis=axes)
        inter, ps, ts = inter[..., c0:], ps[..., c0:], ts[..., c0:]

        def bcast(a):   # (N, C') or (C',) -> broadcastable against (N, C', *spatial)
            a = a if not batch else a[None, :]
            return a.reshape(a.shape + (1,) * (nd - 2))
        tk = t[:, c0:]
        pk = pm[:, c0:]
        if kind == "generalized_dice":
            if weight_type == "square":
                w = 1.0 / (ts * ts)
            elif weight_type == "simple":
                w = 1.0 / ts
            else:
                w = np.ones_like(ts)
            fin = np.where(np.isfinite(w), w, -np.inf)
            wmax = np.max(fin, axis=-1, keepdims=True) if w.shape[-1] else np.zeros(w.shape[:-1] + (1,))
            wmax = np.where(np.isinf(wmax), 0.0, wmax)       # no finite weight: 0
            w = np.where(np.isinf(w), wmax, w)
            num = 2.0 * np.sum(w * inter, axis=-1) + smooth
            den = np.sum(w * (ps + ts), axis=-1) + smooth
            values = 1.0 - num / den
            # weights constant: d/dp = -2 w t / den + num w / den^2
            e = lambda a: a.reshape(a.shape + (1,) * (nd - 1))
            gk = (-2.0 * bcast(w) * tk / e(den) + bcast(w) * e(num / den**2))
        else:
            if kind == "dice":
                den = ps + ts + smooth
                num = 2.0 * inter + smooth
                term = 1.0 - num / den
                dden = 2.0 * pk if sq else 1.0
                gk = -2.0 * tk / bcast(den) + bcast(num / den**2) * dden
            elif kind == "iou":
                den = ps + ts - inter + smooth
                num = inter + smooth
                term = 1.0 - num / den
                gk = -tk / bcast(den) + bcast(num / den**2) * (1.0 - tk)
            else:   # tversky: TP = I, FP = P - I, FN = T - I
                den = inter + alpha * (ps - inter) + beta * (ts - inter) + smooth
                num = inter + smooth
                base = 1.0 - num / den
                dbase = -tk / bcast(den) + bcast(num / den**2) * (tk + alpha * (1.0 - tk) - beta * tk)
                if gamma == 1.0:
                    term, mult = base, np.ones_like(base)
                else:
                    term = base ** gamma
                    mult = np.where(base == 0.0, 0.0, gamma * base ** (gamma - 1.0))
                gk = bcast(mult) * dbase
            CK = C - c0
            if batch:
                values = term
            else:
                values = np.mean(term, axis=1) if CK else np.full(N, np.nan)
                gk = gk / CK
        gp = np.zeros(x.shape)
        gp[:, c0:] = gk
        gp = _where0(valid, gp)
        grad = activation_vjp(p, gp, from_logits)
        grad = _where0(valid, grad)
    return values, grad
