"""NumPy reference of the IoU-family box losses (giou, diou, ciou).

torchvision's ``generalized_box_iou_loss``, ``distance_box_iou_loss`` and
``complete_box_iou_loss`` (torchvision/ops/giou_loss.py, diou_loss.py,
ciou_loss.py, _utils.py ``_loss_inter_union``) per box, with the gradient
w.r.t. the predicted boxes written out by hand: ties in min/max split the
gradient equally (as PyTorch's ``maximum``/``minimum``), CIoU's ``alpha`` is a
constant, and the aspect term uses ``atan2(w, h)``.  Boxes ``(n, 4)`` float64.
"""
import numpy as np

KINDS = {"giou": 0, "diou": 1, "ciou": 2}


def _dmax(a, b):
    """d max(a, b) / da: 1, 1/2 at a tie, 0."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def box_loss(pred, target, kind, eps):
    """(loss (n,), d loss / d pred (n, 4)) for kind in giou/diou/ciou."""
    x1, y1, x2, y2 = (pred[:, j] for j in range(4))
    gx1, gy1, gx2, gy2 = (target[:, j] for j in range(4))
    with np.errstate(all="ignore"):
        ix1, iy1 = np.where(x1 > gx1, x1, gx1), np.where(y1 > gy1, y1, gy1)
        ix2, iy2 = np.where(x2 < gx2, x2, gx2), np.where(y2 < gy2, y2, gy2)
        iw, ih = ix2 - ix1, iy2 - iy1
        m = (iw > 0) & (ih > 0)
        inter = np.where(m, iw * ih, 0.0)
        w, h, wg, hg = x2 - x1, y2 - y1, gx2 - gx1, gy2 - gy1
        union = w * h + wg * hg - inter
        ue = union + eps
        iou = inter / ue
        loss = 1.0 - iou
        d_i = -1.0 / ue
        d_u = inter / (ue * ue)
        cx1, cy1 = np.where(x1 < gx1, x1, gx1), np.where(y1 < gy1, y1, gy1)
        cx2, cy2 = np.where(x2 > gx2, x2, gx2), np.where(y2 > gy2, y2, gy2)
        cw, ch = cx2 - cx1, cy2 - cy1
        zero = np.zeros_like(loss)
        ddx = ddy = dwa = dha = zero
        if kind == "giou":
            area_c = cw * ch
            ce = area_c + eps
            loss = loss + (area_c - union) / ce
            d_u = d_u - 1.0 / ce
            d_c = ue / (ce * ce)
            dcw, dch = d_c * ch, d_c * cw
        else:
            q = cw * cw + ch * ch + eps
            dx = 0.5 * (x1 + x2) - 0.5 * (gx1 + gx2)
            dy = 0.5 * (y1 + y2) - 0.5 * (gy1 + gy2)
            dist = dx * dx + dy * dy
            loss = loss + dist / q
            d_q = -dist / (q * q)
            dcw, dch = 2.0 * d_q * cw, 2.0 * d_q * ch
            ddx, ddy = dx / q, dy / q
            if kind == "ciou":
                k = 4.0 / np.pi ** 2
                diff = np.arctan2(wg, hg) - np.arctan2(w, h)
                v = k * diff * diff
                alpha = v / (1.0 - iou + v + eps)
                loss = loss + alpha * v
                r2 = w * w + h * h
                c = np.where(r2 > 0, alpha * (-2.0 * k * diff) / np.where(r2 > 0, r2, 1.0), 0.0)
                dwa, dha = c * h, -c * w
        d_it = np.where(m, d_i - d_u, 0.0)
        g = np.empty(pred.shape)
        g[:, 0] = -d_it * ih * _dmax(x1, gx1) - d_u * h - dcw * _dmax(gx1, x1) + ddx - dwa
        g[:, 1] = -d_it * iw * _dmax(y1, gy1) - d_u * w - dch * _dmax(gy1, y1) + ddy - dha
        g[:, 2] = d_it * ih * _dmax(gx2, x2) + d_u * h + dcw * _dmax(x2, gx2) + ddx + dwa
        g[:, 3] = d_it * iw * _dmax(gy2, y2) + d_u * w + dch * _dmax(y2, gy2) + ddy + dha
    return loss, g
