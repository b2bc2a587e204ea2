"""The box losses' peers for ``pyloss bench`` and the tests (see
regression_peers), after torchvision.ops.  Declared on the losses by
pyloss._defs.boxes."""
import math


def box_terms(ns, b1, b2, eps):
    """torchvision's _loss_inter_union and enclosing box (torchvision/ops/_utils.py,
    giou_loss.py): iou, union, enclosing width/height, the boxes' sides."""
    x1, y1, x2, y2 = b1[..., 0], b1[..., 1], b1[..., 2], b1[..., 3]
    x1g, y1g, x2g, y2g = b2[..., 0], b2[..., 1], b2[..., 2], b2[..., 3]
    iw = ns.minimum(x2, x2g) - ns.maximum(x1, x1g)
    ih = ns.minimum(y2, y2g) - ns.maximum(y1, y1g)
    inter = ns.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    cw = ns.maximum(x2, x2g) - ns.minimum(x1, x1g)
    ch = ns.maximum(y2, y2g) - ns.minimum(y1, y1g)
    return inter / (union + eps), union, cw, ch, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g)


def diou_terms(ns, b1, b2, eps):
    iou, _, cw, ch, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g) = box_terms(ns, b1, b2, eps)
    dist = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + dist / (cw ** 2 + ch ** 2 + eps), iou


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_giou(ns, o):
    def f(b1, b2):
        iou, union, cw, ch, _, _ = box_terms(ns, b1, b2, o["eps"])
        area_c = cw * ch
        return ns.mean(1 - iou + (area_c - union) / (area_c + o["eps"]))
    return f


def f_diou(ns, o):
    return lambda b1, b2: ns.mean(diou_terms(ns, b1, b2, o["eps"])[0])


def f_ciou(ns, o):
    eps = o["eps"]

    def f(b1, b2):
        d, iou = diou_terms(ns, b1, b2, eps)
        w, h = b1[..., 2] - b1[..., 0], b1[..., 3] - b1[..., 1]
        wg, hg = b2[..., 2] - b2[..., 0], b2[..., 3] - b2[..., 1]
        v = (4 / math.pi ** 2) * (ns.atan(wg / hg) - ns.atan(w / h)) ** 2
        alpha = ns.stop_gradient(v / (1 - iou + v + eps))
        return ns.mean(d + alpha * v)
    return f
