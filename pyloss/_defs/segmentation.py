"""Segmentation losses: dice, iou, tversky and generalized_dice.

All are region-overlap losses over ``pred (N, C, *spatial)`` with the region
options of SPEC 6.4 (``include_background``, ``ignore_index``, ``batch``):
C kernel ``pl_region_<f32|f64>`` (csrc/segmentation_impl.h, the two-pass
driver in csrc/seg_region_impl.h), Numba ``pyloss._numba.segmentation`` and
NumPy reference ``pyloss.reference.segmentation``.  The binding and the
backend plumbing here are shared with ``dice_bce`` (``_defs/combination.py``).
"""
import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._loss import Loss, mean_of, scalar_of

ACTIVATIONS = {None: 0, "sigmoid": 1, "softmax": 2}
KIND_DICE, KIND_DICE_SQ, KIND_IOU, KIND_TVERSKY, KIND_GDL = 0, 1, 2, 3, 4
WEIGHT_TYPES = {"square": 0, "simple": 1, "uniform": 2}
FLAG_IGNORE, FLAG_NOBG, FLAG_BATCH = 1, 2, 4


class RegionCall:
    """Validated inputs of a region loss.  pred3 is pred viewed as (N, C, S);
    exactly one of target3 (N, C, S) and labels2 (N, S) is set."""
    __slots__ = ("pred", "target", "labels", "pred3", "target3", "labels2", "dtype", "gdtype",
                 "shape", "N", "C", "S", "opts")


def check_labels(t, num_classes, name, ignore_index=None):
    """Integer labels in [0, C) (or equal to ignore_index): a ValueError
    naming the first bad value and position."""
    if t.dtype.kind not in "iu":
        raise D.PylossTypeError(
            f"{name}: integer class labels expected for a target of shape {t.shape}, got dtype {t.dtype}")
    t64 = D.contiguous(t, np.dtype(np.int64))
    if t64.size:
        bad = (t64 < 0) | (t64 >= num_classes)
        if ignore_index is not None:
            bad &= t64 != ignore_index
        if bad.any():
            pos = np.unravel_index(int(np.argmax(bad)), t64.shape)
            raise D.PylossValueError(
                f"{name}: class label {int(t64[pos])} at position {tuple(int(i) for i in pos)} "
                f"is outside [0, {num_classes})"
                + ("" if ignore_index is None else f" and is not ignore_index={ignore_index}"))
    return t64


def bind_region(pred, target, pname="pred", tname="target", ignore_index=None):
    """pred (N, C, *spatial) float; target of pred's shape or labels (N, *spatial).
    With ignore_index, labels equal to it are also accepted (c.labels keeps
    them; the kernels get c.labels2 with them replaced by -1)."""
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
        c.labels = check_labels(t, C, tname, ignore_index)
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
    if ignore_index is not None and c.labels is not None:
        c.labels2 = np.where(c.labels2 == ignore_index, np.int64(-1), c.labels2)
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
               reference, originals, flags=0, wtype=0, alpha=0.5, beta=0.5, gamma=1.0):
    """Run a region loss (dice / iou / tversky / generalized_dice / dice_bce)
    on a backend.  flags: FLAG_IGNORE (labels2 < 0 are ignored pixels),
    FLAG_NOBG, FLAG_BATCH (the entries are then the C or C - 1 classes)."""
    dt = c.dtype
    c0 = 1 if flags & FLAG_NOBG else 0
    batch = bool(flags & FLAG_BATCH)
    N = c.C - c0 if batch else c.N          # entries of "none"
    scale = (1.0 / N if N else 1.0) if reduction == "mean" else 1.0
    loss = np.empty(N, dt) if op in ("value", "vg") and reduction == "none" else None
    grad, user_out = (None, None)
    if op in ("grad", "vg"):
        grad, user_out = grad_buffer(out, c, originals)
    if backend == "c":
        total = _c_call(kernel, c, act, kind, bce, smooth, dice_w, bce_w, scale, loss, grad,
                        flags, wtype, alpha, beta, gamma)
    elif backend == "numba":
        from .._numba import pick
        from .._numba import empty_input as _empty_input, no_output
        from .._numba import segmentation as nb
        fn = pick(nb.region_ser, nb.region_par, c.pred.size, get_num_threads())
        # absent inputs and outputs as empty arrays, the inputs read-only as
        # the bound ones (_loss._read_only_inputs): one compiled variant for
        # labels or one-hot targets, with or without per-sample losses
        haslab = c.labels2 is not None
        t3 = _empty_input((0, 0, 0), c.dtype) if haslab else c.target3
        l2 = c.labels2 if haslab else _empty_input((0, 0), np.int64)
        total = fn(c.pred3, t3, l2, haslab, act, kind, bce, float(smooth), float(dice_w),
                   float(bce_w), float(scale), no_output(dt) if loss is None else loss,
                   None if grad is None else grad.reshape(c.N, c.C, c.S),
                   bool(flags & FLAG_IGNORE), c0, batch, int(wtype), float(alpha), float(beta),
                   float(gamma))
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


