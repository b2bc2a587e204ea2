"""Cases for the classification family (see conftest.Case).

``shape`` is the leading (batch) shape: softmax losses get logits
``(shape[0], C) + shape[1:]`` with targets of ``shape``; elementwise losses
use ``shape`` for the logits/probabilities.
"""
import numpy as np

from conftest import Case

C = 6


def _logits(rng, shape, dtype, C=C):
    return (rng.standard_normal((shape[0], C) + tuple(shape[1:])) * 2).astype(dtype)


def _ce_make(rng, shape, dtype):
    t = rng.integers(0, C, shape)
    if t.size:
        t.flat[0] = -100  # an ignored target in every non-empty case
    return (_logits(rng, shape, dtype), t), {}


def _class_weight(rng, arrays, opts):
    """cross_entropy's weight is per class (C,), not per sample."""
    return rng.uniform(0.5, 2.0, arrays[0].shape[1]).astype(arrays[0].dtype)


def _ce_prob_make(rng, shape, dtype):
    z = _logits(rng, shape, dtype)
    p = rng.random(z.shape)
    p /= p.sum(axis=1, keepdims=True)
    return (z, p.astype(dtype)), {}


def _bce_make(rng, shape, dtype):
    p = rng.uniform(0.02, 0.98, shape).astype(dtype)
    t = (rng.random(shape) < 0.4).astype(dtype)
    return (p, t), {}


def _logit_make(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = (rng.random(shape) < 0.4).astype(dtype)
    if t.size:
        t.flat[-1] = 0.3  # a soft target
    return (x, t), {}


_W = np.linspace(0.5, 2.0, C)

CASES = {
    "cross_entropy": Case(
        _ce_make,
        weight=_class_weight,
        option_sets=[{}, {"weight": _W}, {"label_smoothing": 0.1},
                     {"weight": _W, "label_smoothing": 0.25}],
        hand=[((np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]), np.array([0, 2])), {}, "sum",
               np.log(np.exp(2) + 1 + np.exp(-1)) - 2 + np.log(3.0),
               "row 0: log(e^2 + e^0 + e^-1) - 2; row 1: uniform over 3 classes, log 3"),
              ((np.array([[0.0, 0.0]]), np.array([0])), {"label_smoothing": 0.5}, "sum",
               np.log(2.0), "uniform p: -(0.75 log .5 + .25 log .5) = log 2")]),
    "softmax_focal": Case(
        _ce_make,
        option_sets=[{}, {"gamma": 0.0}, {"gamma": 0.5, "alpha": 0.25}, {"gamma": 3.7, "alpha": _W},
                     {"gamma": 1.0}],
        hand=[((np.array([[0.0, 0.0]]), np.array([0])), {"gamma": 2.0}, "sum",
               0.25 * np.log(2.0), "p_t = 1/2: -(1/2)^2 log(1/2)")]),
    "binary_cross_entropy": Case(
        _bce_make,
        hand=[(([0.9, 0.2], [1.0, 0.0]), {}, "sum", -np.log(0.9) - np.log(0.8),
               "-log 0.9 - log(1 - 0.2)"),
              (([0.0, 1.0], [1.0, 0.0]), {}, "sum", 200.0, "both logs clamped at -100 (PyTorch)")]),
    "binary_cross_entropy_with_logits": Case(
        _logit_make,
        option_sets=[{}, {"pos_weight": np.array(3.0)}, {"pos_weight": np.array(0.0)}],
        hand=[(([0.0], [1.0]), {}, "sum", np.log(2.0), "softplus(0) = log 2"),
              (([0.0], [1.0]), {"pos_weight": np.array(2.0)}, "sum", 2 * np.log(2.0),
               "(1 + (2 - 1) 1) softplus(0)")]),
    "sigmoid_focal": Case(
        _logit_make,
        option_sets=[{}, {"gamma": 0.0, "alpha": -1.0}, {"gamma": 0.5}, {"gamma": 3.3, "alpha": 0.9},
                     {"gamma": 1.0, "alpha": -1.0}],
        hand=[(([0.0], [1.0]), {}, "sum", 0.25 * 0.25 * np.log(2.0),
               "p = 1/2: alpha_t (1 - p_t)^2 ce = 0.25 * 0.25 * log 2")]),
}
