"""NumPy reference of the Lovasz-Softmax loss (Berman et al. 2018).

The algorithm of bermanmaxim/LovaszSoftmax ``pytorch/lovasz_losses.py``
(``lovasz_softmax``, ``lovasz_softmax_flat``, ``lovasz_grad``) with its
gradient written out: per class the errors ``|fg - p|`` are sorted in
decreasing order (stable: ties keep pixel order; by bit pattern, so a NaN
error sorts first, as in the C and Numba kernels), the class loss is their dot
product with ``lovasz_grad`` of the sorted foreground, and ``d/dp`` is that
weight times ``sign(p - fg)``.  A Python loop runs over groups and classes
only; the sort is NumPy's ``argsort``.
"""
import numpy as np


def _softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=1, keepdims=True)


def _order(e):
    """Stable decreasing order of non-negative errors (NaN first)."""
    bits = e.view(np.uint64) if e.dtype == np.float64 else e.view(np.uint32)
    return np.argsort(~bits, kind="stable")


def lovasz_grad(fg_sorted):
    """Berman's lovasz_grad: the Jaccard loss's Lovasz-extension gradient."""
    gts = fg_sorted.sum()
    inter = gts - np.cumsum(fg_sorted)
    union = gts + np.cumsum(1.0 - fg_sorted)
    jac = 1.0 - inter / union
    jac[1:] = jac[1:] - jac[:-1]
    return jac


def _flat(prob, lab, C, all_classes, want_grad):
    """(loss, d loss / d prob (C, P)) of one group: prob (C, P), lab (P)."""
    P = lab.size
    gp = np.zeros((C, P)) if want_grad else None
    losses, counted = [], 0
    for c in range(C):
        fg = (lab == c).astype(np.float64)
        if not all_classes and not fg.any():
            continue
        counted += 1
        if P == 0:
            losses.append(0.0)
            continue
        e = np.abs(fg - prob[c])
        order = _order(e)
        g = lovasz_grad(fg[order])
        losses.append(float(np.dot(e[order], g)))
        if want_grad:
            gp[c, order] = g * np.sign(prob[c, order] - fg[order])
    if counted == 0:
        return 0.0, gp
    if want_grad:
        gp /= counted
    return float(np.sum(losses)) / counted, gp


def lovasz_softmax(pred, labels, *, from_logits=None, classes="present", per_image=False,
                   ignore_index=None, want_grad=True):
    """(group losses, d sum(group losses) / d pred).

    pred (N, C, S) float64 probabilities (or logits with from_logits="softmax"),
    labels (N, S) integers.  Groups are the N images (per_image) or the batch.
    """
    N, C, S = pred.shape
    prob = _softmax(pred) if from_logits == "softmax" else pred
    valid = np.ones((N, S), bool) if ignore_index is None else labels != ignore_index
    all_classes = classes == "all"
    groups = [[i] for i in range(N)] if per_image else [list(range(N))]
    losses = np.zeros(len(groups))
    gprob = np.zeros(pred.shape) if want_grad else None
    for gi, images in enumerate(groups):
        pr = np.concatenate([prob[i][:, valid[i]] for i in images], axis=1) if images \
            else np.zeros((C, 0))
        lb = np.concatenate([labels[i][valid[i]] for i in images]) if images \
            else np.zeros(0, np.int64)
        losses[gi], gp = _flat(pr, lb, C, all_classes, want_grad)
        if want_grad:
            k = 0
            for i in images:
                v = int(valid[i].sum())
                gprob[i][:, valid[i]] = gp[:, k:k + v]
                k += v
    if want_grad and from_logits == "softmax":
        dot = np.sum(prob * gprob, axis=1, keepdims=True)
        gprob = prob * (gprob - dot)
    return losses, gprob
