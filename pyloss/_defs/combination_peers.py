"""The combined losses' peers for ``pyloss bench`` and the tests (see
regression_peers), built from the segmentation and classification ones.
Declared on the losses by pyloss._defs.combination."""
from .classification_peers import sigmoid_focal_terms
from .segmentation_peers import dice_nc


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_dice_bce(ns, o):
    dw, bw, s = o["dice_weight"], o["bce_weight"], o["smooth"]
    return lambda x, t: (dw * ns.mean(dice_nc(ns, ns.sigmoid(x), t, s))
                         + bw * ns.mean(ns.bce_logits(x, t)))


def f_focal_smooth_l1(ns, o):
    def f(x, t, box_pred, box_target):
        pos = ns.amax(t, 1) > 0   # anchors with any positive class target
        box = ns.sum(ns.smooth_l1(box_pred, box_target, o["beta"]), 1)
        total = (ns.sum(sigmoid_focal_terms(ns, x, t, o["alpha"], o["gamma"]))
                 + ns.sum(ns.where(pos, box, 0.0)))
        return total / ns.clip_min(ns.sum(pos), 1)
    return f
