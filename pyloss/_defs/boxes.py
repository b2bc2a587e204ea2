"""Box regression losses: giou, diou, ciou (SPEC 6.5).

Boxes ``(..., 4)`` as ``(x1, y1, x2, y2)``; one C kernel ``pl_box_iou_<f32|f64>``
(csrc/boxes.c, boxes_impl.h) with the kind as an argument, its Numba twin
``pyloss._numba.boxes`` and the NumPy reference ``pyloss.reference.boxes``.
"""
import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._loss import Loss, _denominator, mean_of, scalar_of

_KINDS = {"giou": 0, "diou": 1, "ciou": 2}


class _BoxCall:
    __slots__ = ("pred", "target", "weight", "dtype", "gdtype", "shape", "lead", "n", "eps",
                 "p2", "t2")


def _check_boxes(b, name):
    """x2 >= x1 and y2 >= y1 for every box, else a ValueError naming the first bad box."""
    if b.size == 0:
        return
    with np.errstate(invalid="ignore"):
        bad = (b[..., 2] < b[..., 0]) | (b[..., 3] < b[..., 1])
    if bad.any():
        pos = np.unravel_index(int(np.argmax(bad)), bad.shape)
        idx = tuple(int(i) for i in pos)
        raise D.PylossValueError(
            f"{name}: box at index {idx} is inverted (x2 < x1 or y2 < y1): "
            f"{[float(v) for v in b[idx]]}; boxes are (x1, y1, x2, y2) with x1 <= x2, y1 <= y2")


class BoxLoss(Loss):
    """giou / diou / ciou: one kernel, the kind picks the penalty term."""

    def __init__(self, name, doc):
        super().__init__(name, "boxes", ("pred_boxes", "target_boxes"), ("pred_boxes",),
                         {"eps": 1e-7, "weight": None}, doc, hessian=False, example=box_example)
        self.kind = _KINDS[name]

    def _bind(self, arrays, opts):
        pn, tn = self.inputs
        p = D.float_input(arrays[0], pn)
        t = D.real_input(arrays[1], tn)
        if p.ndim < 1 or p.shape[-1] != 4:
            raise D.PylossValueError(
                f"{pn}: expected boxes of shape (..., 4) as (x1, y1, x2, y2), got shape {p.shape}")
        D.same_shape(p, t, pn, tn)
        c = _BoxCall()
        c.eps = D.opt_float("eps", opts["eps"], lo=0.0)
        c.dtype = dt = D.compute_dtype(p, t)
        c.gdtype = D.grad_dtype(p)
        c.shape = p.shape
        c.lead = p.shape[:-1]
        c.n = int(np.prod(c.lead, dtype=np.int64))
        c.pred = D.contiguous(p, dt)
        c.target = D.contiguous(t, dt)
        _check_boxes(c.pred, pn)
        _check_boxes(c.target, tn)
        w = opts["weight"]
        c.weight = None if w is None else D.broadcast_weight(w, c.lead, dt).reshape(-1)
        c.p2 = c.pred.reshape(c.n, 4)
        c.t2 = c.target.reshape(c.n, 4)
        return c

    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        scale = 1.0
        if reduction == "mean":
            denom = _denominator(c.n, c.weight)
            with np.errstate(divide="ignore"):
                scale = float(np.float64(1.0) / np.float64(denom)) if denom != 0 else float("inf")
        loss = np.empty(c.n, dt) if op in ("value", "vg") and reduction == "none" else None
        grad = user = None
        if op in ("grad", "vg"):
            if out is not None:
                D.check_out(out, c.shape, c.gdtype, "out")
                direct = c.gdtype == dt and not D.overlaps_unsafely(out, c.pred, c.target,
                                                                     c.weight)
                grad = out if direct else np.empty(c.shape, dt)
                user = out
            else:
                grad = np.empty(c.shape, dt)
        g2 = None if grad is None else grad.reshape(c.n, 4)
        if backend == "c":
            from .. import _c
            work = np.empty(max(int(_c.lib.pl_box_work(c.n)), 1), np.float64)
            total = _c.kernel("box_iou", dt)(c.n, _c.ptr(c.p2), _c.ptr(c.t2), _c.ptr(c.weight),
                                             self.kind, c.eps, scale, _c.ptr(loss), _c.ptr(g2),
                                             _c.ptr(work), get_num_threads())
        elif backend == "numba":
            from .._numba import boxes as nb
            from .._numba import pick
            fn = pick(nb.box_ser, nb.box_par, 4 * c.n, get_num_threads())
            total = fn(c.p2, c.t2, c.weight, self.kind, c.eps, scale, loss, g2)
        else:
            from ..reference import boxes as ref
            l, g = ref.box_loss(c.p2.astype(np.float64), c.t2.astype(np.float64), self.name, c.eps)
            w = 1.0 if c.weight is None else c.weight.astype(np.float64)
            with np.errstate(all="ignore"):
                wl = w * l
                total = float(np.sum(wl))
                if loss is not None:
                    loss[...] = wl
                if g2 is not None:
                    g2[...] = (scale * w)[..., None] * g if c.weight is not None else scale * g
        if grad is not None:
            if user is not None and grad is not user:
                user[...] = grad
                grad = user
            elif grad.dtype != c.gdtype:
                grad = grad.astype(c.gdtype)
        if op == "grad":
            return grad
        if reduction == "none":
            value = loss.reshape(c.lead)
        elif reduction == "sum":
            value = scalar_of(total, dt)
        else:
            value = mean_of(total, denom, dt)
        return value if op == "value" else (value, grad)


