"""lovasz_softmax: the Lovasz-Softmax surrogate of the Jaccard index (SPEC 6.4).

C ``pl_lovasz_softmax_<f32|f64>`` (csrc/lovasz.c, lovasz_impl.h), Numba
``pyloss._numba.lovasz`` and the NumPy reference ``pyloss.reference.lovasz``.
Errors are sorted per (group, class) inside the kernels by a stable radix sort
on their bit patterns (measured faster than NumPy's argsort, bench/sections/lovbox.md).
"""
import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._loss import Loss, mean_of, scalar_of
from .segmentation import _bool_opt

_ACT = {None: 0, "softmax": 2}


class _LvCall:
    __slots__ = ("pred", "labels", "pred3", "labels2", "dtype", "gdtype", "shape", "N", "C", "S",
                 "act", "all", "per_image", "ignore", "from_logits", "classes")


class _LovaszSoftmax(Loss):

    # "none" exists only with per_image=True (SPEC 6.4); the registry-driven
    # tests and integrations read this tuple as what always works.
    reductions = ("mean", "sum")
    conditional_reductions = ("none",)   # with per_image=True only
    # Peak scratch in multiples of pred's size: the probabilities and
    # per-class gradients (C, P), the labels, and per running sort task its
    # keys and indices (4 arrays of P); C and Numba alike (test_memory.py).
    scratch_per_input = 8

    def __init__(self, doc):
        super().__init__("lovasz_softmax", "lovasz", ("pred", "labels"), ("pred",),
                         {"from_logits": None, "classes": "present", "per_image": False,
                          "ignore_index": None}, doc, hessian=False, example=lovasz_example)

    def _check_reduction(self, call, reduction):
        if not call.per_image:
            raise D.PylossValueError(
                "reduction: 'none' needs per_image=True (per_image=False gives one value "
                "for the whole batch); got reduction='none' with per_image=False")

    def _bind(self, arrays, opts):
        c = _LvCall()
        c.from_logits = D.opt_choice("from_logits", opts["from_logits"], tuple(_ACT))
        c.act = _ACT[c.from_logits]
        c.classes = D.opt_choice("classes", opts["classes"], ("present", "all"))
        c.all = c.classes == "all"
        c.per_image = _bool_opt("per_image", opts["per_image"])
        ig = opts["ignore_index"]
        if ig is not None and (isinstance(ig, (bool, np.bool_))
                               or not isinstance(ig, (int, np.integer))):
            raise D.PylossTypeError(f"ignore_index: expected None or an integer, got "
                                    f"{type(ig).__name__} {ig!r}")
        c.ignore = None if ig is None else int(ig)
        p = D.float_input(arrays[0], "pred")
        if p.ndim < 2:
            raise D.PylossValueError(
                f"pred: expected shape (N, C, *spatial) with at least 2 dimensions, "
                f"got shape {p.shape}")
        N, C = p.shape[0], p.shape[1]
        S = int(np.prod(p.shape[2:], dtype=np.int64))
        lab = D._asarray(arrays[1], "labels")
        want = (N,) + p.shape[2:]
        if lab.dtype.kind not in "iu":
            raise D.PylossTypeError(
                f"labels: expected integer class labels of shape {want}, got dtype {lab.dtype}")
        if lab.shape != want:
            raise D.PylossValueError(
                f"labels: shape {lab.shape} does not match pred shape {p.shape}: expected "
                f"integer labels of shape {want}")
        c.labels = D.class_targets(lab, "labels", C, c.ignore, want) if c.ignore is not None \
            else _plain_labels(lab, C)
        c.dtype = D.compute_dtype(p)
        c.gdtype = D.grad_dtype(p)
        c.pred = D.contiguous(p, c.dtype)
        c.shape = p.shape
        c.N, c.C, c.S = N, C, S
        c.pred3 = c.pred.reshape(N, C, S)
        c.labels2 = c.labels.reshape(N, S)
        return c

    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        ng = c.N if c.per_image else 1
        scale = 1.0 / ng if (reduction == "mean" and c.per_image and ng) else 1.0
        loss = np.empty(ng, dt)
        grad = user = None
        if op in ("grad", "vg"):
            if out is not None:
                D.check_out(out, c.shape, c.gdtype, "out")
                direct = c.gdtype == dt and not np.may_share_memory(out, c.pred)
                grad = out if direct else np.empty(c.shape, dt)
                user = out
            else:
                grad = np.empty(c.shape, dt)
        if backend == "c":
            from .. import _c
            st = _c.ffi.new("int *")
            g3 = None if grad is None else grad.reshape(c.N, c.C, c.S)
            total = _c.kernel("lovasz_softmax", dt)(
                c.N, c.C, c.S, _c.ptr(c.pred3), _c.ptr(c.labels2), c.ignore is not None,
                0 if c.ignore is None else c.ignore, c.act, int(c.per_image), int(c.all), scale,
                _c.ptr(loss), _c.ptr(g3), get_num_threads(), st)
            if st[0]:
                raise MemoryError("lovasz_softmax: out of memory for the sort buffers")
        elif backend == "numba":
            from .._numba import lovasz as nb
            from .._numba import pick
            g3 = np.empty((0, 0, 0), dt) if grad is None else grad.reshape(c.N, c.C, c.S)
            fn = pick(nb.lovasz_ser, nb.lovasz_par, c.pred.size, get_num_threads())
            total = fn(c.pred3, c.labels2, c.ignore is not None,
                                      0 if c.ignore is None else c.ignore, c.act == 2,
                                      c.per_image, c.all, scale, loss, g3, grad is not None)
        else:
            from ..reference import lovasz as ref
            with np.errstate(all="ignore"):
                l, g = ref.lovasz_softmax(c.pred3.astype(np.float64), c.labels2,
                                          from_logits=c.from_logits, classes=c.classes,
                                          per_image=c.per_image, ignore_index=c.ignore,
                                          want_grad=grad is not None)
                loss[...] = l
                total = float(np.sum(l))
                if grad is not None:
                    grad.reshape(c.N, c.C, c.S)[...] = scale * g
        if grad is not None:
            if user is not None and grad is not user:
                user[...] = grad
                grad = user
            elif grad.dtype != c.gdtype:
                grad = grad.astype(c.gdtype)
        if op == "grad":
            return grad
        if reduction == "none":
            value = loss
        elif reduction == "sum" or not c.per_image:
            value = scalar_of(total, dt)
        else:
            value = mean_of(total, ng, dt)
        return value if op == "value" else (value, grad)


