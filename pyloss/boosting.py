"""Custom objectives, evaluation metrics and initial scores for XGBoost and LightGBM.

``import pyloss.boosting as plb`` (the ``pyloss[boosting]`` extra installs
xgboost and lightgbm; neither is imported here -- the callables only look at
what the libraries hand them)::

    obj = plb.objective("huber", delta=1.0)
    booster = xgboost.train({"tree_method": "hist"}, dtrain, obj=obj,
                            custom_metric=plb.metric("huber", "xgboost", delta=1.0))
    model = lightgbm.LGBMRegressor(objective=plb.objective("poisson", profile="lightgbm"))
    start = plb.init_score("poisson", y)          # optimal constant margin

An :class:`Objective` is called as ``(preds, dataset)`` by ``xgboost.train``
and ``lightgbm.train`` (label and weights read from the ``DMatrix``/``Dataset``)
and as ``(y_true, y_pred, sample_weight=None, group=None)`` by both libraries'
scikit-learn estimators.  It returns the per-sample gradient and Hessian of the
loss with respect to the raw score (margin), multiplied by the sample weights.
For elementwise losses both come from one pass of the pyloss kernel (weights
and the profile's scale applied inside it), computed in the margins' dtype
without copying them.

Profiles
--------
``objective(name, profile="xgboost"|"lightgbm")`` takes the gradient/Hessian
convention of that library's built-in objective for the loss (half squared
error, ``exp(max_delta_step)`` in the Poisson Hessian, ``2p(1-p)`` vs
``K/(K-1) p(1-p)`` for softmax, ...), so that training with it reproduces the
built-in's model; :func:`objective` lists them per loss.  Built-ins that re-fit
leaves after each tree (L1, quantile) cannot be reproduced and are refused.
Which profiles a loss has is a fact on the loss: ``pl.get(name).boosting``.

Hessian floor
-------------
The pyloss core reports exact second derivatives, which are 0 for piecewise
linear losses (``mae``, ``quantile``, ``huber`` outside ``|r| <= delta``,
``smooth_l1`` outside ``|r| < beta``) and can be negative for ``sigmoid_focal``.
A Newton step divides by the summed Hessian of a leaf, so this module, and only
this module, applies a floor (SPEC 3a): ``hess = max(hess, hess_floor)`` with
``hess_floor=1e-6`` by default (a profile uses its library's own floor).  For
losses whose Hessian is 0 everywhere (``mae``, ``quantile``) the default
``hessian="auto"`` uses a constant Hessian of 1 instead (a gradient step, what
LightGBM's own L1 and quantile objectives do); pass ``hessian="exact"`` or
``"constant"`` to choose.  The focal losses use a documented positive Hessian
(see :func:`objective`).

Scale conventions
-----------------
pyloss ``mse`` is ``r**2`` (gradient ``2r``, Hessian 2) whereas the libraries'
squared error is ``r**2 / 2``: ``profile=`` gives the libraries' scale.
Binary objectives (``binary_cross_entropy_with_logits``, ``sigmoid_focal``) and
multi-class ones (``cross_entropy``, ``softmax_focal``) work on raw margins:
predictions of a model trained with them are margins too (apply the sigmoid or
softmax yourself).  Multi-class objectives need ``num_class`` in the library
parameters; scores arrive as ``(n, num_class)`` (LightGBM >= 4, XGBoost >= 2)
or class-major flat ``(num_class * n,)`` (older LightGBM), and gradients go
back in the layout they came in.
"""
import numpy as np

import pyloss as _pl
from . import _boostfacts as _bf
from ._loss import ElementwiseLoss as _Ew

__all__ = ["Objective", "Metric", "objective", "metric", "objectives", "init_score"]

PROFILES = ("xgboost", "lightgbm")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def objectives():
    """Names usable with :func:`objective`, :func:`metric` and :func:`init_score`."""
    return tuple(n for n in _pl.losses() if _pl.get(n).boosting is not None)


def _check_name(name):
    if name not in objectives():
        raise _pl.PylossValueError(
            f"name: expected one of {objectives()} (losses usable as boosting objectives "
            f"in this build), got {name!r}")
    return _pl.get(name)


