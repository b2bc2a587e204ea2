"""Custom objectives and evaluation metrics for XGBoost and LightGBM.

``import pyloss.boosting as plb`` (the ``pyloss[boosting]`` extra installs
xgboost and lightgbm; neither is imported here -- the callables only look at
what the libraries hand them)::

    obj = plb.objective("huber", delta=1.0)
    booster = xgboost.train({"tree_method": "hist"}, dtrain, obj=obj,
                            custom_metric=plb.metric("huber", "xgboost", delta=1.0))
    model = lightgbm.LGBMRegressor(objective=plb.objective("log_cosh"))

An :class:`Objective` is called as ``(preds, dataset)`` by ``xgboost.train``
and ``lightgbm.train`` (label and weights read from the ``DMatrix``/``Dataset``)
and as ``(y_true, y_pred[, sample_weight])`` by both libraries' scikit-learn
estimators.  It returns the per-sample gradient and Hessian of the loss with
respect to the raw score (margin), from pyloss's ``reduction="none"`` kernels,
multiplied by the sample weights.

Hessian floor
-------------
The pyloss core reports exact second derivatives, which are 0 for piecewise
linear losses (``mae``, ``quantile``, ``huber`` outside ``|r| <= delta``,
``smooth_l1`` outside ``|r| < beta``) and can be negative for ``sigmoid_focal``.
A Newton step divides by the summed Hessian of a leaf, so this module, and only
this module, applies a floor (SPEC 3a): ``hess = max(hess, hess_floor)`` with
``hess_floor=1e-6`` by default.  For losses whose Hessian is 0 everywhere
(``mae``, ``quantile``) the default ``hessian="auto"`` uses a constant
Hessian of 1 instead (a gradient step, what LightGBM's own L1 and quantile
objectives do); pass ``hessian="exact"`` or ``"constant"`` to choose.

Scale conventions
-----------------
pyloss ``mse`` is ``r**2`` (gradient ``2r``, Hessian 2) whereas the libraries'
squared error is ``r**2 / 2``; with L2 regularisation (``lambda``) the factor
matters, ``huber`` with a large ``delta`` is exactly ``r**2 / 2``.  Binary
objectives (``binary_cross_entropy_with_logits``, ``sigmoid_focal``) and
multi-class ones (``cross_entropy``, ``softmax_focal``) work on raw margins:
predictions of a model trained with them are margins too (apply the sigmoid or
softmax yourself).  Multi-class objectives need ``num_class`` in the library
parameters; scores arrive as ``(n, num_class)`` (LightGBM >= 4, XGBoost >= 2).
"""
import numpy as np

import pyloss as _pl

__all__ = ["Objective", "Metric", "objective", "metric", "objectives", "OBJECTIVES"]

# name -> kind.  "elementwise": score and label have the same shape (regression,
# binary on logits); "multiclass": scores (n, K), label class indices (n,).
# Names are used only when registered (pl.losses()).
OBJECTIVES = {
    "mse": "elementwise",
    "mae": "elementwise",
    "huber": "elementwise",
    "smooth_l1": "elementwise",
    "log_cosh": "elementwise",
    "quantile": "elementwise",
    "binary_cross_entropy_with_logits": "elementwise",
    "sigmoid_focal": "elementwise",
    "cross_entropy": "multiclass",
    "softmax_focal": "multiclass",
}

# Losses whose Hessian is identically zero: "auto" uses a constant Hessian.
_FLAT = {"mae", "quantile"}


def objectives():
    """Names usable with :func:`objective` and :func:`metric` in this build."""
    return tuple(n for n in OBJECTIVES if n in _pl.losses())


def _check_name(name):
    if name not in objectives():
        raise _pl.PylossValueError(
            f"name: expected one of {objectives()} (losses usable as boosting objectives "
            f"in this build), got {name!r}")
    return _pl.get(name)


def _unpack(a, b, rest, kw):
    """(scores, label, weight) from a native (preds, dataset) or a scikit-learn call."""
    if hasattr(b, "get_label"):                    # xgboost.DMatrix / lightgbm.Dataset
        scores, label = np.asarray(a), np.asarray(b.get_label())
        w = b.get_weight()
    else:                                          # y_true, y_pred[, sample_weight]
        label, scores = np.asarray(a), np.asarray(b)
        w = rest[0] if rest else kw.get("sample_weight", kw.get("weight"))
    w = None if w is None or np.size(w) == 0 else np.asarray(w, dtype=np.float64)
    return scores, label, w


def _shape_for(kind, scores, label):
    """Scores as the loss sees them, and the label converted."""
    n = label.shape[0] if label.ndim else 1
    if kind == "multiclass":
        s = scores if scores.ndim == 2 else scores.reshape(n, -1)
        if np.any(label != np.round(label)):
            raise _pl.PylossValueError("label: multi-class objectives take class indices 0..K-1")
        return s, label.astype(np.int64)
    return scores.reshape(label.shape) if scores.size == label.size else scores, \
        label.astype(scores.dtype if scores.dtype.kind == "f" else np.float64)


