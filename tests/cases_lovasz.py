"""Cases for lovasz_softmax (see conftest.Case)."""
import numpy as np

from conftest import Case

C = 3


def _layout(shape):
    shape = tuple(shape)
    spatial = shape[1:] if len(shape) > 1 else (4,)
    return (shape[0], C) + spatial


def _make(rng, shape, dtype):
    full = _layout(shape)
    pred = rng.uniform(0.02, 0.98, size=full).astype(dtype)
    labels = rng.integers(0, C, size=(full[0],) + full[2:])
    return (pred, labels), {}


def _probs(x, opts):
    if opts.get("from_logits") == "softmax":
        e = np.exp(x - x.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    return x


def _fd_ok(arrays, opts):
    """Pixels whose errors are not within 1e-4 of another error of the same
    class and group (a kink of the sort) nor of 0."""
    x, lab = np.asarray(arrays[0], np.float64), np.asarray(arrays[1])
    N, Cc = x.shape[:2]
    p = _probs(x, opts).reshape(N, Cc, -1)
    lab = lab.reshape(N, -1)
    ok = np.ones((N, p.shape[2]), bool)
    groups = [[i] for i in range(N)] if opts.get("per_image") else [list(range(N))]
    for g in groups:
        for c in range(Cc):
            e = np.concatenate([np.abs((lab[i] == c) - p[i, c]) for i in g])
            d = np.abs(e[:, None] - e[None, :]) + np.eye(e.size)
            bad = (d.min(1) < 1e-4) | (e < 1e-4)
            k = 0
            for i in g:
                ok[i] &= ~bad[k:k + lab.shape[1]]
                k += lab.shape[1]
    return np.broadcast_to(ok[:, None, :], p.shape).reshape(x.shape).copy()


# Hand value: p = [[0.9, 0.2], [0.1, 0.8]] (C=2, two pixels), labels [0, 1].
# class 0: errors (0.1 fg, 0.2 bg) sorted (0.2 bg, 0.1 fg): J = 1 - 1/2, then 1:
# weights 0.5, 0.5 -> 0.15.  class 1: errors (0.1 bg, 0.2 fg) sorted (0.2 fg,
# 0.1 bg): J = 1, 1 -> weights 1, 0 -> 0.2.  mean 0.175.
_P = [[[0.9, 0.2], [0.1, 0.8]]]
_T = [[0, 1]]

CASES = {
    "lovasz_softmax": Case(
        _make, reductions=("mean", "sum"), empty_mean=0.0, fd_ok=_fd_ok,
        # float32 errors that tie or nearly tie sort in another order than
        # their float64 reference values: two adjacent ranks swap, and the two
        # pixels' gradients change by O(1/P^2) (about 1e-4 of the largest).
        rtol={"float16": 3e-4, "float32": 3e-4},
        option_sets=[{}, {"from_logits": "softmax"}, {"classes": "all"},
                     {"per_image": True, "from_logits": "softmax"},
                     {"ignore_index": 1, "from_logits": "softmax", "classes": "all"},
                     {"ignore_index": 2, "per_image": True}],
        hand=[((_P, _T), {}, "mean", 0.5 * (0.15 + 0.2),
               "Berman's algorithm by hand: class 0 gives 0.15, class 1 gives 0.2"),
              ((_P, [[0, 0]]), {}, "mean", 0.45,
               "labels (0, 0): class 0 errors (0.1, 0.8), both foreground, G = 2: J = 1/2, 1 "
               "-> 0.8/2 + 0.1/2; class 1 absent, not counted"),
              ((_P, [[0, 0]]), {"classes": "all"}, "mean", 0.5 * (0.45 + 0.8),
               "as above, plus class 1 with G = 0: J = 1, 1 -> its largest error 0.8"),
              ]),
}
