"""scikit-learn scorers for every pyloss loss that scores an estimator's predictions.

``import pyloss.sklearn as pls`` (the ``pyloss[sklearn]`` extra); ``import
pyloss`` never imports scikit-learn::

    from sklearn.model_selection import cross_val_score, GridSearchCV
    cross_val_score(Ridge(), X, y, scoring=pls.scorer("huber", delta=0.5))
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1]}, scoring=pls.scorer("cross_entropy"))

Scorers follow :func:`sklearn.metrics.make_scorer`: a loss is lower-is-better,
so the scorer is built with ``greater_is_better=False`` and *returns the
negated loss* (as scikit-learn's ``neg_mean_squared_error`` does).  The loss
value itself is the pyloss ``mean`` (``sum(w*l)/sum(w)`` with
``sample_weight``).  Which predictions a scorer asks for is each loss's
``sklearn_scorer`` fact (collected in :data:`SCORERS`):

* regression losses -- ``predict``;
* ``cross_entropy`` and ``softmax_focal`` -- ``predict_proba``, turned into
  logits as ``log(max(p, tiny))`` (log-softmax of log-probabilities is
  themselves), so ``cross_entropy`` equals ``sklearn.metrics.log_loss`` up to
  its clipping of ``p`` (scikit-learn clips at the dtype's eps, here only at
  the smallest normal float);
* ``binary_cross_entropy`` -- ``predict_proba`` of the positive class;
* ``binary_cross_entropy_with_logits`` and ``sigmoid_focal`` --
  ``decision_function`` (the logit of the positive class).

Class labels: multi-class scorers take ``labels=`` (the estimator's
``classes_`` order); without it integer labels in ``[0, K)`` are used as
column indices and other labels are mapped through ``np.unique(y_true)``,
which needs every class in each test fold.  Binary scorers take
``pos_label=``; without it labels must be 0/1 (or bool), or the larger of two
labels is the positive one (scikit-learn's ``classes_[1]``).

Entries whose loss is not registered in this build (``pyloss.losses()``) are
left out: :func:`scorer_names` lists what is usable.
"""
import inspect

import numpy as np
from sklearn.metrics import make_scorer

import pyloss as _pl
from pyloss.stream import per_element_weight

__all__ = ["SCORERS", "scorer", "scorer_names", "scorers", "loss_function"]


