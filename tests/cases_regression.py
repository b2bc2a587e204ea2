"""Cases for the regression family (see conftest.Case)."""
import math

import numpy as np

from conftest import Case


def _make(rng, shape, dtype):
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)), {}


def _away_from(*kinks):
    def ok(arrays, opts):
        r = np.asarray(arrays[0], np.float64) - np.asarray(arrays[1], np.float64)
        good = np.abs(r) > 1e-3
        for k in kinks:
            thr = opts.get(k[0], k[1])
            good &= np.abs(np.abs(r) - thr) > 1e-3
        return good
    return ok


# Any finite float: hypothesis fills pred and target (clipped to 1e15 in
# float32 so that r**2 stays finite; float64 up to 1e150 for the same reason).
_BOUNDS = {0: (-1e150, 1e150), 1: (-1e150, 1e150)}
_COMMON = dict(int_castable=(1,), hyp_bounds=_BOUNDS)

CASES = {
    "mse": Case(_make, hand=[(([1.0, 2.0, 4.0], [1.0, 3.0, 2.0]), {}, "sum", 5.0, "0 + 1 + 4")],
                **_COMMON),
    "mae": Case(_make, fd_ok=_away_from(),
                hand=[(([1.0, 2.0, 4.0], [1.0, 3.0, 2.0]), {}, "mean", 1.0, "(0 + 1 + 2) / 3")],
                **_COMMON),
    "huber": Case(_make, option_sets=[{}, {"delta": 0.3}, {"delta": 2.5}],
                  fd_ok=_away_from(("delta", 1.0)),
                  hand=[(([0.5, 3.0], [0.0, 0.0]), {"delta": 1.0}, "sum", 2.625,
                         "0.5*0.5^2 + 1*(3 - 0.5) = 0.125 + 2.5")],
                  **_COMMON),
    "smooth_l1": Case(_make, option_sets=[{}, {"beta": 0.0}, {"beta": 0.25}],
                      fd_ok=_away_from(("beta", 1.0)),
                      hand=[(([0.5, 3.0], [0.0, 0.0]), {"beta": 2.0}, "sum", 2.0625,
                             "0.5*0.25/2 + (3 - 1) = 0.0625 + 2")],
                      **_COMMON),
    "log_cosh": Case(_make, hand=[(([1000.0], [0.0]), {}, "sum", 1000.0 - np.log(2.0),
                                   "log cosh x = x - log 2 + log1p(e^-2x), e^-2000 = 0")],
                     **_COMMON),
    "quantile": Case(_make, option_sets=[{}, {"q": 0.1}, {"q": 0.9}], fd_ok=_away_from(),
                     hand=[(([0.0, 0.0], [1.0, -1.0]), {"q": 0.9}, "sum", 1.0,
                            "u=1: 0.9*1; u=-1: (0.9-1)*(-1) = 0.1")],
                     **_COMMON),
    "pseudo_huber": Case(_make, option_sets=[{}, {"delta": 0.3}, {"delta": 2.5}],
                         hand=[(([3.0], [0.0]), {"delta": 4.0}, "sum", 4.0,
                                "16 (sqrt(1 + 9/16) - 1) = 16 (5/4 - 1)")],
                         **_COMMON),
    "fair": Case(_make, option_sets=[{}, {"c": 0.3}, {"c": 2.5}],
                 hand=[(([2.0], [0.0]), {"c": 2.0}, "sum", 4.0 * (1.0 - math.log(2.0)),
                        "c^2 (x - log(1 + x)), x = |r|/c = 1: 4 (1 - log 2)")],
                 **_COMMON),
    "expectile": Case(_make, option_sets=[{}, {"tau": 0.1}, {"tau": 0.9}], fd_ok=_away_from(),
                      hand=[(([0.0, 0.0], [1.0, -1.0]), {"tau": 0.9}, "sum", 1.0,
                             "u=1: 0.9*1^2; u=-1: (1-0.9)*(-1)^2 = 0.1")],
                      **_COMMON),
}
