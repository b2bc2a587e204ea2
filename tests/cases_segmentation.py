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
                              {"from_logits": "softmax", "squared": True},
                              {"include_background": False},
                              {"from_logits": "softmax", "batch": True},
                              {"from_logits": "sigmoid", "batch": True, "include_background": False,
                               "squared": True}],
                 hand=[((_P, _T), {"smooth": 0.0}, "mean",
                        0.5 * ((1 - 1.8 / 2.1) + (1 - 1.6 / 1.9)),
                        "class 0: 1 - 2*0.9/(1.1+1); class 1: 1 - 2*0.8/(0.9+1); mean of the two"),
                       ((_P, _T), {"smooth": 1.0, "squared": True}, "sum",
                        0.5 * ((1 - 2.8 / 2.85) + (1 - 2.6 / 2.65)),
                        "squared, s=1: class 0: sum p^2 = 0.81+0.04 = 0.85, 1 - (1.8+1)/(0.85+1+1); "
                        "class 1: sum p^2 = 0.01+0.64 = 0.65, 1 - (1.6+1)/(0.65+1+1)"),
                       ((_P, _T), {"smooth": 0.0, "include_background": False}, "mean",
                        1 - 1.6 / 1.9, "class 1 alone: 1 - 2*0.8/(0.9+1)"),
                       ((_P, _T), {"smooth": 0.0, "batch": True}, "sum",
                        (1 - 1.8 / 2.1) + (1 - 1.6 / 1.9),
                        "N = 1, batch: one term per class, summed over the classes"),
                       ((_P, [[0, 255]]), {"smooth": 0.0, "ignore_index": 255}, "mean",
                        0.5 * ((1 - 1.8 / 1.9) + 1.0),
                        "pixel 2 ignored: class 0 I = 0.9, P = 0.9, T = 1; class 1 I = 0, "
                        "P = 0.1, T = 0 -> 1 - 0/0.1")]),
    "iou": Case(_make,
                option_sets=[{}, {"smooth": 0.0}, {"from_logits": "sigmoid"},
                             {"from_logits": "softmax"},
                             {"from_logits": "sigmoid", "include_background": False},
                             {"batch": True}],
                hand=[((_P, _T), {"smooth": 0.0}, "mean",
                       0.5 * ((1 - 0.9 / 1.2) + (1 - 0.8 / 1.1)),
                       "class 0: 1 - 0.9/(1.1+1-0.9); class 1: 1 - 0.8/(0.9+1-0.8)"),
                      ((_P, [[0, 255]]), {"smooth": 0.0, "ignore_index": 255}, "mean",
                       0.5 * ((1 - 0.9 / 1.0) + 1.0),
                       "pixel 2 ignored: class 0 1 - 0.9/(0.9+1-0.9); class 1 1 - 0/(0.1+0-0)")]),
    "tversky": Case(_make,
                    option_sets=[{}, {"alpha": 0.3, "beta": 0.7},
                                 {"gamma": 0.75, "from_logits": "softmax"},
                                 {"gamma": 2.0, "from_logits": "sigmoid", "include_background": False},
                                 {"batch": True, "alpha": 0.7, "beta": 0.3, "smooth": 0.0}],
                    hand=[((_P, _T), {"alpha": 0.3, "beta": 0.7, "gamma": 0.75, "smooth": 0.0}, "mean",
                           0.5 * ((1 - 0.9 / 1.03) ** 0.75 + (1 - 0.8 / 0.97) ** 0.75),
                           "class 0: TP 0.9, FP 0.2, FN 0.1, den 0.9+0.3*0.2+0.7*0.1 = 1.03; "
                           "class 1: TP 0.8, FP 0.1, FN 0.2, den 0.8+0.03+0.14 = 0.97; power per class"),
                          ((_P, _T), {"alpha": 1.0, "beta": 1.0, "smooth": 0.0}, "mean",
                           0.5 * ((1 - 0.9 / 1.2) + (1 - 0.8 / 1.1)),
                           "alpha = beta = 1 is iou (its hand value above)")]),
    "generalized_dice": Case(_make,
                             option_sets=[{}, {"weight_type": "simple"},
                                          {"weight_type": "uniform", "from_logits": "softmax"},
                                          {"from_logits": "sigmoid", "include_background": False,
                                           "smooth": 1.0}],
                             hand=[((_P, _T), {"smooth": 0.0}, "mean", 1 - 2 * (0.9 + 0.8) / (2.1 + 1.9),
                                    "T_c = 1: w = 1, 1; 1 - 2(0.9+0.8)/((1.1+1)+(0.9+1))"),
                                   ((_P, [[0, 0]]), {"smooth": 0.0}, "mean",
                                    1 - 2 * 0.25 * 1.1 / (0.25 * 3.1 + 0.25 * 0.9),
                                    "class 1 absent: w1 = 1/0^2 = inf -> largest finite w0 = 1/2^2; "
                                    "I = (1.1, 0), P + T = (3.1, 0.9)")]),
}
