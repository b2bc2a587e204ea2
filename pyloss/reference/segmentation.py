"""Reference segmentation losses: soft Dice and soft Jaccard (IoU).

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