def _regression(loss, y_true, y_pred, opts):
    y_pred = np.asarray(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(np.float64)
    y_true = np.asarray(y_true)
    return y_pred, y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true


def _class_index(y_true, k, labels):
    y = np.asarray(y_true)
    if labels is not None:
        lookup = {v: i for i, v in enumerate(np.asarray(labels).tolist())}
        try:
            return np.array([lookup[v] for v in y.tolist()], dtype=np.int64).reshape(y.shape)
        except KeyError as exc:
            raise _pl.PylossValueError(
                f"y_true: label {exc.args[0]!r} is not in labels={list(lookup)}") from None
    if y.dtype.kind in "iub" and (y.size == 0 or (y.min() >= 0 and y.max() < k)):
        return y.astype(np.int64)
    uniq, idx = np.unique(y, return_inverse=True)
    if uniq.size != k:
        raise _pl.PylossValueError(
            f"y_true: {uniq.size} distinct labels for {k} predicted classes; pass labels= "
            f"(the estimator's classes_) to the scorer")
    return idx.astype(np.int64)


def _multiclass_proba(loss, y_true, y_pred, opts):
    p = np.asarray(y_pred, dtype=np.float64)
    if p.ndim == 1:                         # binary estimator: positive-class column only
        p = np.stack([1.0 - p, p], axis=1)
    logits = np.log(np.maximum(p, np.finfo(np.float64).tiny))
    return logits, _class_index(y_true, p.shape[1], opts.pop("labels", None))


def _binary_target(y_true, opts):
    y = np.asarray(y_true)
    pos = opts.pop("pos_label", None)
    if pos is not None:
        return (y == pos).astype(np.float64)
    if y.dtype.kind == "b" or np.isin(y, (0, 1)).all():
        return y.astype(np.float64)
    uniq = np.unique(y)
    if uniq.size > 2:
        raise _pl.PylossValueError(f"y_true: a binary scorer got {uniq.size} labels; pass pos_label=")
    return (y == uniq[-1]).astype(np.float64)


def _binary_scores(loss, y_true, y_pred, opts):
    s = np.asarray(y_pred, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 2:     # full predict_proba matrix
        s = s[:, 1]
    return s, _binary_target(y_true, opts)


# adapter kind (the second item of a loss's ``sklearn_scorer`` fact) ->
# adapter(loss, y_true, y_pred, opts) -> (pred, target).
_ADAPTERS = {"regression": _regression, "multiclass": _multiclass_proba, "binary": _binary_scores}

# name -> (response_method, adapter), from the registered losses' ``sklearn_scorer`` facts.
SCORERS = {loss.name: (loss.sklearn_scorer[0], _ADAPTERS[loss.sklearn_scorer[1]])
           for loss in map(_pl.get, _pl.losses()) if loss.sklearn_scorer}

_LABEL_OPTS = ("labels", "pos_label")


def scorer_names():
    """Loss names :func:`scorer` accepts in this build."""
    return tuple(n for n in SCORERS if n in _pl.losses())


def loss_function(name, **opts):
    """``f(y_true, y_pred, *, sample_weight=None, **overrides) -> float``, the pyloss mean.

    The metric function behind :func:`scorer` (lower is better), in
    scikit-learn's ``(y_true, y_pred)`` argument order.
    """
    if name not in scorer_names():
        raise _pl.PylossValueError(f"name: expected one of {scorer_names()}, got {name!r}")
    loss = _pl.get(name)
    adapter = SCORERS[name][1]
    loss_opts = {k: v for k, v in opts.items() if k not in _LABEL_OPTS}
    loss._parse((None,) * len(loss.inputs), loss_opts)

    def metric(y_true, y_pred, *, sample_weight=None, **kw):
        o = dict(opts, **kw)
        pred, target = adapter(loss, y_true, y_pred, o)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if pred.ndim > 1 and not per_element_weight(loss):
                # the loss's weight is not per element (per-class, or none): sample
                # weights are applied to the per-sample losses instead
                per = np.asarray(loss(pred, target, reduction="none", **o), np.float64)
                return float(np.sum(w * per) / np.sum(w))
            if pred.ndim > 1:
                w = w.reshape((-1,) + (1,) * (pred.ndim - 1)) * np.ones_like(pred)
            o["weight"] = w
        return float(loss(pred, target, **o))

    metric.__name__ = f"pyloss_{name}"
    return metric


def _make(func, response_method, **kw):
    params = inspect.signature(make_scorer).parameters
    if "response_method" in params:
        return make_scorer(func, response_method=response_method, greater_is_better=False, **kw)
    # scikit-learn < 1.4
    flags = {"predict": {}, "predict_proba": {"needs_proba": True},
             "decision_function": {"needs_threshold": True}}[response_method]
    return make_scorer(func, greater_is_better=False, **flags, **kw)


def scorer(name, **opts):
    """A scikit-learn scorer for loss `name` (negated loss: greater is better).

    Parameters
    ----------
    name : str
        One of :func:`scorer_names`.
    **opts
        The loss's options (``delta=``, ``q=``, ``label_smoothing=``, ...), and
        ``labels=`` (multi-class) or ``pos_label=`` (binary), see the module
        docstring.

    Examples
    --------
    >>> import numpy as np, pyloss.sklearn as pls
    >>> from sklearn.dummy import DummyRegressor
    >>> X, y = np.zeros((4, 1)), np.array([0.0, 1.0, 2.0, 5.0])
    >>> est = DummyRegressor().fit(X, y)                  # predicts the mean, 2
    >>> float(pls.scorer("mae")(est, X, y))               # -(2 + 1 + 0 + 3) / 4
    -1.5
    """
    response_method = SCORERS[name][0] if name in SCORERS else "predict"
    return _make(loss_function(name, **opts), response_method)


def scorers(**opts_by_name):
    """``{"neg_pyloss_<name>": scorer}`` for every usable loss, for multi-metric ``scoring=``.

    Options per loss as ``scorers(huber={"delta": 0.5})``.
    """
    return {f"neg_pyloss_{n}": scorer(n, **opts_by_name.get(n, {})) for n in scorer_names()}