def _plain_labels(lab, C):
    from .segmentation import check_labels
    return check_labels(lab, C, "labels")


def lovasz_example(rng, n, dtype):
    """(N, 4, H, W) softmax logits with integer labels, N = 8 at n = 8*4*256*256."""
    C = 4
    side = max(1, int(round((n / (8 * C)) ** 0.5)))
    N = max(1, int(round(n / (C * side * side))))
    x = rng.standard_normal((N, C, side, side)).astype(dtype)
    lab = rng.integers(0, C, size=(N, side, side))
    return (x, lab), {"from_logits": "softmax"}


lovasz_softmax = _LovaszSoftmax("""Lovasz-Softmax loss (Berman et al. 2018), a surrogate of the Jaccard index.

    For each class ``c`` over the pixels of a group (the whole batch, or one
    image with ``per_image=True``), with ``p = softmax(pred)`` (or ``pred``)
    and ``fg = (labels == c)``::

        e = |fg - p_c|                          sorted decreasingly: e_(1) >= e_(2) >= ...
        J_k = 1 - (G - a_k) / (G + b_k)         G = sum(fg); a_k, b_k: foreground and
                                                background pixels among the first k
        loss_c = sum_k e_(k) (J_k - J_(k-1))    (J_0 = 0)

    the Lovasz extension of the Jaccard loss evaluated at the errors (Berman's
    ``lovasz_grad``), and the group loss is the mean of ``loss_c`` over the
    classes present in the group's labels (``classes="all"``: over every
    class).  The sort is stable: tied errors keep their pixel order, on every
    backend, so the (piecewise-linear) gradient is deterministic.

    Parameters
    ----------
    pred : array_like, float16/32/64, shape (N, C, *spatial)
        Class probabilities (``from_logits=None``) or logits
        (``from_logits="softmax"``).  ``(N, C)`` (no spatial axes) is allowed.
    labels : array_like, integer, shape (N, *spatial)
        Class labels in ``[0, C)`` (or equal to ``ignore_index``); any other
        value is a ValueError naming it and its position.
    from_logits : None or "softmax" (default None)
        ``"softmax"`` applies the softmax over axis 1 first, and the gradient
        is then w.r.t. the logits; otherwise w.r.t. the probabilities.
    classes : {"present", "all"} (default "present")
        Average over the classes present in the group's labels (Berman's
        default), or over all ``C`` classes (an absent class then contributes
        its largest probability, kornia's convention).  A group with no class
        counted (every pixel ignored) has loss 0, as in the reference code.
    per_image : bool (default False)
        ``False``: one value for the whole batch (all images' pixels pooled, as
        Berman's ``per_image=False``), returned by ``mean`` and ``sum``;
        ``reduction="none"`` is then a ValueError.  ``True``: one loss per
        image; ``"none"`` gives them, shape ``(N,)``, ``mean`` averages them
        (an image with every pixel ignored counts as 0), ``sum`` adds them.
    ignore_index : int or None (default None)
        Pixels with this label leave every sum (Berman's ``ignore``) and get a
        zero gradient.
    reduction : {"mean", "sum", "none"} (default "mean")
        See ``per_image``.
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
    out : ndarray, optional (``grad``, ``value_and_grad``)
        Preallocated C-contiguous buffer of ``pred``'s shape and dtype.

    Notes
    -----
    The gradient is ``(J_k - J_(k-1)) * sign(p - fg)`` at each pixel's rank
    (0 where ``p == fg``, as PyTorch's ``abs``), divided by the number of
    classes counted, pulled back through the softmax when
    ``from_logits="softmax"``: the gradient PyTorch's autograd gives for
    Berman's code.  No Hessian, no ``weight``.  With ``per_image=False`` and
    nothing to average (no pixels), the value is 0 (the reference's empty
    mean), not NaN.  kornia's ``lovasz_softmax_loss(logits, labels)`` is
    ``from_logits="softmax", classes="all", per_image=True`` with ``mean``
    (kornia has no ``ignore_index`` and no "present" classes).

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> p = np.array([[[0.9, 0.2], [0.1, 0.8]]])   # (N=1, C=2, 2 pixels)
    >>> y = np.array([[0, 1]])
    >>> round(float(pl.lovasz_softmax(p, y)), 6)   # class 0: 0.2/2 + 0.1/2; class 1: 0.2
    0.175

    References
    ----------
    M. Berman, A. Rannen Triki, M. B. Blaschko, "The Lovasz-Softmax loss: A
    tractable surrogate for the optimization of the intersection-over-union
    measure in neural networks", CVPR 2018; code: bermanmaxim/LovaszSoftmax,
    ``pytorch/lovasz_losses.py``.
    """)

# ------------------------------------------------------------------ bench facts
# The peer `pyloss bench` and the tests compare against, without ignore_index
# (lovasz_peers).
from . import lovasz_peers as _peers  # noqa: E402

lovasz_softmax.declare(peers_apply=_peers.no_ignore_index,
                       peers=dict(formula=_peers.f_lovasz_softmax))
