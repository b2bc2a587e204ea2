"""Combination losses: dice_bce and focal_smooth_l1 (RetinaNet).

Each is one fused kernel per backend: C ``pl_dice_bce_*`` /
``pl_focal_smooth_l1_*`` (csrc/combination_impl.h), Numba
``pyloss._numba.combination`` and NumPy reference
``pyloss.reference.combination``.
"""
import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._loss import Loss, mean_of, scalar_of
from .segmentation import ACTIVATIONS, KIND_DICE, RegionLoss, finish_grad, segmentation_example


class _DiceBce(RegionLoss):
    kernel = "dice_bce"

    def _options(self, opts):
        return {"smooth": D.opt_float("smooth", opts["smooth"], lo=0.0),
                "dice_weight": D.opt_float("dice_weight", opts["dice_weight"]),
                "bce_weight": D.opt_float("bce_weight", opts["bce_weight"]),
                "act": ACTIVATIONS["sigmoid"], "kind": KIND_DICE, "bce": 1}

    def _reference(self, c):
        from ..reference import combination as ref
        o = c.opts
        return ref.dice_bce(c.pred, c.target if c.target is not None else c.labels,
                            dice_weight=o["dice_weight"], bce_weight=o["bce_weight"],
                            smooth=o["smooth"])


def _dice_bce_example(rng, n, dtype):
    (x, t), _ = segmentation_example(rng, n, dtype)
    return (x, t), {}


dice_bce = _DiceBce("dice_bce", "combination", ("logits", "target"),
                    {"dice_weight": 1.0, "bce_weight": 1.0, "smooth": 1.0},
                    """Sigmoid soft Dice plus BCE-with-logits, in one fused pass.

    With ``p = sigmoid(logits)`` and per sample ``n``::

        dice_n = mean_c [1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)]
        bce_n  = mean over the sample's C * prod(spatial) elements of
                 max(x, 0) - x t + log1p(exp(-|x|))
        loss_n = dice_weight * dice_n + bce_weight * bce_n

    (SPEC 3a).  ``mean`` is ``dice_weight * mean_n(dice_n) + bce_weight *
    mean(all BCE elements)`` -- every sample has the same element count, so
    this is ``mean_n(loss_n)``, which equals
    ``dice_weight * pl.dice(logits, target, smooth=s, from_logits="sigmoid")
    + bce_weight * F.binary_cross_entropy_with_logits(logits, target)``;
    ``sum`` is ``sum_n loss_n`` and ``"none"`` is ``loss_n``, shape ``(N,)``.

    Parameters
    ----------
    logits : array_like, float16/32/64, shape (N, C, *spatial)
    target : array_like
        Masks of ``logits``' shape in [0, 1] (one-hot, multi-label or soft;
        integers are cast), or integer class labels of shape
        ``(N, *spatial)`` in ``[0, C)``, taken as their one-hot encoding for
        both terms (any other label is a ValueError naming value and
        position).
    dice_weight, bce_weight : float (default 1.0)
        Multipliers of the two terms (any real number).
    smooth : float, >= 0 (default 1.0)
        Added to the Dice numerator and denominator.
    reduction : {"mean", "sum", "none"}
    backend : {"auto", "c", "numba", "numpy"}
    out : ndarray, optional (``grad``, ``value_and_grad``)

    Notes
    -----
    The gradient is w.r.t. the logits: ``dice_weight`` times the Dice
    gradient through the sigmoid plus ``bce_weight * (p - t) / (C * S)``,
    with ``1/N`` for ``mean``.  One pass accumulates the Dice sums and the
    BCE sum (one ``exp`` serves both), one more writes the gradient.  No
    Hessian.

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> x = np.array([[[2.0, -1.0], [-2.0, 1.0]]])   # (N=1, C=2, 2 pixels)
    >>> t = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> round(float(pl.dice_bce(x, t, smooth=0.0)), 6)
    0.415261

    References
    ----------
    Milletari et al., "V-Net", 2016; the Dice + BCE combination of
    segmentation_models_pytorch / MONAI ``DiceCELoss(sigmoid=True)``.
    """, _dice_bce_example)


class _FslCall:
    __slots__ = ("x", "t", "bp", "bt", "dtype", "g_cls_dtype", "g_box_dtype", "shape", "A", "K",
                 "D", "alpha", "gamma", "beta")