def box_example(rng, n, dtype):
    """About n/4 random box pairs: overlapping, disjoint and nested ones."""
    m = max(1, n // 4)
    xy = rng.uniform(0, 100, (m, 2))
    wh = rng.uniform(1, 50, (m, 2))
    pred = np.concatenate([xy, xy + wh], 1)
    txy = xy + rng.normal(0, 10, (m, 2))
    twh = wh * rng.uniform(0.5, 1.5, (m, 2))
    target = np.concatenate([txy, txy + twh], 1)
    return (pred.astype(dtype), target.astype(dtype)), {}


_PARAMS = """
    Parameters
    ----------
    pred_boxes : array_like, float16/32/64, shape (..., 4)
        Predicted boxes ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``;
        an inverted box is a ValueError naming its index.  Zero-area boxes
        (``x1 == x2`` or ``y1 == y2``) are allowed.
    target_boxes : array_like, shape (..., 4)
        Ground-truth boxes, same shape and convention (integers are cast).
    eps : float, >= 0 (default 1e-7)
        torchvision's ``eps``: added to the union and to the enclosing box's
        area (GIoU) or squared diagonal (DIoU, CIoU), so that disjoint,
        degenerate and identical boxes stay finite.
    weight : array_like, optional (default None)
        Per-box weight, broadcast to the leading shape ``(...)``;
        ``mean`` is ``sum(w * l) / sum(w)`` (SPEC 3a).
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` gives the per-box losses, shape ``(...)``.  (torchvision's
        default is ``"none"``; ``mean`` there is the plain mean, as here
        without weights.)
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
    out : ndarray, optional (``grad``, ``value_and_grad``)
        Preallocated C-contiguous buffer of ``pred_boxes``' shape and dtype.
"""

_NOTES = """
    Notes
    -----
    The gradient is the one PyTorch's autograd gives for torchvision's
    formula: the intersection contributes only where both of its extents are
    positive; where ``x1 == x1g`` (any min/max tie) the gradient is split
    equally between the two sides, so identical boxes have a gradient of order
    ``eps``; the boxes are computed in double precision for both dtypes.  No
    Hessian.  Only ``pred_boxes`` is differentiated (``target_boxes`` is data).
"""

giou = BoxLoss("giou", """Generalized IoU loss (Rezatofighi et al. 2019).

    Per box, with ``I``/``U`` the intersection/union areas and ``C`` the area
    of the smallest enclosing box::

        giou = 1 - I / (U + eps) + (C - U) / (C + eps)

    torchvision ``generalized_box_iou_loss(pred_boxes, target_boxes,
    reduction="mean", eps=eps)``; values in ``[0, 2)``.
""" + _PARAMS + _NOTES + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[0.0, 0.0, 2.0, 2.0]])
    >>> t = np.array([[1.0, 1.0, 3.0, 3.0]])       # I = 1, U = 7, C = 9
    >>> round(float(pl.giou(p, t, eps=0.0)), 6)     # 1 - 1/7 + 2/9
    1.079365

    References
    ----------
    H. Rezatofighi et al., "Generalized Intersection over Union: A Metric and
    a Loss for Bounding Box Regression", CVPR 2019.  torchvision
    ``torchvision/ops/giou_loss.py``.
    """)

diou = BoxLoss("diou", """Distance IoU loss (Zheng et al. 2020).

    Per box, with ``d`` the distance between the two centres and ``c`` the
    diagonal of the smallest enclosing box::

        diou = 1 - I / (U + eps) + d**2 / (c**2 + eps)

    torchvision ``distance_box_iou_loss(pred_boxes, target_boxes,
    reduction="mean", eps=eps)``.
