"""The Lovasz-Softmax loss's peer for ``pyloss bench`` and the tests (see
regression_peers).  Declared on the loss by pyloss._defs.lovasz."""
from .segmentation_peers import ACTIVATIONS


def no_ignore_index(arrays, o):
    """The formula's inputs: no ignore_index."""
    return o.get("ignore_index") is None


def lovasz_groups(ns, p, lab, all_classes):
    """Berman's lovasz_softmax_flat for groups g: p (g, C, M) probabilities,
    lab (g, M) labels -> per-group losses (g,) (mean over counted classes, 0
    when none is).  Stable decreasing sort, as pyloss."""
    C = p.shape[1]
    fg = ns.one_hot(lab, C, p)
    errors = ns.abs(fg - p)
    errors_sorted, perm = ns.sort_desc(errors, 2)
    fg_sorted = ns.gather(fg, perm, 2)
    gts = ns.sum(fg_sorted, 2)[..., None]
    jac = 1 - (gts - ns.cumsum(fg_sorted, 2)) / (gts + ns.cumsum(1 - fg_sorted, 2))
    g = ns.concat([jac[..., :1], jac[..., 1:] - jac[..., :-1]], 2)
    per_class = ns.sum(errors_sorted * g, 2)
    counted = ns.where(gts[..., 0] > 0, 1.0, 1.0 if all_classes else 0.0)
    k = ns.sum(counted, 1)
    return ns.sum(per_class * counted, 1) / ns.clip_min(k, 1.0)


def f_lovasz_softmax(ns, o):
    act = ACTIVATIONS[o["from_logits"]]
    all_classes = o["classes"] == "all"

    def f(x, lab):
        p = act(ns, x)
        N, C = p.shape[0], p.shape[1]
        if o["per_image"]:
            return ns.mean(lovasz_groups(ns, p.reshape(N, C, -1), lab.reshape(N, -1),
                                         all_classes))
        pc = ns.swapaxes(p.reshape(N, C, -1), 0, 1).reshape(1, C, -1)
        return ns.sum(lovasz_groups(ns, pc, lab.reshape(1, -1), all_classes))
    return f
