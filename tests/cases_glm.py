"""Cases for the GLM family (see conftest.Case).

Hand values are evaluated from the defining formulas of SPEC 6.1 (the same
formulas as scikit-learn's sklearn/_loss/loss.py docstrings), with the
arithmetic spelled out in each `why`.
"""
import math

import numpy as np

from conftest import Case


# 2^-7: 1 + h and (1 + h)^2 are exact in float16 and float32; the deviance
# near its zero (O(h^2) from O(1) terms) is where a closed form cancels
_H = 2.0 ** -7


def _raw(rng, shape, dtype):
    return (0.5 * rng.standard_normal(shape)).astype(dtype)


def _counts(rng, shape, dtype):
    raw = _raw(rng, shape, dtype)
    return (raw, np.asarray(rng.poisson(np.exp(raw.astype(np.float64)))).astype(dtype)), {}


# targets >= 0.5: still positive after the generic integer test's rint(3 y)
def _positive(rng, shape, dtype):
    raw = _raw(rng, shape, dtype)
    return (raw, np.asarray(rng.gamma(2.0, 0.5 * np.exp(raw.astype(np.float64)))).astype(dtype) + np.dtype(dtype).type(0.5)), {}


def _binary(rng, shape, dtype):
    raw = _raw(rng, shape, dtype)
    y = np.asarray(rng.random(shape) < 0.5).astype(dtype)
    return (raw, y), {}


def _glm_weight(rng, arrays, opts):
    return rng.uniform(0.25, 2.0, np.shape(arrays[0])).astype(arrays[0].dtype)


# raw may be any value in [-40, 40] (exp stays finite in float32 too);
# targets come from make (they must stay in the loss's domain).
_BOUNDS = {0: (-40.0, 40.0)}
_COMMON = dict(int_castable=(1,), hyp_bounds=_BOUNDS, weight=_glm_weight)

CASES = {
    "poisson": Case(_counts, option_sets=[{}, {"deviance": True}],
                    hand=[(([0.0, math.log(2.0)], [0.0, 3.0]), {}, "sum", 3.0 - 3.0 * math.log(2.0),
                           "e^r - y r: (1 - 0) + (2 - 3 log 2)"),
                          (([0.0, math.log(2.0)], [0.0, 3.0]), {"deviance": True}, "sum",
                           2.0 * (1.0 + 3.0 * math.log(1.5) - 1.0),
                           "2 (y log(y/mu) - y + mu): 2 (0 - 0 + 1) + 2 (3 log(3/2) - 3 + 2)"),
                          (([0.0], [1.0 + _H]), {"deviance": True}, "sum",
                           2.0 * math.fsum((-1) ** k * _H ** k / (k * (k - 1)) for k in range(2, 12)),
                           "near the optimum, mu = 1, y = 1 + h: 2 ((1 + h) log(1 + h) - h) "
                           "= 2 sum_k>=2 (-1)^k h^k / (k (k - 1)) (Mercator series times 1 + h)")],
                    **_COMMON),
    "gamma": Case(_positive, option_sets=[{}, {"deviance": True}],
                  hand=[(([0.0, math.log(2.0)], [1.0, 1.0]), {}, "sum", 1.5 + math.log(2.0),
                         "r + y e^-r: (0 + 1) + (log 2 + 1/2)"),
                        (([0.0, math.log(2.0)], [1.0, 1.0]), {"deviance": True}, "sum",
                         2.0 * (math.log(2.0) - 0.5),
                         "2 (log(mu/y) + y/mu - 1): 0 + 2 (log 2 + 1/2 - 1)"),
                        (([0.0], [1.0 + _H]), {"deviance": True}, "sum",
                         2.0 * math.fsum((-1) ** k * _H ** k / k for k in range(2, 12)),
                         "near the optimum, mu = 1, y = 1 + h: 2 (h - log(1 + h)) "
                         "= 2 sum_k>=2 (-1)^k h^k / k (Mercator series)")],
                  **_COMMON),
    # targets > 0 so that every power is valid (zero targets: tests/test_glm.py)
    "tweedie": Case(_positive, option_sets=[{}, {"power": 0.0}, {"power": 2.0}, {"power": 3.0},
                                            {"power": -1.0, "deviance": True}],
                    hand=[(([0.0, 0.0], [0.0, 2.0]), {"power": 1.5}, "sum", 8.0,
                           "e^{r/2}/(1/2) - y e^{-r/2}/(-1/2) at r = 0: (2 + 0) + (2 + 4)"),
                          (([0.0], [2.0]), {"power": 3.0}, "sum", -1.0 + 1.0,
                           "p=3: e^{-r}/(-1) - y e^{-2r}/(-2) at r = 0, y = 2: -1 + 1"),
                          (([math.log(2.0)], [1.0]), {"power": 0.0}, "sum", 0.5,
                           "p=0: (e^r - y)^2 / 2 = (2 - 1)^2 / 2"),
                          (([0.0], [1.0 + _H]), {"power": -1.0, "deviance": True}, "sum",
                           _H ** 2 + _H ** 3 / 3,
                           "near the optimum, p=-1, mu = 1, y = 1 + h: 2 (1/3 - y/2 + y^3/6) "
                           "= h^2 + h^3/3 (expand (1 + h)^3)"),
                          (([0.0], [(1.0 + _H) ** 2]), {"power": 1.5, "deviance": True}, "sum",
                           4.0 * _H ** 2,
                           "near the optimum, p=1.5, mu = 1, y = (1 + h)^2: 2 (2 + 2 y - 4 sqrt y) "
                           "= 4 (sqrt y - 1)^2 = 4 h^2"),
                          (([0.0], [1.0 + _H]), {"power": 3.0, "deviance": True}, "sum",
                           _H ** 2 / (1.0 + _H),
                           "near the optimum, p=3, mu = 1, y = 1 + h: 2 (-1 + y/2 + 1/(2y)) "
                           "= (y - 1)^2 / y = h^2 / (1 + h)")],
                    # power=-1 takes e^{3 raw}: |raw| <= 25 keeps it inside float32
                    # (the float64 reference would otherwise be finite where a
                    # float32 call rightly overflows)
                    **dict(_COMMON, hyp_bounds={0: (-25.0, 25.0)})),
    "exponential": Case(_binary,
                        hand=[(([0.0, math.log(2.0)], [1.0, 0.0]), {}, "sum", 3.0,
                               "y e^-r + (1 - y) e^r: 1 + 2")],
                        # no int_castable: the generic test scales targets by 3
                        hyp_bounds=_BOUNDS, weight=_glm_weight),
}
