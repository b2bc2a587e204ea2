"""The embedding losses' peers for ``pyloss bench`` and the tests (see
regression_peers).  Declared on the losses by pyloss._defs.embedding."""


def pdist(ns, x, y, p, eps):
    """torch.pairwise_distance: ||x - y + eps||_p over the last axis."""
    v = x - y + eps
    if p == 2:
        return ns.sqrt(ns.sum(v * v, -1))
    if p == 1:
        return ns.sum(ns.abs(v), -1)
    return ns.sum(ns.abs(v) ** p, -1) ** (1.0 / p)


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_triplet(ns, o):
    margin, p, eps, swap = o["margin"], o["p"], o["eps"], o["swap"]

    def f(a, pos, neg):
        d_neg = pdist(ns, a, neg, p, eps)
        if swap:
            d_neg = ns.minimum(d_neg, pdist(ns, pos, neg, p, eps))
        return ns.mean(ns.relu(pdist(ns, a, pos, p, eps) - d_neg + margin))
    return f


def f_contrastive(ns, o):
    margin = o["margin"]

    def f(x1, x2, s):
        d2 = ns.sum((x1 - x2) ** 2, -1)
        return ns.mean(s * d2 + (1 - s) * ns.relu(margin - ns.sqrt(d2)) ** 2)
    return f


# ------------------------------------------------ PyTorch's own (torch, opts) -> f

def torch_triplet(torch, o):
    F = torch.nn.functional
    return lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=o["margin"], p=o["p"],
                                                 eps=o["eps"], swap=o["swap"])
