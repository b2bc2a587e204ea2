"""Cases for the box losses giou, diou, ciou (see conftest.Case)."""
import numpy as np

from conftest import Case


def _make(rng, shape, dtype):
    """Box pairs of batch shape `shape` (boxes shape + (4,)): a mix of
    overlapping, disjoint and nested pairs with positive areas."""
    shape = tuple(shape)
    xy = rng.uniform(0, 10, shape + (2,))
    wh = rng.uniform(0.5, 5, shape + (2,))
    txy = xy + rng.normal(0, 2, shape + (2,))
    twh = wh * rng.uniform(0.3, 2.0, shape + (2,))
    pred = np.concatenate([xy, xy + wh], -1)
    target = np.concatenate([txy, txy + twh], -1)
    return (pred.astype(dtype), target.astype(dtype)), {}


def _fd_ok(arrays, opts):
    """Away from the min/max switches and the edge of the intersection."""
    p, t = (np.asarray(a, np.float64) for a in arrays)
    gap = np.abs(p - t)                                   # x1 vs x1g, ... (min/max ties)
    cross = np.minimum(np.abs(p[..., 2:] - t[..., :2]), np.abs(t[..., 2:] - p[..., :2]))
    ok = (gap.min(-1) > 1e-3) & (cross.min(-1) > 1e-3)   # intersection extents not ~0
    return np.broadcast_to(ok[..., None], p.shape).copy()


def _make_ciou(rng, shape, dtype):
    """As _make, but every other target box has its prediction's aspect ratio
    (v = 0): CIoU's gradient holds alpha constant (torchvision), so it is the
    derivative of the value only where v = 0 and only there do finite
    differences check it; the aspect term is checked against PyTorch's
    autograd in test_boxes.py."""
    (p, t), o = _make(rng, shape, np.float64)
    same = (np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape) % 2) == 0
    w, h = p[..., 2] - p[..., 0], p[..., 3] - p[..., 1]
    s = (t[..., 2] - t[..., 0]) / w
    t[..., 3] = np.where(same, t[..., 1] + s * h, t[..., 3])
    return (p.astype(dtype), t.astype(dtype)), o


def _fd_ok_ciou(arrays, opts):
    p, t = (np.asarray(a, np.float64) for a in arrays)
    v = np.arctan2(t[..., 2] - t[..., 0], t[..., 3] - t[..., 1]) \
        - np.arctan2(p[..., 2] - p[..., 0], p[..., 3] - p[..., 1])
    return _fd_ok(arrays, opts) & (np.abs(v) < 1e-12)[..., None]


_P = [[0.0, 0.0, 2.0, 2.0]]
_T = [[1.0, 1.0, 3.0, 3.0]]
# I = 1 (the unit square [1,2]^2), U = 4 + 4 - 1 = 7, enclosing box [0,3]^2: C = 9,
# centres (1,1) and (2,2): d^2 = 2, diagonal^2 = 18; same aspect ratio: v = 0.
_WHY = "I = 1, U = 7, C = 9, d^2 = 2, c^2 = 18 for [0,0,2,2] vs [1,1,3,3], eps = 0"

CASES = {
    "giou": Case(_make, option_sets=[{}, {"eps": 1e-3}], fd_ok=_fd_ok, scalar_ok=True,
                 hand=[((_P, _T), {"eps": 0.0}, "mean", 1 - 1 / 7 + 2 / 9, _WHY),
                       (([[0.0, 0.0, 1.0, 1.0]], [[2.0, 0.0, 3.0, 1.0]]), {"eps": 0.0}, "sum",
                        1 + 1 / 3, "disjoint unit boxes: I = 0, U = 2, C = 3")]),
    "diou": Case(_make, option_sets=[{}, {"eps": 1e-3}], fd_ok=_fd_ok, scalar_ok=True,
                 hand=[((_P, _T), {"eps": 0.0}, "mean", 1 - 1 / 7 + 2 / 18, _WHY)]),
    "ciou": Case(_make_ciou, option_sets=[{}, {"eps": 1e-3}], fd_ok=_fd_ok_ciou, scalar_ok=True,
                 hand=[((_P, _T), {"eps": 0.0}, "mean", 1 - 1 / 7 + 2 / 18, _WHY + " (v = 0)"),
                       (([[0.0, 0.0, 1.0, 2.0]], [[0.0, 0.0, 1.0, 1.0]]), {"eps": 0.0}, "mean",
                        1 - 1 / 2 + 0.25 / 5
                        + (4 / np.pi ** 2 * (np.pi / 4 - np.arctan(0.5)) ** 2) ** 2
                        / (1 - 1 / 2 + 4 / np.pi ** 2 * (np.pi / 4 - np.arctan(0.5)) ** 2),
                        "nested: I = 1, U = 2, centres 0.5 apart, c^2 = 1 + 4 = 5, "
                        "v = 4/pi^2 (atan(1) - atan(1/2))^2, alpha = v / (1 - 1/2 + v)")]),
}
