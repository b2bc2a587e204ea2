"""Reduction and weighting shared by the reference losses (float64 math)."""
import numpy as np


def reduce(loss, weight=None, reduction="mean"):
    """Reduce per-element losses: mean is sum(w*l)/sum(w) (NumPy average)."""
    loss = np.asarray(loss, dtype=np.float64)
    w = None if weight is None else np.broadcast_to(np.asarray(weight, np.float64), loss.shape)
    wl = loss if w is None else w * loss
    if reduction == "none":
        return wl
    total = np.sum(wl)
    if reduction == "sum":
        return total
    denom = float(loss.size) if w is None else np.sum(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float64(total) / np.float64(denom)


def scale(shape, weight=None, reduction="mean"):
    """The factor d(reduced)/d(per-element loss) as an array of `shape`."""
    w = np.ones(shape) if weight is None else np.broadcast_to(np.asarray(weight, np.float64), shape)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return w / (np.float64(w.size) if weight is None else np.sum(w))
    return w


def elementwise(point, pred, target, weight=None, reduction="mean", aux=None, **params):
    """(value, grad, hess) of an elementwise loss given its point function."""
    p = np.asarray(pred, np.float64)
    t = np.asarray(target, np.float64)
    a = None if aux is None else np.asarray(aux, np.float64)
    with np.errstate(all="ignore"):
        l, g, h = point(p, t, a, **params)
        s = scale(p.shape, weight, reduction)
        return reduce(l, weight, reduction), s * g, s * h
