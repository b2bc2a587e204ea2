"""Cases for the embedding family (see conftest.Case).

``make(rng, shape, dtype)`` gives inputs whose leading shape is ``shape``
(the per-sample shape of ``reduction="none"``) plus an embedding axis.
"""
import numpy as np

from conftest import Case

DIM = 6


def _triplet(rng, shape, dtype):
    return tuple(rng.standard_normal(tuple(shape) + (DIM,)).astype(dtype) for _ in range(3)), {}


def _triplet_fd_ok(arrays, opts):
    """Rows away from the hinge (finite differences straddle it otherwise)."""
    from pyloss.reference.embedding import pnorm
    a, p, n = (np.asarray(x, np.float64) for x in arrays)
    pw, eps = opts.get("p", 2.0), opts.get("eps", 1e-6)
    dap, _ = pnorm(a - p + eps, pw)
    dan, _ = pnorm(a - n + eps, pw)
    if opts.get("swap", False):
        dpn, _ = pnorm(p - n + eps, pw)
        ok = np.abs(dan - dpn) > 1e-3
        dan = np.minimum(dan, dpn)
    else:
        ok = np.ones(dap.shape, bool)
    ok &= np.abs(dap - dan + opts.get("margin", 1.0)) > 1e-3
    return np.broadcast_to(ok[..., None], a.shape)


def _contrastive(rng, shape, dtype):
    x1 = rng.standard_normal(tuple(shape) + (DIM,)).astype(dtype)
    x2 = rng.standard_normal(tuple(shape) + (DIM,)).astype(dtype)
    return (x1, x2, (rng.random(shape) < 0.5).astype(dtype)), {"margin": 3.0}


def _contrastive_fd_ok(arrays, opts):
    x1, x2 = (np.asarray(x, np.float64) for x in arrays[:2])
    d = np.sqrt(np.sum((x1 - x2) ** 2, axis=-1))
    ok = np.abs(d - opts.get("margin", 1.0)) > 1e-3
    return np.broadcast_to(ok[..., None], x1.shape)


CASES = {
    "triplet": Case(
        _triplet,
        option_sets=[{}, {"swap": True}, {"p": 1.0}, {"p": 3.0}, {"p": 1.5, "swap": True},
                     {"margin": 0.3, "eps": 0.0}],
        fd_ok=_triplet_fd_ok,
        hand=[(([[0.0, 0.0]], [[3.0, 4.0]], [[1.0, 0.0]]), {"eps": 0.0}, "sum", 5.0,
               "d(a,p) = 5 (3-4-5 triangle), d(a,n) = 1: 5 - 1 + 1"),
              (([[0.0, 0.0]], [[3.0, 4.0]], [[1.0, 0.0]]), {"eps": 0.0, "p": 1.0}, "sum", 7.0,
               "p = 1: |3| + |4| - 1 + 1"),
              (([[0.0, 0.0]], [[1.0, 0.0]], [[3.0, 4.0]]), {"eps": 0.0, "margin": 2.0}, "sum",
               0.0, "1 - 5 + 2 < 0: hinge inactive")]),
    "contrastive": Case(
        _contrastive, option_sets=[{}, {"margin": 0.0}, {"margin": 1.0}],
        fd_ok=_contrastive_fd_ok,
        hand=[(([[0.0, 0.0], [0.0, 0.0]], [[3.0, 4.0], [0.3, 0.4]], [1.0, 0.0]), {"margin": 1.0},
               "sum", 25.25, "similar: d^2 = 25; dissimilar: d = 0.5, (1 - 0.5)^2 = 0.25")]),
}