def _unpack(a, b, w):
    """(scores, label, weight) from a native (preds, dataset) or a scikit-learn call."""
    if hasattr(b, "get_label"):                    # xgboost.DMatrix / lightgbm.Dataset
        scores, label, w = a, b.get_label(), b.get_weight()
    else:                                          # y_true, y_pred[, sample_weight]
        label, scores = a, b
    scores = np.asarray(scores)
    if scores.dtype != _F32 and scores.dtype != _F64:
        scores = scores.astype(_F64)
    w = None if w is None or np.size(w) == 0 else np.asarray(w)
    return scores, np.asarray(label), w


def _class_layout(scores, label):
    """Scores as (N, K) and whether they came flat class-major (K*N,)."""
    n = label.shape[0] if label.ndim else 1
    if scores.ndim == 2:
        return scores, False
    if scores.ndim == 1 and n and scores.size % n == 0 and scores.size > n:
        return scores.reshape(-1, n).T, True       # LightGBM < 4: class-major
    raise _pl.PylossValueError(
        f"scores: a multi-class objective expects (N, K) or class-major (K*N,) scores for "
        f"{n} labels, got shape {scores.shape} (set num_class in the library's parameters)")


def _class_labels(label):
    if label.dtype.kind == "f":
        if np.any(label != np.round(label)):
            raise _pl.PylossValueError("label: multi-class objectives take class indices 0..K-1")
        return label.astype(np.int64)
    return label


def _rows(w, ndim):
    return w.reshape((-1,) + (1,) * (ndim - 1))


