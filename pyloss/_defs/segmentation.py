"""Segmentation losses: dice and iou (soft Dice and soft Jaccard).

Both are region-overlap losses over ``pred (N, C, *spatial)``: C kernels
``pl_dice_<f32|f64>``/``pl_iou_<f32|f64>`` (csrc/segmentation_impl.h, the
two-pass driver in csrc/seg_region_impl.h), Numba ``pyloss._numba.segmentation``
and NumPy reference ``pyloss.reference.segmentation``.  The binding and the
backend plumbing here are shared with ``dice_bce`` (``_defs/combination.py``).
"""
import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._loss import Loss, mean_of, scalar_of

ACTIVATIONS = {None: 0, "sigmoid": 1, "softmax": 2}
KIND_DICE, KIND_DICE_SQ, KIND_IOU = 0, 1, 2


class RegionCall:
    """Validated inputs of a region loss.  pred3 is pred viewed as (N, C, S);
    exactly one of target3 (N, C, S) and labels2 (N, S) is set."""
    __slots__ = ("pred", "target", "labels", "pred3", "target3", "labels2", "dtype", "gdtype",
                 "shape", "N", "C", "S", "opts")


def check_labels(t, num_classes, name):
    """Integer labels in [0, C): a ValueError naming the first bad value and position."""
    if t.dtype.kind not in "iu":
        raise D.PylossTypeError(
            f"{name}: integer class labels expected for a target of shape {t.shape}, got dtype {t.dtype}")
    t64 = D.contiguous(t, np.dtype(np.int64))
    if t64.size:
        bad = (t64 < 0) | (t64 >= num_classes)
        if bad.any():
            pos = np.unravel_index(int(np.argmax(bad)), t64.shape)
            raise D.PylossValueError(
                f"{name}: class label {int(t64[pos])} at position {tuple(int(i) for i in pos)} "
                f"is outside [0, {num_classes})")
    return t64


def bind_region(pred, target, pname="pred", tname="target"):
    """pred (N, C, *spatial) float; target of pred's shape or labels (N, *spatial)."""
    c = RegionCall()
    p = D.float_input(pred, pname)
    if p.ndim < 2:
        raise D.PylossValueError(
            f"{pname}: expected shape (N, C, *spatial) with at least 2 dimensions, got shape {p.shape}")
    t = D.real_input(target, tname)
    N, C = p.shape[0], p.shape[1]
    S = int(np.prod(p.shape[2:], dtype=np.int64))
    label_shape = (N,) + p.shape[2:]
    if t.shape == p.shape:
        c.dtype = dt = D.compute_dtype(p, t if t.dtype.kind == "f" else None)
        c.target = D.contiguous(t, dt)
        c.labels = None
    elif t.shape == label_shape:
        c.dtype = dt = D.compute_dtype(p)
        c.labels = check_labels(t, C, tname)
        c.target = None
    else:
        raise D.PylossValueError(
            f"{tname}: shape {t.shape} matches neither {pname} shape {p.shape} (one-hot or soft "
            f"target) nor {label_shape} (integer labels)")
    c.gdtype = D.grad_dtype(p)
    c.shape = p.shape
    c.pred = D.contiguous(p, dt)
    c.N, c.C, c.S = N, C, S
    c.pred3 = c.pred.reshape(N, C, S)
    c.target3 = None if c.target is None else c.target.reshape(N, C, S)
    c.labels2 = None if c.labels is None else c.labels.reshape(N, S)
    return c


def grad_buffer(out, c, inputs):
    """(buffer the kernel writes, out or None).  A separate buffer when out has
    another dtype or shares memory with an input (SPEC 3a: same result)."""
    if out is None:
        return np.empty(c.shape, c.dtype), None
    D.check_out(out, c.shape, c.gdtype, "out")
    if out.dtype != c.dtype or any(a is not None and np.may_share_memory(out, a) for a in inputs):
        return np.empty(c.shape, c.dtype), out
    return out, None


def finish_grad(buf, out, gdtype):
    if out is not None:
        if buf is not out:
            out[...] = buf
        return out
    return buf if buf.dtype == gdtype else buf.astype(gdtype)


def reduce_value(total, loss, reduction, n, dt):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return scalar_of(total, dt)
    return mean_of(total, n, dt)


