"""Numba kernels of the box losses, mirroring csrc/boxes.c and boxes_impl.h."""
import math

import numba
import numpy as np

from . import instantiate, no_output, pairwise, vsum  # noqa: F401 (used by the template)

BLOCK = 4096   # csrc/boxes.c: PL_BOX_BLOCK


@numba.njit(cache=True, inline="always", error_model="numpy")
def _dmax(a, b):
    return 1.0 if a > b else (0.5 if a == b else 0.0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def box_point(x1, y1, x2, y2, gx1, gy1, gx2, gy2, kind, eps):
    """(loss, d/dx1, d/dy1, d/dx2, d/dy2) of one box pair, in double."""
    ix1 = x1 if x1 > gx1 else gx1
    iy1 = y1 if y1 > gy1 else gy1
    ix2 = x2 if x2 < gx2 else gx2
    iy2 = y2 if y2 < gy2 else gy2
    iw = ix2 - ix1
    ih = iy2 - iy1
    m = iw > 0 and ih > 0
    inter = iw * ih if m else 0.0
    w = x2 - x1
    h = y2 - y1
    wg = gx2 - gx1
    hg = gy2 - gy1
    union = w * h + wg * hg - inter
    ue = union + eps
    iou = inter / ue
    loss = 1.0 - iou
    d_i = -1.0 / ue
    d_u = inter / (ue * ue)
    cx1 = x1 if x1 < gx1 else gx1
    cy1 = y1 if y1 < gy1 else gy1
    cx2 = x2 if x2 > gx2 else gx2
    cy2 = y2 if y2 > gy2 else gy2
    cw = cx2 - cx1
    ch = cy2 - cy1
    ddx = 0.0
    ddy = 0.0
    dwa = 0.0
    dha = 0.0
    if kind == 0:
        area_c = cw * ch
        ce = area_c + eps
        loss += (area_c - union) / ce
        d_u -= 1.0 / ce
        d_c = ue / (ce * ce)
        dcw = d_c * ch
        dch = d_c * cw
    else:
        q = cw * cw + ch * ch + eps
        dx = 0.5 * (x1 + x2) - 0.5 * (gx1 + gx2)
        dy = 0.5 * (y1 + y2) - 0.5 * (gy1 + gy2)
        dist = dx * dx + dy * dy
        loss += dist / q
        d_q = -dist / (q * q)
        dcw = 2.0 * d_q * cw
        dch = 2.0 * d_q * ch
        ddx = dx / q
        ddy = dy / q
        if kind == 2:
            k = 0.40528473456935108578
            diff = math.atan2(wg, hg) - math.atan2(w, h)
            v = k * diff * diff
            alpha = v / (1.0 - iou + v + eps)
            loss += alpha * v
            r2 = w * w + h * h
            c = alpha * (-2.0 * k * diff) / r2 if r2 > 0 else 0.0
            dwa = c * h
            dha = -c * w
    d_it = d_i - d_u if m else 0.0
    return (loss,
            -d_it * ih * _dmax(x1, gx1) - d_u * h - dcw * _dmax(gx1, x1) + ddx - dwa,
            -d_it * iw * _dmax(y1, gy1) - d_u * w - dch * _dmax(gy1, y1) + ddy - dha,
            d_it * ih * _dmax(gx2, x2) + d_u * h + dcw * _dmax(x2, gx2) + ddx + dwa,
            d_it * iw * _dmax(gy2, y2) + d_u * w + dch * _dmax(y2, gy2) + ddy + dha)


# One compiled body per kind ({name} = 0 giou, 1 diou, 2 ciou, a constant in
# the code): its branches fold away, so giou and diou keep no atan2 call,
# which would keep their loop scalar.
_TEMPLATE = '''
def _block{name}(pred, target, weight, eps, scale, loss, grad, lb, s, e):
    # pred, target and grad flat (4 n): pv[4 i + k] has a constant stride,
    # where pv[i, k] of a 2-D view strides by its run-time shape[1], which
    # LLVM versioned on shape[1] == 1 and so ran the scalar loop for every
    # box.  Views of the block indexed from 0 (a block offset in the index
    # keeps Numba's wraparound test and the loop scalar).  The point loop
    # stores the terms to lb and scale times the derivatives to the gradient,
    # no store that depends on an option; the weight of the losses and the
    # per-box losses take their own passes.
    pv = pred[4 * s:4 * e]
    tv = target[4 * s:4 * e]
    f64 = np.float64   # float() keeps a float32 a float32 in Numba
    n = e - s
    if grad is None:
        for i in range(n):
            lb[i] = box_point(f64(pv[4 * i]), f64(pv[4 * i + 1]), f64(pv[4 * i + 2]),
                              f64(pv[4 * i + 3]), f64(tv[4 * i]), f64(tv[4 * i + 1]),
                              f64(tv[4 * i + 2]), f64(tv[4 * i + 3]), {name}, eps)[0]
    else:
        gv = grad[4 * s:4 * e]
        if weight is not None:
            wg = weight[s:e]
        for i in range(n):
            l, a0, a1, a2, a3 = box_point(f64(pv[4 * i]), f64(pv[4 * i + 1]), f64(pv[4 * i + 2]),
                                          f64(pv[4 * i + 3]), f64(tv[4 * i]), f64(tv[4 * i + 1]),
                                          f64(tv[4 * i + 2]), f64(tv[4 * i + 3]), {name}, eps)
            lb[i] = l
            # (scale w) d in double, as the C block (weight None or an array:
            # a compile-time branch, not a run-time one)
            sw = scale * f64(wg[i]) if weight is not None else scale
            gv[4 * i] = sw * a0
            gv[4 * i + 1] = sw * a1
            gv[4 * i + 2] = sw * a2
            gv[4 * i + 3] = sw * a3
    if weight is not None:
        wv = weight[s:e]
        for i in range(n):
            lb[i] *= f64(wv[i])
    # `loss` is empty when no per-box loss is wanted (one specialisation)
    if loss.size != 0:
        lv = loss[s:e]
        for i in range(n):
            lv[i] = lb[i]
    return vsum(lb, n)


def box{name}_ser(pred, target, weight, eps, scale, loss, grad):
    n = pred.shape[0] // 4
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    lb = np.empty(BLOCK)
    for b in range(nb):
        part[b] = _block{name}(pred, target, weight, eps, scale, loss, grad, lb, b * BLOCK,
                               min(n, (b + 1) * BLOCK))
    return pairwise(part)


def box{name}_par(pred, target, weight, eps, scale, loss, grad):
    n = pred.shape[0] // 4
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    for b in numba.prange(nb):
        lb = np.empty(BLOCK)
        part[b] = _block{name}(pred, target, weight, eps, scale, loss, grad, lb, b * BLOCK,
                               min(n, (b + 1) * BLOCK))
    return pairwise(part)
'''
instantiate(_TEMPLATE, ("0", "1", "2"), globals(), __file__, error_model="numpy")
_SER = (box0_ser, box1_ser, box2_ser)  # noqa: F821 (made by instantiate)
_PAR = (box0_par, box1_par, box2_par)  # noqa: F821


def _flat(a):
    return None if a is None else a.reshape(-1)


def box_ser(pred, target, weight, kind, eps, scale, loss, grad):
    """Boxes (n, 4) of one kind; the kernels take pred, target and grad flat."""
    loss = no_output(pred.dtype) if loss is None else loss   # see _block0
    return _SER[kind](_flat(pred), _flat(target), weight, eps, scale, loss, _flat(grad))


def box_par(pred, target, weight, kind, eps, scale, loss, grad):
    loss = no_output(pred.dtype) if loss is None else loss   # see _block0
    return _PAR[kind](_flat(pred), _flat(target), weight, eps, scale, loss, _flat(grad))