""" + _PARAMS + _NOTES + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[0.0, 0.0, 2.0, 2.0]])
    >>> t = np.array([[1.0, 1.0, 3.0, 3.0]])       # d^2 = 2, c^2 = 18
    >>> round(float(pl.diou(p, t, eps=0.0)), 6)     # 1 - 1/7 + 2/18
    0.968254

    References
    ----------
    Z. Zheng et al., "Distance-IoU Loss: Faster and Better Learning for
    Bounding Box Regression", AAAI 2020.  torchvision
    ``torchvision/ops/diou_loss.py``.
    """)

ciou = BoxLoss("ciou", """Complete IoU loss (Zheng et al. 2020).

    DIoU plus an aspect-ratio term::

        v = 4 / pi**2 * (atan2(wg, hg) - atan2(w, h))**2
        alpha = v / (1 - iou + v + eps)         # a constant for the gradient
        ciou = diou + alpha * v

    torchvision ``complete_box_iou_loss(pred_boxes, target_boxes,
    reduction="mean", eps=eps)``.  torchvision writes ``atan(w / h)``: the same
    for ``h > 0``; ``atan2`` keeps zero-height boxes finite (``pi/2``) and a
    zero-size box at angle 0 with a zero aspect gradient, where torchvision
    gives ``nan``.
""" + _PARAMS + _NOTES + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[0.0, 0.0, 2.0, 2.0]])
    >>> t = np.array([[1.0, 1.0, 3.0, 3.0]])       # same aspect ratio: v = 0
    >>> round(float(pl.ciou(p, t, eps=0.0)), 6)
    0.968254

    References
    ----------
    Z. Zheng et al., "Enhancing Geometric Factors in Model Learning and
    Inference for Object Detection and Instance Segmentation", IEEE TCYB 2021
    (arXiv:2005.03572).  torchvision ``torchvision/ops/ciou_loss.py``.
    """)

# ------------------------------------------------------------------ integration facts
for _box_loss in (giou, diou, ciou):
    _box_loss.declare(weight_applies_to="sample")   # one weight per box

# ------------------------------------------------------------------ bench facts
# The peers `pyloss bench` and the tests compare against (boxes_peers).
from . import boxes_peers as _peers  # noqa: E402

giou.declare(peers=dict(formula=_peers.f_giou))
diou.declare(peers=dict(formula=_peers.f_diou))
ciou.declare(peers=dict(formula=_peers.f_ciou))