class Objective:
    """Gradient and Hessian of a pyloss loss for XGBoost / LightGBM.

    Parameters
    ----------
    name : str
        One of :func:`objectives`.
    hessian : {"auto", "exact", "constant"}
        ``"exact"``: pyloss's Hessian floored at `hess_floor`; ``"constant"``:
        1 for every sample (times its weight); ``"auto"``: ``"constant"`` for
        ``mae``/``quantile`` (zero curvature everywhere), else ``"exact"``.
    hess_floor : float, >= 0
        Lower bound applied to the exact Hessian (default 1e-6).
    **opts
        The loss's options (``delta=``, ``q=``, ``gamma=``, ``alpha=``, ...).

    Returns (when called)
    ---------------------
    (grad, hess) : float64 arrays of the scores' shape.
    """

    def __init__(self, name, *, hessian="auto", hess_floor=1e-6, **opts):
        self.loss = _check_name(name)
        self.kind = OBJECTIVES[name]
        _pl._dispatch.opt_choice("hessian", hessian, ("auto", "exact", "constant"))
        if hessian == "auto":
            hessian = "constant" if name in _FLAT else "exact"
        if hessian == "exact" and not self.loss.has_hessian:
            raise _pl.PylossValueError(
                f"hessian: {name} offers no Hessian; use hessian='constant'")
        self.hessian = hessian
        self.hess_floor = _pl._dispatch.opt_float("hess_floor", hess_floor, lo=0.0)
        if "weight" in opts and self.kind == "elementwise":
            raise _pl.PylossTypeError("weight: sample weights come from the data set "
                                      "(DMatrix/Dataset weight, or sample_weight=)")
        self.loss._parse((None,) * len(self.loss.inputs), opts)
        self.opts = opts
        self.__name__ = f"pyloss_{name}"

    def gradient_hessian(self, scores, label, weight=None):
        """``(grad, hess)`` of the per-sample loss w.r.t. `scores` (float64)."""
        s, y = _shape_for(self.kind, np.asarray(scores, dtype=np.float64), np.asarray(label))
        g = np.asarray(self.loss.grad(s, y, reduction="none", **self.opts), dtype=np.float64)
        if self.hessian == "exact":
            h = np.asarray(self.loss.hessian(s, y, reduction="none", **self.opts), dtype=np.float64)
            h = np.maximum(h, self.hess_floor)
        else:
            h = np.ones_like(g)
        if weight is not None:
            w = np.asarray(weight, np.float64).reshape((-1,) + (1,) * (g.ndim - 1))
            g = g * w
            h = h * w
        shape = np.shape(scores)
        return g.reshape(shape), h.reshape(shape)

    def __call__(self, a, b, *rest, **kw):
        scores, label, w = _unpack(a, b, rest, kw)
        return self.gradient_hessian(scores, label, w)

    def __repr__(self):
        return f"<pyloss boosting objective {self.loss.name} hessian={self.hessian!r} {self.opts}>"


class Metric:
    """Evaluation metric: the pyloss ``mean`` of the loss on raw scores.

    Parameters
    ----------
    name : str
        One of :func:`objectives`.
    library : {"xgboost", "lightgbm"}
        Decides the return convention: XGBoost ``(name, value)`` from
        ``xgboost.train(custom_metric=...)`` and a float from its
        scikit-learn ``eval_metric``; LightGBM ``(name, value, False)``
        (lower is better) from ``feval`` and ``eval_metric``.
    **opts
        The loss's options.

    Scores are raw margins, as both libraries pass them when the objective is
    custom.  Weighted data give ``sum(w*l) / sum(w)``.
    """

    def __init__(self, name, library, **opts):
        self.loss = _check_name(name)
        self.kind = OBJECTIVES[name]
        self.library = _pl._dispatch.opt_choice("library", library, ("xgboost", "lightgbm"))
        self.loss._parse((None,) * len(self.loss.inputs), opts)
        self.opts = opts
        self.name = f"pyloss_{name}"
        self.__name__ = self.name

    def value(self, scores, label, weight=None):
        s, y = _shape_for(self.kind, np.asarray(scores, dtype=np.float64), np.asarray(label))
        if weight is None:
            return float(self.loss(s, y, **self.opts))
        w = np.asarray(weight, np.float64)
        per = np.asarray(self.loss(s, y, reduction="none", **self.opts), np.float64)
        if per.ndim > 1:                       # elementwise multi-output: weight rows
            per = per.reshape(per.shape[0], -1).sum(axis=1) / per[0].size
        return float(np.sum(w * per) / np.sum(w))

    def __call__(self, a, b, *rest, **kw):
        native = hasattr(b, "get_label")
        scores, label, w = _unpack(a, b, rest, kw)
        v = self.value(scores, label, w)
        if self.library == "lightgbm":
            return self.name, v, False
        return (self.name, v) if native else v

    def __repr__(self):
        return f"<pyloss boosting metric {self.loss.name} for {self.library} {self.opts}>"


def objective(name, *, hessian="auto", hess_floor=1e-6, **opts):
    """A custom objective for XGBoost and LightGBM (see :class:`Objective`).

    Examples
    --------
    >>> import numpy as np, pyloss.boosting as plb
    >>> g, h = plb.objective("huber", delta=1.0)(np.array([0.0, 0.0]), np.array([0.5, 3.0]))
    >>> g.tolist(), h.tolist()           # (y_true, y_pred) order, as scikit-learn APIs call it
    ([0.5, 1.0], [1.0, 1e-06])
    """
    return Objective(name, hessian=hessian, hess_floor=hess_floor, **opts)


def metric(name, library, **opts):
    """An evaluation metric for XGBoost or LightGBM (see :class:`Metric`)."""
    return Metric(name, library, **opts)