def run_region(c, backend, reduction, op, out, *, kernel, act, kind, bce, smooth, dice_w, bce_w,
               reference, originals):
    """Run a region loss (dice / iou / dice_bce) on a backend."""
    dt, N = c.dtype, c.N
    scale = (1.0 / N if N else 1.0) if reduction == "mean" else 1.0
    loss = np.empty(N, dt) if op in ("value", "vg") and reduction == "none" else None
    grad, user_out = (None, None)
    if op in ("grad", "vg"):
        grad, user_out = grad_buffer(out, c, originals)
    if backend == "c":
        total = _c_call(kernel, c, act, kind, bce, smooth, dice_w, bce_w, scale, loss, grad)
    elif backend == "numba":
        from .._numba import parallel_ok
        from .._numba import segmentation as nb
        fn = nb.region_par if parallel_ok(c.pred.size) else nb.region_ser
        haslab = c.labels2 is not None
        t3 = np.zeros((0, 0, 0), c.dtype) if haslab else c.target3
        l2 = c.labels2 if haslab else np.zeros((0, 0), np.int64)
        total = fn(c.pred3, t3, l2, haslab, act, kind, bce, float(smooth), float(dice_w),
                   float(bce_w), float(scale), loss,
                   None if grad is None else grad.reshape(c.N, c.C, c.S))
    else:
        per_sample, g = reference(c)
        total = float(np.sum(per_sample))
        if loss is not None:
            loss[...] = per_sample
        if grad is not None:
            grad[...] = scale * g
    value = None if op == "grad" else reduce_value(total, loss, reduction, N, dt)
    if grad is None:
        return value
    g = finish_grad(grad, user_out, c.gdtype)
    return g if op == "grad" else (value, g)


def _c_call(kernel, c, act, kind, bce, smooth, dice_w, bce_w, scale, loss, grad):
    from .. import _c
    nt = get_num_threads()
    work = np.empty(max(int(_c.lib.pl_seg_work(c.N, c.C, c.S, nt)), 1), np.float64)
    fn = _c.kernel(kernel, c.dtype)
    args = (c.N, c.C, c.S, _c.ptr(c.pred), _c.ptr(c.target), _c.ptr(c.labels))
    tail = (_c.ptr(loss), _c.ptr(grad), _c.ptr(work), nt)
    if kernel == "dice":
        return fn(*args, act, 1 if kind == KIND_DICE_SQ else 0, smooth, scale, *tail)
    if kernel == "iou":
        return fn(*args, act, smooth, scale, *tail)
    return fn(*args, dice_w, bce_w, smooth, scale, *tail)



