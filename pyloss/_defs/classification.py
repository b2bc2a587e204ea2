"""Classification losses: cross_entropy, binary_cross_entropy,
binary_cross_entropy_with_logits, sigmoid_focal, softmax_focal, and the
``smooth_labels`` helper.

Kernels: C ``pl_<name>_<f32|f64>`` (csrc/classification_impl.h; the binary
ones in csrc/binary_impl.h), Numba ``pyloss._numba.classification`` and the
NumPy reference ``pyloss.reference.classification``.
"""
from typing import TYPE_CHECKING

import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._errors import PylossTypeError, PylossValueError
from .._loss import ElementwiseLoss, Loss, mean_of, scalar_of

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, DTypeLike

# ------------------------------------------------------------------ examples


def _ce_example(rng, n, dtype, C=1000):
    rows = max(1, n // C)
    return (rng.standard_normal((rows, C)).astype(dtype) * 3,
            rng.integers(0, C, rows)), {}


def _focal_example(rng, n, dtype, C=100):
    rows = max(1, n // C)
    return (rng.standard_normal((rows, C)).astype(dtype) * 3,
            rng.integers(0, C, rows)), {}


def _logit_example(rng, n, dtype):
    return (rng.standard_normal(n).astype(dtype) * 3,
            (rng.random(n) < 0.3).astype(dtype)), {}


def _prob_example(rng, n, dtype):
    return (rng.uniform(0.001, 0.999, n).astype(dtype),
            (rng.random(n) < 0.3).astype(dtype)), {}


# ------------------------------------------------------------------ softmax losses

class _SmxCall:
    __slots__ = ("logits", "target", "prob", "weight", "alpha", "alpha0", "dtype", "gdtype",
                 "shape", "none_shape", "n", "c", "d", "eps", "gamma", "ignore", "valid",
                 "denom", "opts")


def _int_option(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise PylossTypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    return int(value)


class SoftmaxLoss(Loss):
    """A loss over the softmax of logits with class axis 1 (PyTorch layout):
    ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``.

    ``kind`` is ``"cross_entropy"`` (class or probability targets, weight,
    label smoothing) or ``"softmax_focal"`` (class targets, alpha, gamma).
    """

    def __init__(self, name, doc, options, example):
        super().__init__(name, "classification", ("logits", "target"), ("logits",), options,
                         doc, hessian=(name == "cross_entropy"), example=example)

    # -------------------------------------------------------------- binding
    def _bind(self, arrays, opts):
        z = D.float_input(arrays[0], "logits")
        if z.ndim == 0:
            raise PylossValueError("logits: expected shape (N, C), (N, C, d1, ...) or (C,), got a scalar")
        c = _SmxCall()
        c.opts = opts
        c.shape = z.shape
        C = z.shape[0] if z.ndim == 1 else z.shape[1]
        row_shape = () if z.ndim == 1 else (z.shape[0],) + z.shape[2:]
        c.none_shape = row_shape
        c.n = 1 if z.ndim == 1 else z.shape[0]
        c.c = C
        c.d = int(np.prod(z.shape[2:], dtype=np.int64)) if z.ndim > 2 else 1
        c.ignore = _int_option("ignore_index", opts["ignore_index"])
        t = D.real_input(arrays[1], "target")
        c.prob = c.target = None
        ce = self.name == "cross_entropy"
        if ce:
            c.eps = D.opt_float("label_smoothing", opts["label_smoothing"], lo=0.0, hi=1.0)
        else:
            c.eps = 0.0
            c.gamma = D.opt_float("gamma", opts["gamma"], lo=0.0)
        if t.dtype.kind in "iu":
            c.target = D.class_targets(t, "target", C, c.ignore, row_shape,
                                           against=(self.inputs[0], z.shape))
            c.dtype = D.compute_dtype(z)
        elif t.dtype.kind == "f" and ce:
            if t.shape != z.shape:
                raise PylossValueError(
                    f"target: probability targets must have the logits' shape {z.shape}, "
                    f"got {t.shape} (class-index targets are integers of shape {row_shape})")
            c.dtype = D.compute_dtype(z, t)
        else:
            what = "integer class indices or float class probabilities" if ce else "integer class indices"
            raise PylossTypeError(f"target: expected {what}, got dtype {t.dtype}")
        dt = c.dtype
        c.gdtype = D.grad_dtype(z)
        c.logits = D.contiguous(z, dt)
        if c.target is None:
            c.prob = D.contiguous(t, dt)
        c.weight = c.alpha = None
        c.alpha0 = 1.0
        if ce and opts["weight"] is not None:
            c.weight = self._per_class(opts["weight"], "weight", C, dt)
        if not ce and opts["alpha"] is not None:
            a = opts["alpha"]
            if np.ndim(a) == 0:
                c.alpha0 = D.opt_float("alpha", a if not isinstance(a, np.ndarray) else a.item())
            else:
                c.alpha = self._per_class(a, "alpha", C, dt)
        # the mean's denominator (SPEC 3/3a)
        if c.target is not None:
            valid = c.target != c.ignore
            c.valid = int(np.count_nonzero(valid))
            if c.weight is not None:
                c.denom = float(np.sum(c.weight.astype(np.float64)[c.target[valid]]))
            else:
                c.denom = float(c.valid)
        else:
            c.valid = c.n * c.d
            c.denom = float(c.n * c.d)
        return c

    @staticmethod
    def _per_class(a, name, C, dt):
        a = D.real_input(a, name)
        if a.shape != (C,):
            raise PylossValueError(f"{name}: expected one value per class, shape ({C},), got shape {a.shape}")
        return D.contiguous(a, dt)

    # -------------------------------------------------------------- compute
    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        scale = 1.0
        if reduction == "mean":
            if c.denom != 0:
                scale = 1.0 / c.denom
            else:
                scale = 0.0 if c.valid == 0 else float("inf")
        loss = np.empty(c.none_shape, dt) if op in ("value", "vg") and reduction == "none" else None
        deriv = None
        if op != "value":
            if out is not None:
                D.check_out(out, c.shape, c.gdtype, "out")
                alias = out.dtype != dt or any(
                    a is not None and np.may_share_memory(out, a)
                    for a in (c.logits, c.prob, c.target, c.weight, c.alpha))
                deriv = np.empty(c.shape, dt) if alias else out
            else:
                deriv = np.empty(c.shape, dt)
        grad = deriv if op in ("grad", "vg") else None
        hess = deriv if op == "hess" else None
        if c.c == 0:
            total = self._no_classes(c, loss, deriv)
        elif backend == "numpy":
            total = self._numpy(c, reduction, scale, loss, grad, hess)
        elif backend == "c":
            total = self._c(c, scale, loss, grad, hess)
        else:
            total = self._numba(c, scale, loss, grad, hess)
        if deriv is not None and deriv is not out:
            if out is not None:
                out[...] = deriv
                deriv = out
            elif deriv.dtype != c.gdtype:
                deriv = deriv.astype(c.gdtype)
        if op in ("grad", "hess"):
            return deriv
        if reduction == "none":
            value = loss
        elif reduction == "sum":
            value = scalar_of(total, dt)
        else:
            value = mean_of(total, c.denom, dt)
        return value if op == "value" else (value, deriv)

    def _no_classes(self, c, loss, deriv):
        if c.target is None:
            per = np.full(c.none_shape, np.nan)
        else:
            per = np.where(c.target != c.ignore, np.nan, 0.0)
        if loss is not None:
            loss[...] = per
        return float(np.sum(per))

    def _c(self, c, scale, loss, grad, hess):
        from .. import _c
        P = _c.ptr
        fn = _c.kernel(self.name, c.dtype)
        nt = get_num_threads()
        if self.name == "cross_entropy":
            return fn(c.n, c.c, c.d, P(c.logits), P(c.target), P(c.prob), P(c.weight), c.ignore,
                      c.eps, scale, P(loss), P(grad), P(hess), nt)
        return fn(c.n, c.c, c.d, P(c.logits), P(c.target), P(c.alpha), c.alpha0, c.gamma,
                  c.ignore, scale, P(loss), P(grad), nt)

    def _numba(self, c, scale, loss, grad, hess):
        from .._numba import classification as K
        nt = get_num_threads()
        if self.name == "cross_entropy":
            mode = K.MODE_CLASS if c.target is not None else K.MODE_PROB
            return K.softmax_rows(mode, c.n, c.c, c.d, c.logits, c.target, c.prob, c.weight,
                                  c.eps, c.ignore, scale, None, 1.0, 0.0, loss,
                                  hess if hess is not None else grad, hess is not None, nt)
        return K.softmax_rows(K.MODE_FOCAL, c.n, c.c, c.d, c.logits, c.target, None, None, 0.0,
                              c.ignore, scale, c.alpha, c.alpha0, c.gamma, loss, grad, False, nt)

    def _numpy(self, c, reduction, scale, loss, grad, hess):
        from ..reference import classification as R
        tgt = c.target if c.target is not None else c.prob
        if self.name == "cross_entropy":
            value, g, h = R.cross_entropy(c.logits, tgt, c.weight, c.ignore, c.eps, "none")
        else:
            alpha = c.alpha if c.alpha is not None else (None if c.opts["alpha"] is None else c.alpha0)
            value, g, h = R.softmax_focal(c.logits, tgt, alpha, c.gamma, c.ignore, "none")
        # the reference's "none" derivatives are those of the sum; scale them
        # (scale is inf when the weights sum to 0: IEEE nan/inf, no warning)
        keep = True
        if c.target is not None and np.ndim(c.target) + 1 == np.ndim(c.logits):
            keep = np.expand_dims(np.asarray(c.target) != c.ignore, 1 if np.ndim(c.target) else 0)
        with np.errstate(invalid="ignore", over="ignore"):
            # ignored rows stay exactly 0 (even at scale inf), as in the kernels
            if grad is not None:
                grad[...] = np.where(keep, g * scale, 0.0)
            if hess is not None:
                hess[...] = np.where(keep, h * scale, 0.0)
        if loss is not None:
            loss[...] = value
        return float(np.sum(value))


_CE_DOC = """Cross-entropy of softmax(logits) with class or probability targets.

    Reproduces ``torch.nn.functional.cross_entropy`` (values, gradients and
    reductions), computed in one fused pass per row: the row max, then
    ``exp(z - max)`` summed and written straight into the gradient buffer,
    then ``grad = scale * (s * softmax - q)``.  No log-softmax is
    materialised and the loss is formed relative to the row max, so logits of
    any magnitude are safe.

    Per row, with ``p = softmax(z)`` over the class axis (axis 1) and
    ``eps = label_smoothing``:

    * class target ``y``: ``l = (1 - eps) w_y (-log p_y) + eps/C sum_c w_c (-log p_c)``,
      0 where ``y == ignore_index``;
    * probability target ``t`` (same shape as the logits):
      ``l = -sum_c w_c ((1 - eps) t_c + eps/C) log p_c``.

    Parameters
    ----------
    logits : array_like, float16/32/64
        ``(N, C)``, ``(N, C, d1, d2, ...)`` (class axis 1, handled in place
        with a class stride, never transposed) or unbatched ``(C,)``.
    target : array_like
        Integer class indices of shape ``(N,)`` / ``(N, d1, ...)`` (``()`` for
        unbatched logits), each in ``[0, C)`` or equal to ``ignore_index``;
        or float class probabilities of the logits' shape.
    weight : array_like (C,), optional
        Per-class weights (negative allowed).
    ignore_index : int, default -100
        Class-index targets equal to it contribute nothing.
    label_smoothing : float in [0, 1], default 0
        Mixes the target with the uniform distribution: ``(1 - eps) y + eps/C``.
    reduction : {"mean", "sum", "none"}
        ``mean`` divides by the summed weight ``sum w_y`` of the non-ignored
        class targets (their count without ``weight``), and by the number of
        rows ``N * d1 * ...`` for probability targets, as PyTorch.  When every
        target is ignored, ``mean`` is ``nan`` and ``sum`` 0, with zero
        gradient and Hessian.  ``none`` has the target's shape (logits' shape
        without axis 1), 0 at ignored positions.

    Notes
    -----
    Gradient ``grad_c = s p_c - q_c`` and Hessian diagonal (exact, SPEC 3a)
    ``hess_c = s p_c (1 - p_c)``, where ``q`` is the row's weighted, smoothed
    target distribution and ``s = sum_c q_c`` its total mass
    (``(1 - eps) w_y + eps/C sum w`` for a class target), both times the
    reduction's ``1/denominator`` for ``mean``.  Class indices outside
    ``[0, C)`` raise ``ValueError`` naming the first bad value and position
    before anything is computed or written.  NaN logits give NaN for their
    row; rows with ``+inf`` logits are NaN (as PyTorch).

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> round(float(pl.cross_entropy(z, np.array([0, 2]))), 6)
    0.634229
    >>> round(float(pl.cross_entropy(z, np.array([0, -100]))), 6)   # second row ignored
    0.169846

    References
    ----------
    PyTorch, ``torch.nn.functional.cross_entropy`` and
    ``cross_entropy_loss_label_smoothing`` in ``aten/src/ATen/native/LossNLL.cpp``.
    Szegedy et al., "Rethinking the Inception Architecture" (2016), label smoothing.
    """

cross_entropy = SoftmaxLoss(
    "cross_entropy", _CE_DOC,
    {"weight": None, "ignore_index": -100, "label_smoothing": 0.0}, _ce_example)


_SF_DOC = """Softmax focal loss, ``-alpha_t (1 - p_t)^gamma log p_t``, ``p = softmax(logits)``.

    The multi-class focal loss of Lin et al.; ``gamma = 0, alpha = None`` is
    exactly ``cross_entropy``.  ``alpha`` is a multiplier (SPEC 3a): a scalar
    on every class or one value per class, never a denominator weight.

    Parameters
    ----------
    logits : array_like, float16/32/64
        ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``, class axis 1.
    target : array_like of int
        Class indices ``(N,)`` / ``(N, d1, ...)`` in ``[0, C)`` or ``ignore_index``.
    alpha : None, float or array_like (C,), default None
        ``alpha_t``; None means 1.
    gamma : float >= 0, default 2
        Focusing parameter; any real ``gamma >= 0`` (``gamma = 2`` is a multiply).
    ignore_index : int, default -100
        Class-index targets equal to it contribute nothing.
    reduction : {"mean", "sum", "none"}
        ``mean`` divides by the number of non-ignored targets (``nan`` when
        every target is ignored, with a zero gradient); ``none`` has the
        target's shape, 0 at ignored positions.

    Notes
    -----
    With ``u = 1 - p_t`` (formed as ``sum_{k != t} e_k / S``, no cancellation)
    and ``r = log(p_t) / u`` (-> -1 as ``u -> 0``), the gradient is
    ``d l / d z_k = G (delta_kt - p_k)``, ``G = alpha_t u^gamma (gamma p_t r - 1)``,
    which never forms ``u^(gamma - 1)``: finite at ``p_t = 1`` for every
    ``gamma >= 0``, including ``gamma < 1``.  No Hessian is offered.

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> round(float(pl.softmax_focal(z, np.array([0, 2]), gamma=2.0)), 6)
    0.246208

    References
    ----------
    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """

softmax_focal = SoftmaxLoss(
    "softmax_focal", _SF_DOC, {"alpha": None, "gamma": 2.0, "ignore_index": -100}, _focal_example)


# ------------------------------------------------------------------ elementwise

_EW_COMMON = """
    weight : array_like, optional
        Per-element weights broadcast to the input's shape (negative allowed).
    reduction : {"mean", "sum", "none"}
        ``mean`` is ``sum(w l) / sum(w)`` (SPEC 3a).  PyTorch's ``mean``
        divides by the element count even with ``weight``: to reproduce it
        use ``reduction="sum"`` and divide by ``x.size``.  Without weights
        both agree.  ``none`` keeps the input's shape.
    backend : {"auto", "c", "numba", "numpy"}
    out : ndarray, optional (``grad``, ``value_and_grad``, ``hessian``)
"""


class _ProbabilityLoss(ElementwiseLoss):
    """BCE on probabilities: predictions outside [0, 1] are a ValueError."""

    def _bind(self, arrays, opts):
        c = super()._bind(arrays, opts)
        p = c.pred
        # two reductions without temporaries (fmin/fmax skip NaN, which
        # propagates); the mask is built only to report an error
        flat = p.reshape(-1)
        if flat.size and (np.fmin.reduce(flat) < 0 or np.fmax.reduce(flat) > 1):
            bad = (p < 0) | (p > 1)
            pos = np.unravel_index(int(np.argmax(bad)), p.shape)
            raise PylossValueError(
                f"prob: expected probabilities in [0, 1], got {p[pos]!r} at position "
                f"{tuple(int(i) for i in pos)}")
        return c


binary_cross_entropy = _ProbabilityLoss(
    "binary_cross_entropy", "classification",
    """Binary cross-entropy on probabilities, ``-(t log p + (1 - t) log(1 - p))``.

    Reproduces ``torch.nn.functional.binary_cross_entropy``: each log is
    clamped at -100 (so ``p`` of exactly 0 or 1 gives a finite loss), the
    gradient is PyTorch's ``(p - t) / max(p (1 - p), 1e-12)`` (SPEC 3a) and
    the Hessian its derivative ``((p - t)^2 + t (1 - t)) / max(p (1 - p), 1e-12)^2``.
    Prefer ``binary_cross_entropy_with_logits`` when logits are available:
    it is exact for any logit.

    Parameters
    ----------
    prob : array_like, float16/32/64
        Probabilities in ``[0, 1]``; anything else (not NaN) is a ValueError.
    target : array_like
        Targets of the same shape, usually in ``[0, 1]``.
""" + _EW_COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> round(float(pl.binary_cross_entropy([0.9, 0.2], [1.0, 0.0])), 6)
    0.164252
    """, inputs=("prob", "target"), example=_prob_example)


def _bcel_params(opts):
    return (1.0 if opts["pos_weight"] is not None else 0.0), 0.0, {}


binary_cross_entropy_with_logits = ElementwiseLoss(
    "binary_cross_entropy_with_logits", "classification",
    """Binary cross-entropy on logits, ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``.

    Reproduces ``torch.nn.functional.binary_cross_entropy_with_logits``,
    including ``pos_weight``; ``softplus(-x) = max(-x, 0) + log1p(exp(-|x|))``
    is finite for every logit.  Gradient ``(1 - t) - lw sigmoid(-x)``,
    Hessian ``lw sigmoid(x) sigmoid(-x)`` with ``lw = 1 + (pw - 1) t``.

    Parameters
    ----------
    logits : array_like, float16/32/64
    target : array_like
        Same shape (soft targets allowed).
    pos_weight : array_like, optional
        Weight of the positive term, broadcast to the logits' shape with NumPy
        rules (a ``(C,)`` vector applies per class on the last axis, as PyTorch).
""" + _EW_COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> round(float(pl.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0])), 6)
    0.220095
    """, inputs=("logits", "target"), params=_bcel_params, aux="pos_weight",
    example=_logit_example)


def _focal_params(opts):
    alpha = D.opt_float("alpha", opts["alpha"])
    gamma = D.opt_float("gamma", opts["gamma"], lo=0.0)
    return alpha, gamma, {"alpha": alpha, "gamma": gamma}


sigmoid_focal = ElementwiseLoss(
    "sigmoid_focal", "classification",
    """Sigmoid focal loss (torchvision ``sigmoid_focal_loss``).

    ``l = alpha_t ce (1 - p_t)^gamma`` with ``p = sigmoid(x)``,
    ``ce = BCE-with-logits(x, t)``, ``p_t = p t + (1 - p)(1 - t)`` and
    ``alpha_t = alpha t + (1 - alpha)(1 - t)``; ``alpha < 0`` drops the
    ``alpha_t`` factor, and ``gamma = 0, alpha < 0`` is exactly
    ``binary_cross_entropy_with_logits``.  Default reduction ``mean``
    (torchvision's default is ``none``).

    Gradient and Hessian are analytic; with ``q = 1 - p_t`` and
    ``v = p (1 - p) / q`` the powers ``q^(gamma-1)``, ``q^(gamma-2)`` appear
    only as ``q^gamma v``, ``q^gamma v^2``, finite at ``p_t -> 1`` for every
    ``gamma >= 0`` (including non-integers and ``gamma < 1``).  ``gamma = 2``
    is a multiply, other ``gamma`` one exp and one log.

    Parameters
    ----------
    logits : array_like, float16/32/64
    target : array_like
        Same shape, in ``[0, 1]`` (soft targets allowed).
    alpha : float, default 0.25
        Weight of the positive class (``1 - alpha`` of the negative);
        ``alpha < 0`` disables it.
    gamma : float >= 0, default 2
        Focusing parameter: the loss is scaled by ``(1 - p_t)**gamma``.
""" + _EW_COMMON + """
    Examples
    --------
    >>> import pyloss as pl
    >>> round(float(pl.sigmoid_focal([2.0, -1.0], [1.0, 0.0])), 6)
    0.008722

    References
    ----------
    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017;
    ``torchvision.ops.sigmoid_focal_loss``.
    """, inputs=("logits", "target"), params=_focal_params,
    extra_options={"alpha": 0.25, "gamma": 2.0}, example=_logit_example)


# ------------------------------------------------------------------ smooth_labels

def smooth_labels(target: "ArrayLike", num_classes: int, *, epsilon: float = 0.1,
                  dtype: "DTypeLike" = None) -> np.ndarray:
    """Label smoothing: ``(1 - epsilon) y + epsilon / K``.

    Parameters
    ----------
    target : array_like
        Integer (or boolean) class labels of any shape, each in
        ``[0, num_classes)``, which become one-hot rows on a new last axis; or
        float one-hot/probability rows whose last axis has ``num_classes``
        entries.
    num_classes : int
        ``K`` >= 1.
    epsilon : float in [0, 1], default 0.1
    dtype : dtype, optional
        Output dtype; default float64 for integer labels and the input's
        float dtype otherwise.

    Returns
    -------
    ndarray of shape ``target.shape + (K,)`` (labels) or ``target.shape``.

    Notes
    -----
    ``pl.cross_entropy(z, y, label_smoothing=e)`` equals
    ``pl.cross_entropy(z, smooth_labels(y, C, epsilon=e))`` for ``(N, C)``
    logits without ``weight`` or ignored targets (PyTorch's definition).

    Examples
    --------
    >>> import pyloss as pl
    >>> pl.smooth_labels([0, 2], 3, epsilon=0.3)
    array([[0.8, 0.1, 0.1],
           [0.1, 0.1, 0.8]])
    """
    K = _int_option("num_classes", num_classes)
    if K < 1:
        raise PylossValueError(f"num_classes: expected an integer >= 1, got {K}")
    eps = D.opt_float("epsilon", epsilon, lo=0.0, hi=1.0)
    y = D.real_input(target, "target")
    if y.dtype.kind in "iub":
        lab = y.astype(np.int64)
        bad = (lab < 0) | (lab >= K)
        if bad.any():
            pos = np.unravel_index(int(np.argmax(bad)), lab.shape)
            raise PylossValueError(
                f"target: class index {int(lab[pos])} at position {tuple(int(i) for i in pos)} "
                f"is outside [0, {K})")
        odt = np.dtype(np.float64) if dtype is None else np.dtype(dtype)
        out = np.full(lab.shape + (K,), eps / K, dtype=np.float64)
        np.put_along_axis(out, lab[..., None], (1.0 - eps) + eps / K, axis=-1)
        return out.astype(odt, copy=False)
    if y.ndim == 0 or y.shape[-1] != K:
        raise PylossValueError(
            f"target: float rows must have num_classes={K} entries on the last axis, got shape {y.shape}")
    odt = y.dtype if dtype is None else np.dtype(dtype)
    if odt.kind != "f":
        raise PylossTypeError(f"dtype: expected a float dtype, got {odt}")
    y64 = y.astype(np.float64)
    return ((1.0 - eps) * y64 + eps / K).astype(odt, copy=False)


# ------------------------------------------------------------------ boosting facts
# Sources of the profiles: XGBoost src/objective/regression_loss.h
# (LogisticClassification: grad p - y, hess max(p(1-p), 1e-16), then times the
# weight) and src/objective/multiclass_obj.cu (softprob: grad (p - y) w,
# hess max(2 p (1-p) w, 1e-16)); LightGBM src/objective/binary_objective.hpp
# (sigmoid 1: grad p - y, hess p(1-p), times the weight) and
# multiclass_objective.hpp (factor K/(K-1): hess factor p (1-p), times the weight).
from .._boostfacts import (BoostFacts as _BF, Profile as _P,  # noqa: E402
                           init_logit_mean as _logit_mean, init_log_prior as _log_prior,
                           init_newton as _newton, init_softmax_newton as _softmax_newton,
                           sigmoid_focal_surrogate as _sf_h, softmax_focal_surrogate as _smf_h)


def _plain_bce(opts):
    if opts.get("pos_weight") is not None:
        raise PylossValueError("pos_weight: the built-in binary objectives have none "
                               "(use sample weights: scale_pos_weight / is_unbalance)")


def _plain_ce(opts):
    if opts.get("weight") is not None or opts.get("label_smoothing", 0.0):
        raise PylossValueError("weight/label_smoothing: the built-in multi-class objectives "
                               "take neither (use sample weights)")


binary_cross_entropy_with_logits.boosting = _BF(hess_min=0.0, init=_logit_mean, profiles={
    "xgboost": _P("binary:logistic", floor=1e-16, check=_plain_bce,
                  doc="grad p - y, hess max(p(1-p), 1e-16)"),
    "lightgbm": _P("binary", check=_plain_bce, doc="grad p - y, hess p(1-p) (sigmoid=1)")})
sigmoid_focal.boosting = _BF(hessian="surrogate", hess_min=-np.inf, init=_newton,
                             surrogate=_sf_h)
cross_entropy.boosting = _BF("multiclass", hess_min=0.0, init=_log_prior, profiles={
    "xgboost": _P("multi:softprob", factor=lambda extra, K: 2.0, floor=1e-16, check=_plain_ce,
                  doc="grad p - y, hess max(2 p(1-p) w, 1e-16)"),
    "lightgbm": _P("multiclass", factor=lambda extra, K: K / (K - 1.0), check=_plain_ce,
                   doc="grad p - y, hess K/(K-1) p(1-p)")})
softmax_focal.boosting = _BF("multiclass", hessian="surrogate", hess_min=0.0,
                             init=_softmax_newton, surrogate=_smf_h)

# ------------------------------------------------------------------ integration facts
# pyloss.torch drop-ins (torch divides a weighted BCE mean by the element count;
# torchvision's sigmoid_focal_loss defaults to reduction="none"), pyloss.sklearn
# scorers (multi-class on predict_proba turned into logits; binary on the
# positive class's probability or decision_function), streaming denominators
# (softmax losses: class weight of the non-ignored targets) and `pyloss plot` axes.
_CE_OPTIONS = (("weight", "weight", None), ("ignore_index", "ignore_index", -100),
               ("label_smoothing", "label_smoothing", 0.0))
cross_entropy.declare(torch_functional=dict(function="cross_entropy", module="CrossEntropyLoss",
                                            options=_CE_OPTIONS, tensor_options=("weight",),
                                            broadcast="class_axis"),
                      sklearn_scorer=("predict_proba", "multiclass"), weight_applies_to="class",
                      stream_denominator="class_targets", plot_axis="class_logit")
softmax_focal.declare(sklearn_scorer=("predict_proba", "multiclass"),
                      stream_denominator="class_targets")
binary_cross_entropy.declare(
    torch_functional=dict(function="binary_cross_entropy", module="BCELoss",
                          options=(("weight", "weight", None),), tensor_options=("weight",),
                          count_mean=True),
    sklearn_scorer=("predict_proba", "binary"), plot_axis="prob")
binary_cross_entropy_with_logits.declare(
    torch_functional=dict(function="binary_cross_entropy_with_logits", module="BCEWithLogitsLoss",
                          options=(("weight", "weight", None), ("pos_weight", "pos_weight", None)),
                          tensor_options=("weight", "pos_weight"), count_mean=True),
    sklearn_scorer=("decision_function", "binary"), plot_axis="logit")
sigmoid_focal.declare(
    torch_functional=dict(function="sigmoid_focal_loss",
                          options=(("alpha", "alpha", 0.25), ("gamma", "gamma", 2.0)),
                          default_reduction="none"),
    sklearn_scorer=("decision_function", "binary"), plot_axis="logit",
    plot_presets=(("focal", "p_true", "Focal loss vs cross-entropy (Lin et al. 2017, Fig. 1)",
                   (("CE (γ=0)", {"gamma": 0.0, "alpha": -1.0}),)
                   + tuple((f"γ={g}", {"gamma": g, "alpha": -1.0}) for g in (0.5, 1.0, 2.0, 5.0))),))

# ------------------------------------------------------------------ bench facts
# `pyloss bench` and the tests: the --quick set, the exps/logs per element of
# the compute floor (softmax exps, softplus logs), and the peers compared
# against, for class-index targets (written out in classification_peers).
from . import classification_peers as _peers  # noqa: E402

cross_entropy.declare(bench_quick=True, bench_cost=(1, 0), peers_apply=_peers.class_index_targets,
                      sklearn_peer=_peers.sklearn_cross_entropy,
                      peers=dict(formula=_peers.f_cross_entropy, torch=_peers.torch_cross_entropy))
softmax_focal.declare(bench_cost=(1, 0), peers_apply=_peers.class_index_targets,
                      peers=dict(formula=_peers.f_softmax_focal))
binary_cross_entropy.declare(bench_cost=(0, 2),
                             peers=dict(formula=_peers.f_binary_cross_entropy,
                                        torch=_peers.torch_binary_cross_entropy))
binary_cross_entropy_with_logits.declare(
    bench_quick=True, bench_cost=(1, 1),
    sklearn_peer=_peers.sklearn_binary_cross_entropy_with_logits,
    peers=dict(formula=_peers.f_binary_cross_entropy_with_logits,
               torch=_peers.torch_binary_cross_entropy_with_logits))
sigmoid_focal.declare(bench_cost=_peers.sigmoid_focal_cost,
                      peers=dict(formula=_peers.f_sigmoid_focal))