class Objective:
    """Gradient and Hessian of a pyloss loss for XGBoost / LightGBM.

    Parameters
    ----------
    name : str
        One of :func:`objectives`.
    profile : None, "xgboost" or "lightgbm"
        None: pyloss's own loss (gradient of the per-sample loss, exact Hessian
        floored at `hess_floor`).  A library name: the gradient/Hessian
        convention of that library's built-in objective for the same loss, so
        that training with this objective reproduces the built-in's model
        (same data, parameters and starting margin).  See :func:`objective`
        for what each profile does.  Losses without such a built-in, or whose
        built-in re-fits leaves (L1, quantile), raise ``ValueError``.
    hessian : {"auto", "exact", "constant"}
        ``"exact"``: the loss's Hessian floored at `hess_floor` (for the focal
        losses the documented surrogate, see below); ``"constant"``: 1 per
        sample (times its weight); ``"auto"``: ``"constant"`` for
        ``mae``/``quantile`` (zero curvature everywhere), else ``"exact"``.
        A profile fixes the Hessian: only ``"auto"`` is accepted with one.
    hess_floor : float >= 0, optional
        Lower bound of the (unweighted) Hessian; default 1e-6 without a
        profile, the library's own floor with one (1e-16 for XGBoost's logistic
        and softmax objectives, else none).  With sample weights the floor is
        ``w * hess_floor``.
    backend : {"auto", "c", "numba", "numpy"}
    **opts
        The loss's options (``delta=``, ``q=``, ``gamma=``, ``power=``, ...) and
        a profile's own ones (``max_delta_step=0.7`` for the Poisson profiles).

    Returns (when called)
    ---------------------
    (grad, hess) : arrays of the scores' shape and layout, in the scores'
    float dtype (XGBoost hands float32 margins: computed in float32, as its
    built-ins; LightGBM float64).

    Calling conventions: ``(preds, dtrain)`` from ``xgboost.train`` /
    ``lightgbm.train`` (label and weights from the DMatrix/Dataset), and
    ``(y_true, y_pred, sample_weight=None, group=None)`` from both libraries'
    scikit-learn estimators (XGBoost passes ``sample_weight=`` by name,
    LightGBM ``(y_true, y_pred, weight, group)`` by position).
    """

    def __init__(self, name, *, profile=None, hessian="auto", hess_floor=None, backend="auto",
                 **opts):
        loss = self.loss = _check_name(name)
        facts = self.facts = loss.boosting
        self.kind = facts.kind
        self.profile = profile
        prof = None
        extra = {}
        if profile is not None:
            _pl._dispatch.opt_choice("profile", profile, PROFILES + (None,))
            prof = facts.profiles.get(profile)
            if prof is None:
                have = [n for n in objectives() if profile in _pl.get(n).boosting.profiles
                        and _pl.get(n).boosting.profiles[profile].refit is None]
                raise _pl.PylossValueError(
                    f"profile: {profile} has no built-in objective for {name}; "
                    f"profile={profile!r} exists for {have}")
            if prof.refit is not None:
                raise _pl.PylossValueError(f"profile: {name} with profile={profile!r} is not "
                                           f"reproducible: {prof.refit}")
            if hessian != "auto":
                raise _pl.PylossValueError(f"hessian: a profile fixes the Hessian "
                                           f"({prof.doc}); got hessian={hessian!r}")
            extra = {k: _pl._dispatch.opt_float(k, opts.pop(k, v)) for k, v in prof.extra.items()}
        _pl._dispatch.opt_choice("hessian", hessian, ("auto", "exact", "constant"))
        if hessian == "auto":
            hessian = "constant" if facts.hessian == "zero" else "exact"
        if prof is not None and prof.hess == "one":
            hessian = "constant"
        if hessian == "exact" and not loss.has_hessian and facts.surrogate is None:
            raise _pl.PylossValueError(f"hessian: {name} offers no Hessian; use hessian='constant'")
        self.hessian = hessian
        if hess_floor is None:
            hess_floor = prof.floor if prof is not None else 1e-6
        self.hess_floor = _pl._dispatch.opt_float("hess_floor", hess_floor, lo=0.0)
        if "weight" in opts and self.kind == "elementwise":
            raise _pl.PylossTypeError("weight: sample weights come from the data set "
                                      "(DMatrix/Dataset weight, or sample_weight=)")
        merged = loss._parse((None,) * len(loss.inputs), opts)
        if isinstance(loss, _Ew) and np.ndim(merged.get("q", 0.5)) == 0:
            loss._params(merged)                   # option values checked now, not mid-training
        if prof is not None and prof.check is not None:
            prof.check(merged)
        self.opts = opts
        self.extra = extra
        self._prof = prof
        self.scale = prof.scale if prof is not None else 1.0
        self.backend = _pl._dispatch.check_backend(backend)
        # the fused single-pass path: a plain elementwise loss (the kernel writes
        # gradient and Hessian together, weights and scale applied inside)
        self._fused = (isinstance(loss, _Ew) and type(loss)._compute is _Ew._compute)
        self.__name__ = f"pyloss_{name}"

    # -------------------------------------------------------------- elementwise
    def _elementwise(self, scores, label, w):
        loss, opts = self.loss, self.opts
        s = scores.reshape(label.shape) if scores.size == label.size else scores
        exact = self.hessian == "exact"
        if self._fused and s.shape == label.shape:
            c = loss._bind((s, label), loss._parse((s, label), dict(opts, weight=w)))
            g = np.empty(c.shape, c.dtype)
            h = np.empty(c.shape, c.dtype) if exact else None
            kern = loss._kernel(self.backend, c.dtype)
            if self.backend == "numpy":
                kern(c, self.scale, None, g, h)
            else:
                kern(c.pred, c.target, c.weight, c.aux, c.p0, c.p1, self.scale, None, g, h,
                     _pl._config._threads[0])
            wb = c.weight
        else:
            wo = dict(opts, weight=w)
            g = np.asarray(loss.grad(s, label, reduction="none", **wo))
            if self.scale != 1.0:
                g *= self.scale
            h = np.asarray(loss.hessian(s, label, reduction="none", **wo)) if exact else None
            if h is not None and self.scale != 1.0:
                h *= self.scale
            wb = None if w is None else np.broadcast_to(_rows(w.astype(g.dtype), g.ndim), g.shape)
        if exact:
            prof = self._prof
            if prof is not None and prof.factor is not None:
                h *= prof.factor(self.extra, 1)
            facts = self.facts
            if facts.surrogate is not None:          # focal: max(exact, surrogate)
                sur = facts.surrogate(s, label, dict(loss.options, **opts), g)
                np.maximum(h, sur, out=h, casting="unsafe")
            if self.hess_floor > 0 and facts.hess_min < self.hess_floor:
                np.maximum(h, self.hess_floor if wb is None else wb * self.hess_floor, out=h,
                           casting="unsafe")
        else:
            h = np.full(g.shape, self.scale, g.dtype) if wb is None else \
                np.multiply(wb, self.scale, dtype=g.dtype)
        return g.reshape(scores.shape), h.reshape(scores.shape)

    # -------------------------------------------------------------- multi-class
    def _multiclass(self, scores, label, w):
        loss, opts = self.loss, self.opts
        s, flat = _class_layout(scores, label)
        y = _class_labels(label)
        K = s.shape[1]
        g = np.asarray(loss.grad(s, y, reduction="none", **opts))
        prof = self._prof
        f = self.scale * (prof.factor(self.extra, K) if prof is not None and prof.factor else 1.0)
        wr = None if w is None else w.astype(g.dtype, copy=False)[:, None]
        # scale, profile factor and sample weight folded into one pass per array
        if self.hessian == "exact":
            if self.facts.surrogate is not None:
                h = self.facts.surrogate(s, y, dict(loss.options, **opts), g).astype(g.dtype, copy=False)
            else:
                h = np.asarray(loss.hessian(s, y, reduction="none", **opts))
            if wr is not None:
                h *= wr * f
            elif f != 1.0:
                h *= f
            if self.hess_floor > 0 and self.facts.hess_min < self.hess_floor:
                np.maximum(h, self.hess_floor if wr is None else wr * self.hess_floor, out=h)
        else:
            h = np.full(g.shape, self.scale, g.dtype) if wr is None else \
                np.broadcast_to(wr * self.scale, g.shape).copy()
        if wr is not None:
            g *= wr * self.scale if self.scale != 1.0 else wr
        elif self.scale != 1.0:
            g *= self.scale
        if flat:
            return g.T.ravel(), h.T.ravel()
        return g.reshape(scores.shape), h.reshape(scores.shape)

    def gradient_hessian(self, scores, label, weight=None):
        """``(grad, hess)`` of the per-sample loss w.r.t. `scores` (see the class doc)."""
        scores, label, w = _unpack(label, scores, weight)
        if self.kind == "multiclass":
            return self._multiclass(scores, label, w)
        return self._elementwise(scores, label, w)

    def __call__(self, y_true_or_preds, y_pred_or_data, sample_weight=None, group=None):
        scores, label, w = _unpack(y_true_or_preds, y_pred_or_data, sample_weight)
        if self.kind == "multiclass":
            return self._multiclass(scores, label, w)
        return self._elementwise(scores, label, w)

    def __repr__(self):
        p = "" if self.profile is None else f" profile={self.profile!r}"
        return (f"<pyloss boosting objective {self.loss.name}{p} hessian={self.hessian!r} "
                f"{dict(self.opts, **self.extra)}>")


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
    custom (multi-class: ``(N, K)`` or LightGBM's class-major ``(K*N,)``).
    Weighted data give ``sum(w*l) / sum(w)``.
    """

    def __init__(self, name, library, **opts):
        self.loss = _check_name(name)
        self.kind = self.loss.boosting.kind
        self.library = _pl._dispatch.opt_choice("library", library, ("xgboost", "lightgbm"))
        self.loss._parse((None,) * len(self.loss.inputs), opts)
        self.opts = opts
        self.name = f"pyloss_{name}"
        self.__name__ = self.name

    def value(self, scores, label, weight=None):
        scores = np.asarray(scores, dtype=np.float64)
        label = np.asarray(label)
        if self.kind == "multiclass":
            s, y = _class_layout(scores, label)[0], _class_labels(label)
        else:
            s = scores.reshape(label.shape) if scores.size == label.size else scores
            y = label
        if weight is None:
            return float(self.loss(s, y, **self.opts))
        w = np.asarray(weight, np.float64)
        per = np.asarray(self.loss(s, y, reduction="none", **self.opts), np.float64)
        if per.ndim > 1:                       # elementwise multi-output: weight rows
            per = per.reshape(per.shape[0], -1).sum(axis=1) / per[0].size
        return float(np.sum(w * per) / np.sum(w))

    def __call__(self, y_true_or_preds, y_pred_or_data, sample_weight=None, group=None):
        native = hasattr(y_pred_or_data, "get_label")
        scores, label, w = _unpack(y_true_or_preds, y_pred_or_data, sample_weight)
        v = self.value(scores, label, w)
        if self.library == "lightgbm":
            return self.name, v, False
        return (self.name, v) if native else v

    def __repr__(self):
        return f"<pyloss boosting metric {self.loss.name} for {self.library} {self.opts}>"


def objective(name, *, profile=None, hessian="auto", hess_floor=None, backend="auto", **opts):
    """A custom objective for XGBoost and LightGBM (see :class:`Objective`).

    Without a profile the gradient is pyloss's per-sample gradient and the
    Hessian its exact one floored at ``hess_floor=1e-6``; ``mae``/``quantile``
    use a constant Hessian of 1, and the focal losses the surrogate below.

    Profiles, per loss (the library's built-in objective; sources cited in
    ``pyloss/_defs/regression.py``, ``classification.py`` and here):

    * ``mse`` -- ``xgboost``: ``reg:squarederror``, ``lightgbm``: ``regression``:
      half squared error, gradient ``r``, Hessian 1 (pyloss ``mse`` is ``r**2``).
    * ``huber`` -- ``lightgbm``: ``huber`` (``alpha = delta``): gradient
      ``clip(r, -delta, delta)``, Hessian 1 everywhere.  XGBoost has no Huber.
    * ``pseudo_huber`` -- ``xgboost``: ``reg:pseudohubererror``
      (``huber_slope = delta``), the exact gradient and Hessian.
    * ``fair`` -- ``lightgbm``: ``fair`` (``fair_c = c``), exact.
    * ``poisson`` -- ``xgboost``: ``count:poisson``, ``lightgbm``: ``poisson``:
      gradient ``e^r - y``, Hessian ``e^r * exp(max_delta_step)``
      (``max_delta_step=0.7``, an option of the objective).  XGBoost's built-in
      also caps every leaf value at ``max_delta_step`` (a tree parameter an
      objective cannot set): pass ``max_delta_step=0.7`` in the booster's
      parameters too.
    * ``gamma`` -- ``reg:gamma`` / ``gamma``: exact.
    * ``tweedie`` -- ``reg:tweedie`` / ``tweedie`` (``tweedie_variance_power =
      power``): exact; powers in ``[1, 2)`` only, others a ``ValueError``.
    * ``binary_cross_entropy_with_logits`` -- ``xgboost``: ``binary:logistic``,
      gradient ``p - y``, Hessian ``max(p(1-p), 1e-16)``; ``lightgbm``:
      ``binary``, Hessian ``p(1-p)``.  No ``pos_weight`` (use sample weights).
    * ``cross_entropy`` -- ``xgboost``: ``multi:softprob``, Hessian
      ``2 p(1-p)`` floored at 1e-16; ``lightgbm``: ``multiclass``, Hessian
      ``K/(K-1) p(1-p)``.  No class ``weight``/``label_smoothing``.
    * ``mae``, ``quantile`` -- not reproducible: XGBoost's
      ``reg:absoluteerror``/``reg:quantileerror`` and LightGBM's
      ``regression_l1``/``quantile`` re-fit every leaf to a percentile of the
      residuals after growing the tree (a line search no gradient/Hessian pair
      expresses), so both profiles raise ``ValueError``.
    * ``smooth_l1``, ``log_cosh``, ``exponential``, ``expectile``,
      ``sigmoid_focal``, ``softmax_focal`` -- no built-in: no profile.

    Focal losses (the exact Hessian of ``sigmoid_focal`` turns negative for
    confident logits, and pyloss offers none for ``softmax_focal``): the
    Hessian is ``max(exact, |g| p_t)`` for ``sigmoid_focal`` -- the exact one
    where it is the larger, else the bound that makes the Newton step exactly
    logistic loss's, ``|g/h| = 1/p_t`` -- and ``|G| p_k (1 - p_k)`` for
    ``softmax_focal``, ``G`` the row's gradient multiplier
    (``dl/dz_k = G (delta_kt - p_k)``), whose Newton step is softmax
    cross-entropy's.  Both are positive and finite for every logit (focal loss
    acts as a per-sample reweighting of the logistic/softmax step), then
    floored at ``hess_floor``.

    Examples
    --------
    >>> import numpy as np, pyloss.boosting as plb
    >>> g, h = plb.objective("huber", delta=1.0)(np.array([0.0, 0.0]), np.array([0.5, 3.0]))
    >>> g.tolist(), h.tolist()           # (y_true, y_pred) order, as scikit-learn APIs call it
    ([0.5, 1.0], [1.0, 1e-06])
    >>> g, h = plb.objective("mse", profile="xgboost")(np.array([1.0]), np.array([3.0]))
    >>> g.tolist(), h.tolist()           # reg:squarederror: r and 1
    ([2.0], [1.0])
    """
    return Objective(name, profile=profile, hessian=hessian, hess_floor=hess_floor,
                     backend=backend, **opts)


def metric(name, library, **opts):
    """An evaluation metric for XGBoost or LightGBM (see :class:`Metric`)."""
    return Metric(name, library, **opts)


def init_score(name, target, *, weight=None, **opts):
    """The optimal constant raw prediction (an intercept-only fit) for a loss.

    Closed forms: weighted mean (``mse``), weighted median (``mae``), weighted
    ``q``-quantile (``quantile``; an array for several levels), ``log`` of the
    weighted mean (``poisson``, ``gamma``, ``tweedie``), logit of the weighted
    mean (``binary_cross_entropy_with_logits``), ``0.5 log(sum w y / sum w(1-y))``
    (``exponential``), log class priors (``cross_entropy``; shape ``(K,)``,
    each prior clipped at float64 eps).  Others (``huber``, ``smooth_l1``,
    ``log_cosh``, ``pseudo_huber``, ``fair``, ``expectile``, ``sigmoid_focal``,
    ``softmax_focal``): safeguarded Newton steps on the summed gradient.

    Parameters
    ----------
    name : str
        One of :func:`objectives`.
    target : array_like
        The labels (class indices for multi-class losses).
    weight : array_like, optional
        Sample weights of the target's shape.
    **opts
        The loss's options (``q=``, ``delta=``, ``power=``, ...); for
        multi-class losses also ``num_class=`` (default ``max(target) + 1``).

    Returns
    -------
    float, or ndarray ``(K,)`` for multi-class losses and several quantile levels.
    Give it to XGBoost as a margin, ``DMatrix(..., base_margin=np.full(n, s))``
    (its ``base_score`` is not a margin for every objective), and to LightGBM
    as ``Dataset(..., init_score=np.full(n, s))`` (``(n, K)`` for multi-class).

    Examples
    --------
    >>> import pyloss.boosting as plb
    >>> plb.init_score("mae", [1.0, 2.0, 10.0])
    2.0
    """
    loss = _check_name(name)
    facts = loss.boosting
    num_class = opts.pop("num_class", None)
    merged = loss._parse((None,) * len(loss.inputs), opts)
    y = np.asarray(target)
    w = None if weight is None else np.asarray(weight, np.float64)
    if facts.kind == "elementwise":
        if "weight" in opts:
            raise _pl.PylossTypeError("weight: give sample weights as init_score(..., weight=w)")
        y = y.astype(np.float64)
        # validates the target's domain and the weights' shape (a ValueError naming the loss)
        if y.ndim == 0 or y.size == 0:
            raise _pl.PylossValueError(f"target: expected a non-empty 1-D array, got shape {y.shape}")
        q = merged.get("q")
        levels = () if q is None or np.ndim(q) == 0 else (np.size(q),)
        loss(np.zeros(y.shape + levels), y, weight=w, **opts)
        lopts = {k: v for k, v in merged.items() if k != "weight"}
    else:
        lopts = {k: v for k, v in merged.items() if k != "weight" or facts.init is _bf.init_log_prior}
        if num_class is not None:
            lopts["num_class"] = int(num_class)
    return facts.init(loss, y, w, lopts)