class _FocalSmoothL1(Loss):

    def _bind(self, arrays, opts):
        c = _FslCall()
        x = D.float_input(arrays[0], "cls_logits")
        t = D.real_input(arrays[1], "cls_target")
        bp = D.float_input(arrays[2], "box_pred")
        bt = D.real_input(arrays[3], "box_target")
        if x.ndim != 2:
            raise D.PylossValueError(f"cls_logits: expected shape (A, K), got shape {x.shape}")
        D.same_shape(x, t, "cls_logits", "cls_target")
        if bp.ndim != 2 or bp.shape[0] != x.shape[0]:
            raise D.PylossValueError(
                f"box_pred: expected shape ({x.shape[0]}, 4) (one row per anchor of cls_logits "
                f"shape {x.shape}), got shape {bp.shape}")
        D.same_shape(bp, bt, "box_pred", "box_target")
        c.dtype = dt = D.compute_dtype(x, bp, t if t.dtype.kind == "f" else None,
                                       bt if bt.dtype.kind == "f" else None)
        c.g_cls_dtype = D.grad_dtype(x)
        c.g_box_dtype = D.grad_dtype(bp)
        c.shape = (x.shape, bp.shape)
        c.x, c.t = D.contiguous(x, dt), D.contiguous(t, dt)
        c.bp, c.bt = D.contiguous(bp, dt), D.contiguous(bt, dt)
        c.A, c.K = x.shape
        c.D = bp.shape[1]
        c.alpha = D.opt_float("alpha", opts["alpha"])
        c.gamma = D.opt_float("gamma", opts["gamma"], lo=0.0)
        c.beta = D.opt_float("beta", opts["beta"], lo=0.0)
        return c

    def _outs(self, c, out):
        shapes = ((c.A, c.K), (c.A, c.D))
        dts = (c.g_cls_dtype, c.g_box_dtype)
        if out is None:
            return [np.empty(s, c.dtype) for s in shapes], (None, None)
        if not isinstance(out, tuple) or len(out) != 2:
            raise D.PylossTypeError(
                f"out: expected a tuple (g_cls_logits, g_box_pred) of two arrays, got {type(out).__name__}")
        for o, s, d, nm in zip(out, shapes, dts, ("out[0]", "out[1]")):
            D.check_out(o, s, d, nm)
        if np.may_share_memory(out[0], out[1]):
            raise D.PylossValueError("out: the two gradient buffers share memory")
        inputs = (c.x, c.t, c.bp, c.bt)
        bufs = []
        for o in out:
            if o.dtype != c.dtype or any(np.may_share_memory(o, a) for a in inputs):
                bufs.append(np.empty(o.shape, c.dtype))
            else:
                bufs.append(o)
        return bufs, out

    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        normalize = reduction == "mean"
        loss = np.empty(c.A, dt) if op in ("value", "vg") and reduction == "none" else None
        grads = (None, None)
        user = (None, None)
        if op in ("grad", "vg"):
            grads, user = self._outs(c, out)
        gc, gb = grads
        if backend == "c":
            from .. import _c
            npos = _c.ffi.new("int64_t *")
            total = _c.kernel("focal_smooth_l1", dt)(
                c.A, c.K, c.D, _c.ptr(c.x), _c.ptr(c.t), _c.ptr(c.bp), _c.ptr(c.bt), c.alpha,
                c.gamma, c.beta, 1 if normalize else 0, _c.ptr(loss), _c.ptr(gc), _c.ptr(gb),
                npos, get_num_threads())
            npos = int(npos[0])
        elif backend == "numba":
            from .._numba import combination as nb
            from .._numba import pick
            fn = pick(nb.focal_smooth_l1_ser, nb.focal_smooth_l1_par, c.x.size, get_num_threads())
            hg = gc is not None
            # the options in the input's type, as the C kernel takes them
            total, npos = fn(c.x, c.t, c.bp, c.bt, dt.type(c.alpha), dt.type(c.gamma),
                             dt.type(c.beta), normalize,
                             loss if loss is not None else np.empty(0, dt), loss is not None,
                             gc if hg else np.empty((0, 0), dt), gb if hg else np.empty((0, 0), dt),
                             hg)
            npos = int(npos)
        else:
            from ..reference import combination as ref
            per, g1, g2, npos = ref.focal_smooth_l1(c.x, c.t, c.bp, c.bt, alpha=c.alpha,
                                                    gamma=c.gamma, beta=c.beta)
            total = float(np.sum(per))
            if loss is not None:
                loss[...] = per
            if gc is not None:
                sc = 1.0 / max(1, npos) if normalize else 1.0
                gc[...] = sc * g1
                gb[...] = sc * g2
        if reduction == "none":
            value = loss
        elif reduction == "sum":
            value = scalar_of(total, dt)
        else:
            value = mean_of(total, max(1, npos), dt)
        if gc is None:
            return value
        g = (finish_grad(gc, user[0], c.g_cls_dtype), finish_grad(gb, user[1], c.g_box_dtype))
        return g if op == "grad" else (value, g)


