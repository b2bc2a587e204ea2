"""Cases for the segmentation family (see conftest.Case)."""
import numpy as np

from conftest import Case

C = 3


def _layout(shape):
    """(N, C, *spatial) from the generic batch shape: N = shape[0], the rest spatial."""
    shape = tuple(shape)
    spatial = shape[1:] if len(shape) > 1 else (4,)
    return (shape[0], C) + spatial


def _make(rng, shape, dtype):
    full = _layout(shape)
    pred = rng.uniform(0.02, 0.98, size=full).astype(dtype)
    labels = rng.integers(0, C, size=(full[0],) + full[2:])
    onehot = (labels[:, None] == np.arange(C).reshape((1, C) + (1,) * (len(full) - 2)))
    return (pred, onehot.astype(dtype)), {}


# Hand values: p = [[0.9, 0.2], [0.1, 0.8]] (C=2, two pixels), labels [0, 1].
# class 0: I = 0.9, P = 1.1, T = 1; class 1: I = 0.8, P = 0.9, T = 1.
_P = [[[0.9, 0.2], [0.1, 0.8]]]
_T = [[0, 1]]

CASES = {
    "dice": Case(_make,
                 option_sets=[{}, {"smooth": 0.0}, {"from_logits": "sigmoid"},
                              {"from_logits": "softmax", "smooth": 0.5}, {"squared": True},
                              {"from_logits": "softmax", "squared": True}],
                 hand=[((_P, _T), {"smooth": 0.0}, "mean",
                        0.5 * ((1 - 1.8 / 2.1) + (1 - 1.6 / 1.9)),
                        "class 0: 1 - 2*0.9/(1.1+1); class 1: 1 - 2*0.8/(0.9+1); mean of the two"),
                       ((_P, _T), {"smooth": 1.0, "squared": True}, "sum",
                        0.5 * ((1 - 2.8 / 2.85) + (1 - 2.6 / 2.65)),
                        "squared, s=1: class 0: sum p^2 = 0.81+0.04 = 0.85, 1 - (1.8+1)/(0.85+1+1); "
                        "class 1: sum p^2 = 0.01+0.64 = 0.65, 1 - (1.6+1)/(0.65+1+1)")]),
    "iou": Case(_make,
                option_sets=[{}, {"smooth": 0.0}, {"from_logits": "sigmoid"},
                             {"from_logits": "softmax"}],
                hand=[((_P, _T), {"smooth": 0.0}, "mean",
                       0.5 * ((1 - 0.9 / 1.2) + (1 - 0.8 / 1.1)),
                       "class 0: 1 - 0.9/(1.1+1-0.9); class 1: 1 - 0.8/(0.9+1-0.8)")]),
}
