"""Cases for the metric-learning family (see conftest.Case).

The batch losses (info_nce, nt_xent, supcon, batch_triplet) see a batch of
``N`` rows of ``DIM`` features, ``N`` the number of elements of the zoo's
shape -- capped (``rows``) so that the N x N matrix of the largest zoo sizes
stays small while still crossing the parallel cut-off (2**17 matrix
entries) for the ``BIG`` size.  margin_ranking takes the shape as is;
cosine_embedding uses ``N`` rows.
"""
import math

import numpy as np

from conftest import Case

DIM = 6


def rows(shape):
    n = int(np.prod(shape))
    return n if n <= 64 else 64 + math.isqrt(n)


def _pair(rng, shape, dtype):
    n = rows(shape)
    return tuple(rng.standard_normal((n, DIM)).astype(dtype) for _ in range(2)), {}


def _labelled(rng, shape, dtype):
    n = rows(shape)
    x = rng.standard_normal((n, DIM)).astype(dtype)
    return (x, rng.integers(0, max(2, n // 4), n)), {}


def _near_kinks(arrays, opts, tol=1e-5):
    """Whether a finite difference could cross a hinge or a mining tie."""
    x = np.asarray(arrays[0], np.float64)
    y = np.asarray(arrays[1])
    d2 = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    d = d2 if opts.get("squared", False) else np.sqrt(d2)
    m = opts.get("margin", 1.0)
    for i in range(len(x)):
        pm = (y == y[i]) & (np.arange(len(x)) != i)
        nm = y != y[i]
        if not pm.any() or not nm.any():
            continue
        a, b = np.sort(d[i, pm]), np.sort(d[i, nm])
        if opts.get("mining", "batch_hard") == "batch_hard":
            h = a[-1] + m - b[0]
            if abs(h) < tol or (a.size > 1 and a[-1] - a[-2] < tol) \
                    or (b.size > 1 and b[1] - b[0] < tol):
                return True
        elif np.min(np.abs(a[:, None] + m - b[None, :])) < tol:
            return True
    return False


def _triplet_fd_ok(arrays, opts):
    return np.full(np.shape(arrays[0]), not _near_kinks(arrays, opts))


def _ranking(rng, shape, dtype):
    x1 = rng.standard_normal(shape).astype(dtype)
    x2 = rng.standard_normal(shape).astype(dtype)
    return (x1, x2, np.where(rng.random(shape) < 0.5, 1.0, -1.0).astype(dtype)), {}


def _ranking_fd_ok(arrays, opts):
    x1, x2, y = (np.asarray(a, np.float64) for a in arrays)
    ok = np.abs(-y * (x1 - x2) + opts.get("margin", 0.0)) > 1e-4
    return ok, ok


def _cosine(rng, shape, dtype):
    n = rows(shape)
    x1 = rng.standard_normal((n, DIM)).astype(dtype)
    x2 = rng.standard_normal((n, DIM)).astype(dtype)
    return (x1, x2, np.where(rng.random(n) < 0.5, 1.0, -1.0).astype(dtype)), {}


def _cosine_fd_ok(arrays, opts):
    x1, x2 = (np.asarray(a, np.float64) for a in arrays[:2])
    cos = np.sum(x1 * x2, -1) / np.sqrt(np.sum(x1 * x1, -1) * np.sum(x2 * x2, -1))
    ok = np.broadcast_to((np.abs(cos - opts.get("margin", 0.0)) > 1e-4)[:, None], x1.shape)
    return ok, ok


_E = np.exp(1.0)

CASES = {
    "info_nce": Case(
        _pair,
        option_sets=[{}, {"symmetric": True}, {"normalize": False, "temperature": 2.0},
                     {"temperature": 0.05, "symmetric": True}],
        hand=[((np.eye(3), np.eye(3)), {"temperature": 1.0}, "mean", math.log(_E + 2) - 1,
               "S = I: every row is log(e + 2) - 1"),
              ((np.eye(2), -np.eye(2)), {"temperature": 1.0}, "sum", 2 * math.log(1 + _E),
               "S = -I: each row log(e^-1 + 1) + 1 = log(1 + e)")]),
    "nt_xent": Case(
        _pair, option_sets=[{}, {"temperature": 0.1}, {"temperature": 2.0}],
        hand=[((np.eye(2), np.eye(2)), {"temperature": 1.0}, "mean", math.log(_E + 2) - 1,
               "rows e1, e2, e1, e2: other entries {0, 1, 0}, positive 1")]),
    "supcon": Case(
        _labelled, option_sets=[{}, {"temperature": 1.0}, {"temperature": 0.05}],
        empty_mean=0.0,
        hand=[(([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [0, 0, 1]), {"temperature": 1.0}, "mean",
               math.log(_E + 1) - 1, "anchors 0, 1: positive sim 1, other sim 0; anchor 2 "
               "has no positive and is left out of the mean")]),
    "batch_triplet": Case(
        _labelled,
        option_sets=[{}, {"mining": "batch_all"}, {"squared": True, "margin": 4.0},
                     {"mining": "batch_all", "squared": True, "margin": 3.0},
                     {"margin": 0.5, "mining": "batch_all"}],
        fd_ok=_triplet_fd_ok, empty_mean=0.0,
        hand=[(([[0.0], [1.0], [3.0]], [0, 0, 1]), {"margin": 2.0}, "sum", 1.0,
               "anchor 0: 1 - 3 + 2 = 0; anchor 1: 1 - 2 + 2 = 1; anchor 2 has no positive"),
              (([[0.0], [1.0], [3.0], [4.0]], [0, 0, 1, 1]), {"margin": 3.0, "mining": "batch_all"},
               "mean", 8.0 / 6.0, "8 triplets, hinges d_ap - d_an + 3: anchor 0: 1, 0; anchor 1: "
               "2, 1; anchor 2: 1, 2; anchor 3: 0, 1 -> 8 over the 6 positive ones")]),
    "margin_ranking": Case(
        _ranking, option_sets=[{}, {"margin": 0.5}], fd_ok=_ranking_fd_ok,
        hand=[(([1.0, 0.0], [0.0, 1.0], [1.0, 1.0]), {"margin": 0.5}, "sum", 1.5,
               "max(0, -1 + 0.5) + max(0, 1 + 0.5)")]),
    "cosine_embedding": Case(
        _cosine, option_sets=[{}, {"margin": 0.2}], fd_ok=_cosine_fd_ok,
        hand=[(([[1.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]], [1, -1]), {"margin": 0.5},
               "sum", 1.0 + (math.sqrt(0.5) - 0.5), "cos 0 (y=1: 1 - 0); cos 1/sqrt2 (y=-1)")]),
}