def _fsl_example(rng, n, dtype):
    K = 80
    A = max(1, n // (K + 4))
    x = rng.standard_normal((A, K)).astype(dtype) - 4.0
    t = np.zeros((A, K), dtype)
    pos = rng.random(A) < 0.05
    t[np.flatnonzero(pos), rng.integers(0, K, int(pos.sum()))] = 1
    bp = rng.standard_normal((A, 4)).astype(dtype)
    bt = rng.standard_normal((A, 4)).astype(dtype)
    return (x, t, bp, bt), {}


focal_smooth_l1 = _FocalSmoothL1(
    "focal_smooth_l1", "combination", ("cls_logits", "cls_target", "box_pred", "box_target"),
    ("cls_logits", "box_pred"), {"alpha": 0.25, "gamma": 2.0, "beta": 1.0 / 9.0},
    """RetinaNet detection loss: sigmoid focal + smooth-L1, normalised by positives.

    With ``p = sigmoid(x)``, ``ce = BCE-with-logits(x, t)``,
    ``p_t = p t + (1 - p)(1 - t)`` and ``a_t = alpha t + (1 - alpha)(1 - t)``
    (1 when ``alpha < 0``)::

        focal[a, k] = a_t * ce * (1 - p_t)**gamma     (torchvision sigmoid_focal_loss)
        box[a, d]   = smooth_l1(box_pred - box_target; beta)   if anchor a is positive
        term[a]     = sum_k focal[a, k] + sum_d box[a, d]

    An anchor is positive when any of its class targets is > 0.  ``mean``
    (default) is ``sum_a term[a] / max(1, number of positive anchors)``: the
    RetinaNet normalisation (torchvision ``RetinaNet``/detectron2: focal summed
    over every anchor and class, box loss summed over positive anchors, both
    divided by the positive count).  ``sum`` is the unnormalised total and
    ``"none"`` the unnormalised per-anchor terms ``(A,)``, which add up to
    ``sum`` (SPEC 3a).

    Parameters
    ----------
    cls_logits : array_like, float, shape (A, K)
    cls_target : array_like, shape (A, K)
        Class targets in [0, 1] (one-hot rows for positives, zeros for
        background; soft values allowed).
    box_pred : array_like, float, shape (A, 4)
        Box regression outputs (any width D is accepted, (A, D)).
    box_target : array_like, shape (A, 4)
    alpha : float (default 0.25)
        Balance of positives; ``alpha < 0`` disables the alpha term.
    gamma : float, >= 0 (default 2.0)
        Focusing exponent (``gamma = 2`` is computed as a multiply).
    beta : float, >= 0 (default 1/9)
        Smooth-L1 threshold (``beta = 0`` is L1), PyTorch ``smooth_l1_loss``.
    reduction : {"mean", "sum", "none"}
    backend : {"auto", "c", "numba", "numpy"}
    out : tuple of two ndarrays, optional (``grad``, ``value_and_grad``)
        Buffers for ``(g_cls_logits, g_box_pred)``.

    Returns
    -------
    value, or for ``grad`` the tuple ``(g_cls_logits, g_box_pred)``.

    Notes
    -----
    The focal gradient is written with ``r = p(1-p) / (1 - p_t)``, bounded by
    2, so it stays finite as ``p_t -> 1`` for every ``gamma`` including
    ``gamma < 1``.  Smooth-L1's sub-gradient at ``r = 0`` is 0 (SPEC 3a);
    negative anchors get a zero box gradient.  With no anchors at all
    ``mean`` is 0 (the formula's ``max(1, 0)``), not NaN.  One fused pass over anchors
    (plus, for ``mean`` gradients, a read-only count of the positives).
    No Hessian.

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> x = np.array([[2.0, -1.0], [-3.0, -2.0]])
    >>> t = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> bp = np.array([[0.5, 0.0, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0]])
    >>> bt = np.zeros((2, 4))
    >>> round(float(pl.focal_smooth_l1(x, t, bp, bt)), 6)
    0.463324

    References
    ----------
    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017;
    torchvision.ops.sigmoid_focal_loss; Girshick, "Fast R-CNN" (smooth L1).
    """, hessian=False, example=_fsl_example)

# ------------------------------------------------------------------ bench facts
# `pyloss bench` and the tests: the exps/logs of the compute floor and the
# peers compared against (combination_peers, from the segmentation and
# classification ones).
from . import combination_peers as _peers  # noqa: E402
from .classification_peers import sigmoid_focal_cost  # noqa: E402
from .segmentation_peers import one_hot_targets  # noqa: E402

dice_bce.declare(bench_cost=(1, 1), peers_apply=one_hot_targets,
                 peers=dict(formula=_peers.f_dice_bce))
focal_smooth_l1.declare(bench_cost=sigmoid_focal_cost, peers=dict(formula=_peers.f_focal_smooth_l1))
