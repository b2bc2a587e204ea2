"""Cases for the combination family (see conftest.Case)."""
import numpy as np

from conftest import Case


def _make_dice_bce(rng, shape, dtype):
    shape = tuple(shape)
    full = (shape[0], 2) + (shape[1:] if len(shape) > 1 else (4,))
    x = (2.0 * rng.standard_normal(full)).astype(dtype)
    t = (rng.random(full) < 0.4).astype(dtype)
    return (x, t), {}


def _make_fsl(rng, shape, dtype):
    shape = tuple(shape)
    A = int(np.prod(shape[:1]))
    K = shape[1] if len(shape) > 1 else 3
    x = (2.0 * rng.standard_normal((A, K))).astype(dtype)
    t = np.zeros((A, K), dtype)
    pos = rng.random(A) < 0.4
    t[np.flatnonzero(pos), rng.integers(0, K, int(pos.sum()))] = 1
    bp = rng.standard_normal((A, 4)).astype(dtype)
    bt = rng.standard_normal((A, 4)).astype(dtype)
    return (x, t, bp, bt), {}


def _fsl_fd_ok(arrays, opts):
    # for cls_logits (the first differentiable input) the loss is smooth
    # everywhere; the box kinks (|r| = beta, r = 0) are handled in
    # test_combination.test_fsl_finite_differences.
    return np.ones(np.shape(arrays[0]), bool)


# sigmoid(2) = 0.880797, sigmoid(-1) = 0.268941, sigmoid(-2) = 0.119203,
# sigmoid(1) = 0.731059.  BCE: softplus(-2) = 0.126928 (x=2,t=1),
# softplus(-1) = 0.313262 (x=-1,t=0), softplus(-2) (x=-2,t=0), softplus(-1) (x=1,t=1).
_SIG = {2.0: 0.8807970779778823, -1.0: 0.2689414213699951, -2.0: 0.11920292202211755,
        1.0: 0.7310585786300049}
_d0 = 1 - 2 * _SIG[2.0] / (_SIG[2.0] + _SIG[-1.0] + 1)
_d1 = 1 - 2 * _SIG[1.0] / (_SIG[-2.0] + _SIG[1.0] + 1)
_bce = (2 * 0.12692801104297263 + 2 * 0.31326168751822286) / 4

CASES = {
    "dice_bce": Case(_make_dice_bce,
                     option_sets=[{}, {"dice_weight": 0.25, "bce_weight": 2.0},
                                  {"smooth": 0.0}, {"dice_weight": 0.0}],
                     hand=[(([[[2.0, -1.0], [-2.0, 1.0]]], [[[1.0, 0.0], [0.0, 1.0]]]),
                            {"smooth": 0.0}, "mean", 0.5 * (_d0 + _d1) + _bce,
                            "class 0: p = (s(2), s(-1)), t = (1, 0): 1 - 2 s(2)/(s(2)+s(-1)+1); "
                            "class 1 likewise; BCE = mean of softplus(-2), softplus(-1), "
                            "softplus(-2), softplus(-1) (each pixel's -log p_t)")]),
    "focal_smooth_l1": Case(_make_fsl, fd_ok=_fsl_fd_ok, empty_mean=0.0,
                            option_sets=[{}, {"alpha": -1.0, "gamma": 0.0}, {"gamma": 0.5},
                                         {"beta": 0.5, "alpha": 0.75, "gamma": 1.0},
                                         {"gamma": 3.5}],
                            hand=[(([[2.0, -1.0], [-3.0, -2.0]], [[1.0, 0.0], [0.0, 0.0]],
                                    [[0.5, 0.0, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0]], np.zeros((2, 4))),
                                   {"alpha": -1.0, "gamma": 0.0, "beta": 1.0}, "sum",
                                   0.12692801104297263 + 0.31326168751822286
                                   + 0.04858735157374206 + 0.12692801104297263 + 0.125,
                                   "gamma=0, no alpha: plain BCE softplus(-2) + softplus(-1) + "
                                   "softplus(-3) + softplus(-2); box: only anchor 0 is positive, "
                                   "0.5*0.5^2/1 = 0.125 (anchor 1's 9s are ignored)")]),
}