def _bool_opt(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise D.PylossTypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


class RegionLoss(Loss):
    """Shared machinery of dice and iou (and, in _defs/combination.py, dice_bce)."""

    kernel = None

    def __init__(self, name, family, inputs, options, doc, example):
        super().__init__(name, family, inputs, inputs[:1], options, doc, hessian=False,
                         example=example)

    def _bind(self, arrays, opts):
        c = bind_region(arrays[0], arrays[1], *self.inputs)
        c.opts = self._options(opts)
        return c

    def _compute(self, c, backend, reduction, op, out):
        o = c.opts
        return run_region(c, backend, reduction, op, out, kernel=self.kernel, act=o["act"],
                          kind=o["kind"], bce=o.get("bce", 0), smooth=o["smooth"],
                          dice_w=o.get("dice_weight", 1.0), bce_w=o.get("bce_weight", 0.0),
                          reference=self._reference, originals=(c.pred, c.target))


class _Dice(RegionLoss):
    kernel = "dice"

    def _options(self, opts):
        smooth = D.opt_float("smooth", opts["smooth"], lo=0.0)
        act = ACTIVATIONS[D.opt_choice("from_logits", opts["from_logits"], tuple(ACTIVATIONS))]
        sq = _bool_opt("squared", opts["squared"])
        return {"smooth": smooth, "act": act, "kind": KIND_DICE_SQ if sq else KIND_DICE,
                "from_logits": opts["from_logits"], "squared": sq}

    def _reference(self, c):
        from ..reference import segmentation as ref
        o = c.opts
        return ref.dice(c.pred, c.target if c.target is not None else c.labels,
                        smooth=o["smooth"], from_logits=o["from_logits"], squared=o["squared"])


class _Iou(RegionLoss):
    kernel = "iou"

    def _options(self, opts):
        smooth = D.opt_float("smooth", opts["smooth"], lo=0.0)
        act = ACTIVATIONS[D.opt_choice("from_logits", opts["from_logits"], tuple(ACTIVATIONS))]
        return {"smooth": smooth, "act": act, "kind": KIND_IOU, "from_logits": opts["from_logits"]}

    def _reference(self, c):
        from ..reference import segmentation as ref
        o = c.opts
        return ref.iou(c.pred, c.target if c.target is not None else c.labels,
                       smooth=o["smooth"], from_logits=o["from_logits"])


def segmentation_example(rng, n, dtype, *, from_logits="softmax"):
    """(N, 4, H, W) logits with one-hot targets, N = 8 at n = 8*4*256*256."""
    C = 4
    side = max(1, int(round((n / (8 * C)) ** 0.5)))
    N = max(1, int(round(n / (C * side * side))))
    x = rng.standard_normal((N, C, side, side)).astype(dtype)
    lab = rng.integers(0, C, size=(N, side, side))
    onehot = (lab[:, None] == np.arange(C)[None, :, None, None]).astype(dtype)
    return (x, onehot), {"from_logits": from_logits}


_COMMON = """
    Parameters
    ----------
    pred : array_like, float16/32/64, shape (N, C, *spatial)
        Probabilities, or logits when ``from_logits`` is set.  ``(N, C)`` is
        allowed (no spatial axes).
    target : array_like
        Either of ``pred``'s shape (one-hot or soft masks; integers are cast)
        or integer class labels of shape ``(N, *spatial)`` in ``[0, C)`` (one-hot
        implied; any other label is a ValueError naming value and position).
    smooth : float, >= 0 (default 1.0)
        Added to numerator and denominator (``s`` above).
    from_logits : None, "sigmoid" or "softmax" (default None)
        Apply the logistic sigmoid elementwise, or the softmax over axis 1,
        before the overlap; the gradient is then w.r.t. the logits, through
        the sigmoid/softmax Jacobian.
"""

_TAIL = """    reduction : {"mean", "sum", "none"}
        Over the batch: ``mean`` of the per-sample losses, their ``sum``, or
        ``"none"``: the per-sample losses, shape ``(N,)``.
    backend : {"auto", "c", "numba", "numpy"}
    out : ndarray, optional (``grad``, ``value_and_grad``)
        Preallocated C-contiguous buffer of ``pred``'s shape and dtype.

    Notes
    -----
    Sums run over the spatial positions of each (sample, class) and the
    per-class terms are averaged over the C classes (including classes absent
    from a sample, whose term is 0 only through ``smooth``).  ``grad`` is the
    gradient of the returned value (``1/N`` for ``mean``; for ``"none"`` the
    gradient of the sum).  No Hessian.  float32 sums are accumulated in
    blocks combined in double, the same for any thread count.
"""

dice = _Dice("dice", "segmentation", ("pred", "target"),
             {"smooth": 1.0, "from_logits": None, "squared": False},
             """Soft Dice loss (Milletari et al. 2016; squared form of V-Net).

    Per sample ``n`` and class ``c``, with ``p = act(pred)`` and sums over the
    spatial positions::

        dice_nc = 1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)

    (``squared=True``: ``sum(p**2) + sum(t**2)`` in the denominator), and the
    per-sample loss is ``mean_c dice_nc``.  This is the formula of MONAI's
    ``DiceLoss(smooth_nr=s, smooth_dr=s, squared_pred=squared,
    reduction="mean")`` per sample with ``include_background=True``, and of
    segmentation_models_pytorch's soft Dice with ``smooth=s`` summed
    per sample.
""" + _COMMON + """    squared : bool (default False)
        Use ``sum(p**2) + sum(t**2)`` in the denominator (V-Net's form).
""" + _TAIL + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])   # (N=1, C=2, 2 pixels)
    >>> t = np.array([[0, 1]])                      # labels
    >>> round(float(pl.dice(p, t, smooth=0.0)), 6)
    0.150376
    """, segmentation_example)

iou = _Iou("iou", "segmentation", ("pred", "target"), {"smooth": 1.0, "from_logits": None},
           """Soft Jaccard (IoU) loss.

    Per sample ``n`` and class ``c``, with ``p = act(pred)``::

        iou_nc = 1 - (sum(p t) + s) / (sum(p) + sum(t) - sum(p t) + s)

    averaged over classes per sample (MONAI ``DiceLoss(jaccard=True)`` with
    ``smooth_nr = smooth_dr = s``).
""" + _COMMON + _TAIL + """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])
    >>> t = np.array([[0, 1]])
    >>> round(float(pl.iou(p, t, smooth=0.0)), 6)
    0.261364
    """, segmentation_example)
