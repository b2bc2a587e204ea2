"""Reference classification losses, NumPy only, float64.

Elementwise losses (``binary_cross_entropy``, ``binary_cross_entropy_with_logits``,
``sigmoid_focal``) are point functions returning ``(l, dl/dx, d2l/dx2)`` per
element.  The softmax losses (``cross_entropy``, ``softmax_focal``) take the
whole arrays and a reduction and return ``(value, grad, hess)`` of the
reduced value (``hess`` is None where no Hessian is defined).

Everything here is written as plainly as NumPy allows, from the formulas of
PyTorch (``aten/src/ATen/native/LossNLL.cpp``, ``Loss.cpp``) and torchvision
(``torchvision/ops/focal_loss.py``).
"""
import numpy as np


def _sigmoid_pair(x):
    """(sigmoid(x), sigmoid(-x)), each accurate for any x (no 1 - p cancellation)."""
    e = np.exp(-np.abs(x))
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    pos = x >= 0
    return np.where(pos, big, small), np.where(pos, small, big)


# ------------------------------------------------------------------ elementwise

def binary_cross_entropy(pred, target, aux=None):
    """PyTorch BCE on probabilities: logs clamped at -100, gradient
    (p - t) / max(p (1 - p), 1e-12); Hessian t/p^2 + (1-t)/(1-p)^2 written as
    ((p - t)^2 + t (1 - t)) / max(p (1 - p), 1e-12)^2, the derivative of that
    gradient."""
    p, t = pred, target
    lp = np.maximum(np.log(p), -100.0)
    l1p = np.maximum(np.log1p(-p), -100.0)
    l = -(t * lp + (1.0 - t) * l1p)
    d = np.maximum(p * (1.0 - p), 1e-12)
    g = (p - t) / d
    h = ((p - t) ** 2 + t * (1.0 - t)) / (d * d)
    return l, g, h


def binary_cross_entropy_with_logits(pred, target, aux=None):
    """(1 - t) x + lw softplus(-x), lw = 1 + (pos_weight - 1) t (PyTorch)."""
    x, t = pred, target
    # lw = (1 - t) + pw t: the same as 1 + (pw - 1) t, without its cancellation
    lw = 1.0 if aux is None else (1.0 - t) + aux * t
    p, q = _sigmoid_pair(x)
    # (1 - t) x + lw max(-x, 0) first: for t = 0 that is exactly x + (-x) = 0,
    # so a small loss is not lost under a large x (as PyTorch's max_val form)
    l = ((1.0 - t) * x + lw * np.maximum(-x, 0.0)) + lw * np.log1p(np.exp(-np.abs(x)))
    g = (1.0 - t) * p - (1.0 if aux is None else aux) * t * q   # = (1 - t) - lw q
    h = lw * p * q
    return l, g, h


def sigmoid_focal(pred, target, aux=None, alpha=0.25, gamma=2.0):
    """torchvision ``sigmoid_focal_loss``: ce (1 - p_t)^gamma, times
    alpha_t = alpha t + (1 - alpha)(1 - t) when alpha >= 0.

    With q = 1 - p_t = p (1 - t) + (1 - p) t, s = p (1 - p), v = s / q
    (q' = s (1 - 2t), so q^(gamma-1) q' = q^gamma v (1 - 2t) stays finite as
    q -> 0 for any gamma >= 0):
      l'  = a q^g [(p - t) + ce g v (1 - 2t)]
      l'' = a q^g [s + 2 (p - t) g v (1 - 2t)
                   + ce (g (g - 1) v^2 (1 - 2t)^2 + g v (1 - 2p)(1 - 2t))]
    """
    x, t = pred, target
    p, pm = _sigmoid_pair(x)            # p, 1 - p
    ce = ((1.0 - t) * x + np.maximum(-x, 0.0)) + np.log1p(np.exp(-np.abs(x)))
    q = p * (1.0 - t) + pm * t
    s = p * pm
    v = np.where(q > 0, s / np.where(q > 0, q, 1.0), 1.0)
    F = np.ones_like(q) if gamma == 0 else np.power(q, gamma)
    a = 1.0 if alpha < 0 else alpha * t + (1.0 - alpha) * (1.0 - t)
    pt = p * (1.0 - t) - pm * t         # p - t without cancellation
    u = 1.0 - 2.0 * t
    l = a * ce * F
    g = a * F * (pt + ce * gamma * v * u)
    h = a * F * (s + 2.0 * pt * gamma * v * u
                 + ce * (gamma * (gamma - 1.0) * v * v * u * u + gamma * v * (1.0 - 2.0 * p) * u))
    return l, g, h