def _c_call(kernel, c, act, kind, bce, smooth, dice_w, bce_w, scale, loss, grad, flags=0, wtype=0,
            alpha=0.5, beta=0.5, gamma=1.0):
    from .. import _c
    nt = get_num_threads()
    work = np.empty(max(int(_c.lib.pl_seg_work(c.N, c.C, c.S, nt)), 1), np.float64)
    fn = _c.kernel(kernel, c.dtype)
    args = (c.N, c.C, c.S, _c.ptr(c.pred), _c.ptr(c.target), _c.ptr(c.labels2))
    tail = (_c.ptr(loss), _c.ptr(grad), _c.ptr(work), nt)
    if kernel == "region":
        return fn(*args, act, kind, flags, wtype, smooth, alpha, beta, gamma, scale, *tail)
    if kernel == "dice":
        return fn(*args, act, 1 if kind == KIND_DICE_SQ else 0, smooth, scale, *tail)
    if kernel == "iou":
        return fn(*args, act, smooth, scale, *tail)
    return fn(*args, dice_w, bce_w, smooth, scale, *tail)



def _bool_opt(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise D.PylossTypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def region_options(opts):
    """The SPEC 6.4 options shared by dice, iou, tversky and generalized_dice:
    {"include_background", "ignore_index", "batch", "flags"}."""
    ib = _bool_opt("include_background", opts["include_background"])
    batch = _bool_opt("batch", opts["batch"])
    ig = opts["ignore_index"]
    if ig is not None:
        if isinstance(ig, (bool, np.bool_)) or not isinstance(ig, (int, np.integer)):
            raise D.PylossTypeError(
                f"ignore_index: expected None or an integer label, got {type(ig).__name__} {ig!r}")
        ig = int(ig)
    flags = (FLAG_IGNORE if ig is not None else 0) | (0 if ib else FLAG_NOBG) | (FLAG_BATCH if batch else 0)
    return {"include_background": ib, "ignore_index": ig, "batch": batch, "flags": flags}


def _activation(opts):
    fl = D.opt_choice("from_logits", opts["from_logits"], tuple(ACTIVATIONS))
    return fl, ACTIVATIONS[fl]


class RegionLoss(Loss):
    """Shared machinery of the region losses (and, in _defs/combination.py, dice_bce)."""

    kernel = None

    def __init__(self, name, family, inputs, options, doc, example):
        super().__init__(name, family, inputs, inputs[:1], options, doc, hessian=False,
                         example=example)

    def _bind(self, arrays, opts):
        o = self._options(opts)
        ig = o.get("ignore_index")
        c = bind_region(arrays[0], arrays[1], *self.inputs, ignore_index=ig)
        if ig is not None and c.labels is None:
            raise D.PylossValueError(
                f"ignore_index: applies to integer-label targets of shape {(c.N,) + c.shape[2:]}, "
                f"got a {self.inputs[1]} of {self.inputs[0]}'s shape {c.shape} (leave the ignored "
                f"pixels out of a dense target by zeroing them in both arrays)")
        if not o.get("include_background", True) and c.C < 2:
            raise D.PylossValueError(
                f"include_background: False needs at least 2 classes, got C = {c.C} "
                f"({self.inputs[0]} shape {c.shape})")
        c.opts = o
        return c

    def _compute(self, c, backend, reduction, op, out):
        o = c.opts
        return run_region(c, backend, reduction, op, out, kernel=self.kernel, act=o["act"],
                          kind=o["kind"], bce=o.get("bce", 0), smooth=o["smooth"],
                          dice_w=o.get("dice_weight", 1.0), bce_w=o.get("bce_weight", 0.0),
                          reference=self._reference, originals=(c.pred, c.target),
                          flags=o.get("flags", 0), wtype=o.get("wtype", 0),
                          alpha=o.get("alpha", 0.5), beta=o.get("beta", 0.5),
                          gamma=o.get("gamma", 1.0))


class _Region(RegionLoss):
    """dice, iou, tversky and generalized_dice: the general C entry point
    pl_region and the reference pyloss.reference.segmentation.region."""

    kernel = "region"
    ref_kind = None

    def _specific(self, opts):
        return {}

    def _compute(self, c, backend, reduction, op, out):
        o = c.opts
        kernel = self.kernel
        if o["flags"] == 0 and o["kind"] in (KIND_DICE, KIND_DICE_SQ, KIND_IOU):
            # the options at their defaults: the original entry points
            # pl_dice/pl_iou (same arithmetic as pl_region, kept so that
            # these results stay bit-for-bit what they were)
            kernel = "iou" if o["kind"] == KIND_IOU else "dice"
        return run_region(c, backend, reduction, op, out, kernel=kernel, act=o["act"],
                          kind=o["kind"], bce=0, smooth=o["smooth"], dice_w=1.0, bce_w=0.0,
                          reference=self._reference, originals=(c.pred, c.target),
                          flags=o["flags"], wtype=o.get("wtype", 0), alpha=o.get("alpha", 0.5),
                          beta=o.get("beta", 0.5), gamma=o.get("gamma", 1.0))

    def _options(self, opts):
        fl, act = _activation(opts)
        o = {"smooth": D.opt_float("smooth", opts["smooth"], lo=0.0), "act": act,
             "from_logits": fl}
        o.update(region_options(opts))
        o.update(self._specific(opts))
        return o

    def _reference(self, c):
        from ..reference import segmentation as ref
        o = c.opts
        return ref.region(c.pred, c.target if c.target is not None else c.labels, self.ref_kind,
                          smooth=o["smooth"], from_logits=o["from_logits"],
                          squared=o.get("squared", False), alpha=o.get("alpha", 0.5),
                          beta=o.get("beta", 0.5), gamma=o.get("gamma", 1.0),
                          weight_type=o.get("weight_type", "square"),
                          include_background=o["include_background"],
                          ignore_index=o["ignore_index"], batch=o["batch"])


class _Dice(_Region):
    ref_kind = "dice"

    def _specific(self, opts):
        sq = _bool_opt("squared", opts["squared"])
        return {"kind": KIND_DICE_SQ if sq else KIND_DICE, "squared": sq}


class _Iou(_Region):
    ref_kind = "iou"

    def _specific(self, opts):
        return {"kind": KIND_IOU}


class _Tversky(_Region):
    ref_kind = "tversky"

    def _specific(self, opts):
        return {"kind": KIND_TVERSKY, "alpha": D.opt_float("alpha", opts["alpha"], lo=0.0),
                "beta": D.opt_float("beta", opts["beta"], lo=0.0),
                "gamma": D.opt_float("gamma", opts["gamma"], lo=0.0, lo_open=True)}


class _GeneralizedDice(_Region):
    ref_kind = "generalized_dice"

    def _specific(self, opts):
        wt = D.opt_choice("weight_type", opts["weight_type"], tuple(WEIGHT_TYPES))
        if _bool_opt("batch", opts["batch"]):
            raise D.PylossValueError(
                "batch: generalized_dice takes only batch=False (its ratio spans the classes of "
                "one sample), got True")
        return {"kind": KIND_GDL, "weight_type": wt, "wtype": WEIGHT_TYPES[wt]}


def segmentation_example(rng, n, dtype, *, from_logits="softmax"):
    """(N, 4, H, W) logits with one-hot targets, N = 8 at n = 8*4*256*256."""
    C = 4
    side = max(1, int(round((n / (8 * C)) ** 0.5)))
    N = max(1, int(round(n / (C * side * side))))
    x = rng.standard_normal((N, C, side, side)).astype(dtype)
    lab = rng.integers(0, C, size=(N, side, side))
    onehot = (lab[:, None] == np.arange(C)[None, :, None, None]).astype(dtype)
    return (x, onehot), {"from_logits": from_logits}


_ARRAYS = """
    Parameters
    ----------
    pred : array_like, float16/32/64, shape (N, C, *spatial)
        Probabilities, or logits when ``from_logits`` is set.  ``(N, C)`` is
        allowed (no spatial axes); any number of spatial axes (2-D images,
        3-D volumes).
    target : array_like
        Either of ``pred``'s shape (one-hot or soft masks; integers are cast)
        or integer class labels of shape ``(N, *spatial)`` in ``[0, C)`` (one-hot
        implied; any other label, except ``ignore_index``, is a ValueError
        naming value and position)."""

_SMOOTH = """
    smooth : float, >= 0 (default {default})
        Added to numerator and denominator (``s`` above)."""

_OPTIONS = """
    from_logits : None, "sigmoid" or "softmax" (default None)
        Apply the logistic sigmoid elementwise, or the softmax over axis 1,
        before the overlap; the gradient is then w.r.t. the logits, through
        the sigmoid/softmax Jacobian.  The softmax always spans all C
        classes, also with ``include_background=False`` (as MONAI).
    include_background : bool (default True)
        False leaves class 0 out of the class mean{gdl_bg}; its
        logits still get a gradient through the softmax.  Needs ``C >= 2``
        (a ValueError otherwise).
    ignore_index : int or None (default None)
        With integer-label targets only (a ValueError for a dense target):
        pixels with this label leave every sum, prediction included, and get
        a zero gradient.  A sample whose pixels are all ignored has the ratio
        ``1 - s/s = 0`` and still counts in the mean (as MONAI).  May be any
        integer, inside ``[0, C)`` (that class is then ignored wherever it is
        the label) or not (255, -100, ...).
    batch : bool (default False)
        {batch_doc}
    reduction : {{"mean", "sum", "none"}} (default "mean")
        ``"none"``: the per-sample losses, shape ``(N,)`` (``batch=True``: the
        per-class losses, shape ``(C,)`` or ``(C - 1,)``); ``mean`` and ``sum``
        reduce that array.
    backend : {{"auto", "c", "numba", "numpy"}} (default "auto")
    out : ndarray, optional (``grad``, ``value_and_grad``)
        Preallocated C-contiguous buffer of ``pred``'s shape and dtype.
"""

_BATCH_PER_CLASS = """True: one ratio per class with the sums taken over the whole
        batch (MONAI ``batch=True``); the loss is the mean of those (an
        empty batch gives ``1 - s/s = 0`` per class)."""

_NOTES = """
    ``grad`` is the gradient of the returned value (``1/N`` for ``mean``;
    for ``"none"`` the gradient of the sum).  No Hessian, no ``weight``.
    Sums are accumulated in fixed blocks combined in double, the same for
    any thread count.
"""


def _doc(summary, extra_params, notes, examples, smooth_default, *, gdl=False):
    opts = _OPTIONS.format(
        gdl_bg=" (from the class sums of the ratio and the weights)" if gdl else "",
        batch_doc=("Only False: the ratio spans the classes of one sample, so a\n"
                   "        batch ratio is a ValueError here." if gdl else _BATCH_PER_CLASS))
    return (summary + _ARRAYS + _SMOOTH.format(default=smooth_default) + extra_params + opts
            + "\n    Notes\n    -----" + notes + _NOTES + examples)


_REFS = """
    References
    ----------
    .. [1] F. Milletari, N. Navab, S.-A. Ahmadi, "V-Net: Fully convolutional
       neural networks for volumetric medical image segmentation", 3DV 2016.
    .. [2] MONAI ``monai.losses.DiceLoss``, https://docs.monai.io/en/stable/losses.html
"""

dice = _Dice("dice", "segmentation", ("pred", "target"),
             {"smooth": 1.0, "from_logits": None, "squared": False, "include_background": True,
              "ignore_index": None, "batch": False},
             _doc("""Soft Dice loss (Milletari et al. 2016; squared form of V-Net).

    Per sample ``n`` and class ``c``, with ``p = act(pred)`` and sums over the
    spatial positions that are not ignored::

        dice_nc = 1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)

    (``squared=True``: ``sum(p**2) + sum(t**2)`` in the denominator), and the
    per-sample loss is ``mean_c dice_nc`` over the classes kept.
""", """
    squared : bool (default False)
        ``sum(p**2) + sum(t**2)`` in the denominator (MONAI ``squared_pred``).""", """
    This is MONAI's ``DiceLoss(smooth_nr=s, smooth_dr=s, squared_pred=squared,
    include_background=..., batch=..., ignore_index=..., reduction="mean")``
    (MONAI's ``"none"``/``"sum"`` keep or add the ``(N, C)`` terms, pyloss's
    reduce the per-sample class means).  segmentation_models_pytorch's
    ``DiceLoss`` sums over the batch (our ``batch=True``), zeroes the terms of
    classes absent from the target and adds ``smooth`` only where the
    denominator is ``clamp_min(eps)``-ed.
""", """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])   # (N=1, C=2, 2 pixels)
    >>> t = np.array([[0, 1]])                      # labels
    >>> round(float(pl.dice(p, t, smooth=0.0)), 6)
    0.150376
    >>> round(float(pl.dice(p, t, smooth=0.0, include_background=False)), 6)  # class 1 only
    0.157895
    >>> t2 = np.array([[1, 255]])                   # pixel 2 ignored
    >>> round(float(pl.dice(p, t2, smooth=0.0, ignore_index=255,
    ...                     include_background=False)), 6)   # 1 - 2*0.1/(0.1 + 1)
    0.818182
""" + _REFS, "1.0"), segmentation_example)

iou = _Iou("iou", "segmentation", ("pred", "target"),
           {"smooth": 1.0, "from_logits": None, "include_background": True, "ignore_index": None,
            "batch": False},
           _doc("""Soft Jaccard (IoU) loss.

    Per sample ``n`` and class ``c``, with ``p = act(pred)``::

        iou_nc = 1 - (sum(p t) + s) / (sum(p) + sum(t) - sum(p t) + s)

    averaged over the classes kept per sample.
""", "", """
    MONAI ``DiceLoss(jaccard=True, smooth_nr=2*s, smooth_dr=2*s)`` with the
    same options (MONAI's Jaccard is ``1 - (2 I + s_nr) / (2 U + s_dr)``, so
    its smoothing counts half); ``tversky(alpha=1, beta=1)`` is the same loss.
""", """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])
    >>> t = np.array([[0, 1]])
    >>> round(float(pl.iou(p, t, smooth=0.0)), 6)
    0.261364
    >>> pl.iou(p, t, smooth=0.0, batch=True, reduction="none").round(6)  # per class
    array([0.25    , 0.272727])
""" + _REFS, "1.0"), segmentation_example)

tversky = _Tversky("tversky", "segmentation", ("pred", "target"),
                   {"alpha": 0.5, "beta": 0.5, "gamma": 1.0, "smooth": 1.0, "from_logits": None,
                    "include_background": True, "ignore_index": None, "batch": False},
                   _doc("""Tversky loss and focal Tversky loss (Salehi et al. 2017; Abraham and Khan 2019).

    Per sample ``n`` and class ``c``, with ``p = act(pred)``, ``TP = sum(p t)``,
    ``FP = sum(p (1 - t))``, ``FN = sum((1 - p) t)`` over the pixels kept::

        tversky_nc = (1 - (TP + s) / (TP + alpha FP + beta FN + s)) ** gamma

    and the per-sample loss is ``mean_c tversky_nc``.  ``alpha = beta = 0.5``
    is Dice, ``alpha = beta = 1`` is ``iou``; ``beta > alpha`` weighs missed
    foreground more (small structures).
""", """
    alpha : float, >= 0 (default 0.5)
        Weight of the false positives ``FP``.
    beta : float, >= 0 (default 0.5)
        Weight of the false negatives ``FN``.
    gamma : float, > 0 (default 1.0)
        Focal power, taken per class before the class mean (SPEC 6.4).  At a
        perfect class term (base 0) its derivative is taken as 0, also for
        ``gamma < 1`` where the one-sided derivative is infinite.""", """
    With ``gamma = 1`` this is MONAI's ``TverskyLoss(alpha, beta, smooth_nr=s,
    smooth_dr=s)`` with the same ``include_background``, ``batch``,
    ``ignore_index``, sigmoid/softmax.  segmentation_models_pytorch's
    ``TverskyLoss`` raises the *class mean* to ``gamma``
    (``loss.mean() ** gamma``), sums over the batch and zeroes absent
    classes; pyloss takes the power per class (SPEC 6.4), so the two agree
    only for ``gamma = 1``.  MONAI has no ``gamma``.
""", """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])
    >>> t = np.array([[0, 1]])
    >>> bool(np.isclose(pl.tversky(p, t, alpha=1.0, beta=1.0), pl.iou(p, t)))
    True
    >>> round(float(pl.tversky(p, t, alpha=0.3, beta=0.7, gamma=0.75, smooth=0.0)), 6)
    0.241311

    References
    ----------
    .. [1] S. S. M. Salehi, D. Erdogmus, A. Gholipour, "Tversky loss function
       for image segmentation using 3D fully convolutional deep networks",
       MLMI 2017.
    .. [2] N. Abraham, N. M. Khan, "A novel focal Tversky loss function with
       improved attention U-Net for lesion segmentation", ISBI 2019.
    .. [3] MONAI ``monai.losses.TverskyLoss``.
""", "1.0"), segmentation_example)

generalized_dice = _GeneralizedDice(
    "generalized_dice", "segmentation", ("pred", "target"),
    {"weight_type": "square", "smooth": 1e-5, "from_logits": None, "include_background": True,
     "ignore_index": None, "batch": False},
    _doc("""Generalized Dice loss (Sudre et al. 2017), as MONAI's GeneralizedDiceLoss.

    Per sample, with ``p = act(pred)`` and sums over the pixels kept, class
    weights ``w_c = 1 / sum(t_c)**2`` (``"simple"``: ``1 / sum(t_c)``,
    ``"uniform"``: 1); a weight that is infinite (a class absent from the
    sample) is replaced by the sample's largest finite weight, or 0 when
    there is none; then::

        gdl_n = 1 - (2 sum_c w_c sum(p t) + s) / (sum_c w_c (sum(p) + sum(t)) + s)

    One ratio per sample (spanning the classes), so ``"none"`` is ``(N,)``.
""", """
    weight_type : {"square", "simple", "uniform"} (default "square")
        The class weights ``w_c`` above (MONAI ``w_type``).""", """
    The weights are constants for the gradient (MONAI computes them from the
    target only).  Equals ``monai.losses.GeneralizedDiceLoss(w_type=...,
    smooth_nr=s, smooth_dr=s, include_background=..., sigmoid/softmax)``;
    MONAI computes the weights in float32 even for float64 inputs and also
    offers ``batch=True`` (one ratio over the batch), which SPEC 6.4 rules
    out here.
""", """
    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])
    >>> t = np.array([[0, 1]])
    >>> round(float(pl.generalized_dice(p, t, smooth=0.0)), 6)   # w = 1, 1
    0.15
    >>> round(float(pl.generalized_dice(p, t, weight_type="uniform", smooth=0.0)), 6)
    0.15

    References
    ----------
    .. [1] C. H. Sudre, W. Li, T. Vercauteren, S. Ourselin, M. J. Cardoso,
       "Generalised Dice overlap as a deep learning loss function for highly
       unbalanced segmentations", DLMIA 2017.
    .. [2] MONAI ``monai.losses.GeneralizedDiceLoss``.
""", "1e-5", gdl=True), segmentation_example)

# ------------------------------------------------------------------ bench facts
# `pyloss bench` and the tests: an exp per element from logits, and the peers
# compared against, for one-hot targets (written out in segmentation_peers).
from . import segmentation_peers as _peers  # noqa: E402

for _region_loss, _region_formula in ((dice, _peers.f_dice), (iou, _peers.f_iou),
                                      (tversky, _peers.f_tversky),
                                      (generalized_dice, _peers.f_generalized_dice)):
    _region_loss.declare(bench_cost=_peers.from_logits_cost, peers_apply=_peers.one_hot_targets,
                         peers=dict(formula=_region_formula))
