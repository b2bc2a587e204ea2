"""Reference combination losses: dice_bce and focal_smooth_l1 (RetinaNet).

Each returns the unreduced terms and the gradient of their sum, in float64.
"""
import numpy as np

from .segmentation import dense_target, dice, sigmoid


def bce_with_logits(x, t):
    """``max(x, 0) - x t + log1p(exp(-|x|))`` (PyTorch's stable form)."""
    return np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x)))


def dice_bce(logits, target, dice_weight=1.0, bce_weight=1.0, smooth=1.0):
    """Per sample ``dice_weight * dice_n + bce_weight * mean(BCE over sample n)``.

    Returns ``(per_sample (N,), grad of the sum w.r.t. logits)``.
    """
    x = np.asarray(logits, np.float64)
    t = dense_target(target, x.shape)
    d, gd = dice(x, t, smooth=smooth, from_logits="sigmoid")
    m = int(np.prod(x.shape[1:]))
    with np.errstate(all="ignore"):
        b = bce_with_logits(x, t).reshape(x.shape[0], m)
        bce_n = np.sum(b, axis=1) / m if m else np.full(x.shape[0], np.nan)
        per_sample = dice_weight * d + bce_weight * bce_n
        grad = dice_weight * gd + bce_weight * (sigmoid(x) - t) / m
    return per_sample, grad


def sigmoid_focal(x, t, alpha=0.25, gamma=2.0):
    """torchvision ``sigmoid_focal_loss`` elementwise, and its derivative."""
    with np.errstate(all="ignore"):
        p = sigmoid(x)
        pm = sigmoid(-x)                       # 1 - p without cancellation
        ce = bce_with_logits(x, t)
        q = p * (1.0 - t) + pm * t             # 1 - p_t
        qg = np.where(q > 0, q ** gamma, 1.0 if gamma == 0 else 0.0)
        a_t = alpha * t + (1.0 - alpha) * (1.0 - t) if alpha >= 0 else 1.0
        loss = a_t * ce * qg
        # d q^g/dx = -g (2t-1) p(1-p) q^(g-1); r = p(1-p)/q lies in [0, 2]
        r = np.where(q > 0, p * pm / np.where(q > 0, q, 1.0), 0.0)
        grad = a_t * qg * ((p - t) - gamma * ce * (2.0 * t - 1.0) * r)
    return loss, grad


def smooth_l1(r, beta):
    a = np.abs(r)
    sign = np.where(r > 0, 1.0, np.where(r < 0, -1.0, r * 0.0))
    if beta == 0:
        return a, sign
    quad = a < beta
    return np.where(quad, 0.5 * r * r / beta, a - 0.5 * beta), np.where(quad, r / beta, sign)


def focal_smooth_l1(cls_logits, cls_target, box_pred, box_target, alpha=0.25, gamma=2.0,
                    beta=1.0 / 9.0):
    """RetinaNet loss terms.

    Returns ``(per_anchor (A,), g_cls, g_box, num_pos)``: the unnormalised
    per-anchor terms (focal over classes + smooth-L1 over box coordinates for
    positive anchors), the gradients of their sum, and the positive count.
    """
    x = np.asarray(cls_logits, np.float64)
    t = np.asarray(cls_target, np.float64)
    bp = np.asarray(box_pred, np.float64)
    bt = np.asarray(box_target, np.float64)
    fl, gfl = sigmoid_focal(x, t, alpha, gamma)
    pos = np.any(t > 0, axis=1)
    with np.errstate(all="ignore"):
        sl, gsl = smooth_l1(bp - bt, beta)
        sl = np.where(pos[:, None], sl, 0.0)
        gsl = np.where(pos[:, None], gsl, 0.0)
        per_anchor = np.sum(fl, axis=1) + np.sum(sl, axis=1)
    return per_anchor, gfl, gsl, int(np.sum(pos))