# ------------------------------------------------------------------ softmax losses

def _class_last(z):
    """(N, C, d1, ...) -> (N, d1, ..., C); (C,) -> (1, C)."""
    if z.ndim == 1:
        return z[None, :]
    return np.moveaxis(z, 1, -1)


def _class_back(g, shape):
    if len(shape) == 1:
        return g[0]
    return np.moveaxis(g, -1, 1)


def _log_softmax(zc):
    m = np.max(zc, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(zc - m)
        S = np.sum(e, axis=-1, keepdims=True)
        return zc - m - np.log(S), e, S, m


def _inv(d):
    """1/d for a gradient scale; 0 when nothing counts (everything ignored)."""
    return 0.0 if d == 0 else 1.0 / d


def cross_entropy(logits, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                  reduction="mean"):
    """torch.nn.functional.cross_entropy, value, gradient and Hessian diagonal.

    Class targets, following ``cross_entropy_loss_label_smoothing`` in
    ATen: l = (1 - eps) w_y nll + eps/C sum_c w_c (-log p_c), 0 where ignored;
    ``mean`` divides by the sum of w_y over the non-ignored targets (PyTorch
    >= 2.x; older releases divided the smoothing part of an unweighted loss by
    the number of targets including ignored ones).
    Probability targets: l = -sum_c w_c t'_c log p_c with
    t' = (1 - eps) t + eps/C; ``mean`` divides by the number of rows.

    Per row the target mass is q_c; grad = sum(q) p - q, hess = sum(q) p (1 - p).
    """
    z = np.asarray(logits, np.float64)
    shape = z.shape
    C = shape[0] if z.ndim == 1 else shape[1]
    zc = _class_last(z)
    with np.errstate(all="ignore"):
        logp, _, _, _ = _log_softmax(zc)
        p = np.exp(logp)
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    eps = float(label_smoothing)
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        t = t.astype(np.int64)
        if z.ndim == 1:
            t = t[None]
        valid = t != ignore_index
        tc = np.where(valid, t, 0)
        wy = w[tc] * valid
        onehot = (np.arange(C) == tc[..., None])
        with np.errstate(all="ignore"):
            nll = -np.take_along_axis(logp, tc[..., None], axis=-1)[..., 0]
            nll = np.where(valid, nll * wy, 0.0)
            smooth = np.where(valid, -np.sum(logp * w, axis=-1), 0.0) if eps > 0 else np.zeros(t.shape)
            l = (1.0 - eps) * nll + (eps / C) * smooth
        if reduction == "mean":
            d = float(np.sum(wy))
            with np.errstate(all="ignore"):
                value = np.sum(l) / np.float64(d)
            s = _inv(d)
        else:
            value = np.sum(l) if reduction == "sum" else l
            s = 1.0
        q = s * (((1.0 - eps) * wy)[..., None] * onehot + ((eps / C) * valid)[..., None] * w)
        # an ignored row contributes nothing: its gradient is exactly 0, even
        # where its logits are NaN or inf
        p = np.where(valid[..., None], p, 0.0)
    else:
        tt = _class_last(np.asarray(target, np.float64))
        if eps > 0:
            tt = tt * (1.0 - eps) + eps / C
        q = w * tt
        with np.errstate(all="ignore"):
            l = -np.sum(q * logp, axis=-1)
        nrows = l.size
        if reduction == "mean":
            with np.errstate(all="ignore"):
                value = np.sum(l) / np.float64(nrows)
            q = q * _inv(nrows)
        else:
            value = np.sum(l) if reduction == "sum" else l
    if reduction == "none" and z.ndim == 1:
        value = value[0]
    with np.errstate(all="ignore"):
        s = np.sum(q, axis=-1, keepdims=True)
        grad = s * p - q
        hess = s * p * (1.0 - p)
    return value, _class_back(grad, shape), _class_back(hess, shape)


def softmax_focal(logits, target, alpha=None, gamma=2.0, ignore_index=-100, reduction="mean"):
    """-alpha_t (1 - p_t)^gamma log p_t over softmax probabilities.

    ``alpha`` None (1), a scalar, or per class (C,).  ``mean`` divides by the
    number of non-ignored targets; ``none`` has the target's shape, 0 where
    ignored.  With u = 1 - p_t and r = log(p_t) / u (-1 at u = 0):
    d l / d z_k = G (delta_kt - p_k), G = alpha_t u^gamma (gamma p_t r - 1).
    """
    z = np.asarray(logits, np.float64)
    shape = z.shape
    C = shape[0] if z.ndim == 1 else shape[1]
    zc = _class_last(z)
    t = np.asarray(target).astype(np.int64)
    if z.ndim == 1:
        t = t[None]
    valid = t != ignore_index
    tc = np.where(valid, t, 0)
    onehot = (np.arange(C) == tc[..., None])
    with np.errstate(all="ignore"):
        m = np.max(zc, axis=-1, keepdims=True)
        e = np.exp(zc - m)
        S = np.sum(e, axis=-1)
        p = e / S[..., None]
        et = np.sum(np.where(onehot, e, 0.0), axis=-1)
        rest = np.sum(np.where(onehot, 0.0, e), axis=-1)
        zt = np.sum(np.where(onehot, zc, 0.0), axis=-1)
        # log p_t: -log1p(rest) when t is the max (e_t = 1) keeps the digits of
        # a p_t close to 1.
        logpt = np.where(zt == m[..., 0], -np.log1p(rest), (zt - m[..., 0]) - np.log(S))
        pt = et / S
        u = rest / S
        r = np.where(u > 0, logpt / np.where(u > 0, u, 1.0), -1.0)
        F = np.ones_like(u) if gamma == 0 else np.power(u, gamma)
        if alpha is None:
            at = np.ones(t.shape)
        else:
            a = np.asarray(alpha, np.float64)
            at = a[tc] if a.ndim == 1 else np.full(t.shape, float(a))
        l = np.where(valid, -at * F * logpt, 0.0)
        G = np.where(valid, at * F * (gamma * pt * r - 1.0), 0.0)
    cnt = int(np.sum(valid))
    if reduction == "mean":
        with np.errstate(all="ignore"):
            value = np.sum(l) / np.float64(cnt)
        G = G * _inv(cnt)
    elif reduction == "sum":
        value = np.sum(l)
    else:
        value = l[0] if z.ndim == 1 else l
    with np.errstate(all="ignore"):
        grad = np.where(valid[..., None], G[..., None] * (onehot - p), 0.0)
    return value, _class_back(grad, shape), None


def smooth_labels(target, num_classes, epsilon=0.1):
    """(1 - eps) y + eps / K; integer labels become one-hot rows first."""
    y = np.asarray(target)
    if y.dtype.kind in "iub":
        y = (np.arange(num_classes) == y.astype(np.int64)[..., None]).astype(np.float64)
    else:
        y = y.astype(np.float64)
    return (1.0 - epsilon) * y + epsilon / num_classes
