"""The classification losses' peers for ``pyloss bench`` and the tests (see
regression_peers): formulas over ``ns``, PyTorch's own functions,
scikit-learn's, when the formulas apply, and the exp/log cost of the focal
terms.  Declared on the losses by pyloss._defs.classification."""
import numpy as np


# ------------------------------------------------------------ building blocks

def class_logp(ns, x, t, ignore_index):
    """log softmax over axis 1, the log-probability of each target class, and
    the mask of targets that are not ignored (ignored ones gather class 0)."""
    logp = ns.log_softmax(x, 1)
    valid = t != ignore_index
    return logp, ns.take1(logp, ns.where(valid, t, 0)), valid


def masked_mean(ns, l, valid):
    return ns.sum(ns.where(valid, l, 0.0)) / ns.sum(valid)


def sigmoid_focal_terms(ns, x, t, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss, reduction "none"."""
    p = ns.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    l = ns.bce_logits(x, t) * (1 - p_t) ** gamma
    if alpha >= 0:
        l = (alpha * t + (1 - alpha) * (1 - t)) * l
    return l


def sigmoid_focal_cost(sizes, opts):
    """(exps, logs) of the sigmoid focal terms: one each per element, two
    outside gamma 0, 1, 2 (the power (1 - p_t)^gamma is then exp(gamma log))."""
    gamma = opts.get("gamma", 2.0)
    general = gamma not in (0, 0.0, 1, 1.0, 2, 2.0)
    return (2 if general else 1) * sizes[0], (2 if general else 1) * sizes[0]


def class_index_targets(arrays, o):
    """The formulas' inputs: class-index targets of the logits' shape less the
    class axis, and a scalar alpha."""
    x, t = arrays
    return (x.ndim >= 2 and t.dtype.kind in "iu" and t.shape == x.shape[:1] + x.shape[2:]
            and np.ndim(o.get("alpha")) == 0)


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_cross_entropy(ns, o):
    eps = o["label_smoothing"]

    def f(x, t):
        logp, lp_t, valid = class_logp(ns, x, t, o["ignore_index"])
        l = -lp_t
        if eps:   # PyTorch: (1 - eps) * nll + eps * mean over classes of -log p
            l = (1 - eps) * l - eps * ns.mean(logp, 1)
        return masked_mean(ns, l, valid)
    return f


def f_softmax_focal(ns, o):
    alpha, gamma = o["alpha"], o["gamma"]

    def f(x, t):
        _, lp_t, valid = class_logp(ns, x, t, o["ignore_index"])
        l = -(1 - ns.exp(lp_t)) ** gamma * lp_t
        return masked_mean(ns, l if alpha is None else alpha * l, valid)
    return f


def f_binary_cross_entropy(ns, o):
    return lambda p, t: -ns.mean(t * ns.clip_min(ns.log(p), -100.0)
                                 + (1 - t) * ns.clip_min(ns.log1p(-p), -100.0))


def f_binary_cross_entropy_with_logits(ns, o):
    return lambda x, t: ns.mean(ns.bce_logits(x, t))


def f_sigmoid_focal(ns, o):
    return lambda x, t: ns.mean(sigmoid_focal_terms(ns, x, t, o["alpha"], o["gamma"]))


# ------------------------------------------------ PyTorch's own (torch, opts) -> f

def torch_cross_entropy(torch, o):
    F = torch.nn.functional
    return lambda x, t: F.cross_entropy(x, t.long(), ignore_index=o["ignore_index"],
                                        label_smoothing=o["label_smoothing"])


def torch_binary_cross_entropy_with_logits(torch, o):
    return lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(x, t)


def torch_binary_cross_entropy(torch, o):
    return lambda p, t: torch.nn.functional.binary_cross_entropy(p, t)


# ------------------------------------------------------------------ scikit-learn

def sklearn_cross_entropy(skl, p, t, o):
    if p.ndim == 2 and t.dtype.kind in "iu" \
            and o.get("label_smoothing", 0.0) == 0.0 and (t >= 0).all():
        return skl.HalfMultinomialLoss(n_classes=p.shape[1]), t.astype(p.dtype)
    return None


def sklearn_binary_cross_entropy_with_logits(skl, p, t, o):
    return (skl.HalfBinomialLoss(), t) if o.get("pos_weight") is None else None
