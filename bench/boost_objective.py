"""Cost of a pyloss.boosting objective call against the bare kernel calls.

    python bench/boost_objective.py [--n 1000000] [--repeat 21] [--threads 1]

For each loss: the objective call ``obj(y, s[, w])`` (what XGBoost/LightGBM
call every round) against the kernel calls a user would otherwise make,
``loss.value_and_grad(s, y, reduction="none")`` + ``loss.hessian(...)``
(weighted: ``weight=w`` in both).  Calls are interleaved and the median of
`repeat` runs is reported, with the ratio objective / kernel.  float64 margins
(LightGBM hands float64; XGBoost float32, also measured for mse).
"""
import argparse
import time

import numpy as np

import pyloss as pl
import pyloss.boosting as plb


def _median_times(fns, repeat):
    ts = [[] for _ in fns]
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            f()
            ts[i].append(time.perf_counter() - t)
    return [float(np.median(t)) for t in ts]


def cases(n, rng):
    x = rng.standard_normal(n)
    y = rng.standard_normal(n)
    yb = (rng.random(n) < 0.3).astype(np.float64)
    yc = rng.poisson(1.5, n).astype(np.float64)
    yg = rng.gamma(2.0, 1.0, n) + 1e-3
    out = [("mse", x, y, {}, None), ("mse", x, y, {}, "xgboost"),
           ("mse", x.astype(np.float32), y.astype(np.float32), {}, "xgboost"),
           ("huber", x, y, {"delta": 1.0}, None),
           ("binary_cross_entropy_with_logits", x, yb, {}, "lightgbm")]
    if "poisson" in pl.losses():
        out += [("poisson", x, yc, {}, None), ("poisson", x, yc, {}, "lightgbm"),
                ("gamma", x, yg, {}, None), ("tweedie", x, yc, {"power": 1.5}, None)]
    K = 3
    z = rng.standard_normal((n, K))
    out.append(("cross_entropy", z, rng.integers(0, K, n), {}, "lightgbm"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    pl.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    w = rng.random(a.n) + 0.5
    print(f"| loss | profile | dtype | weights | kernel vg+hess ms | objective ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, s, y, opts, prof in cases(a.n, rng):
        loss = pl.get(name)
        obj = plb.objective(name, profile=prof, **opts)
        for wt in (None, w.astype(s.dtype)):
            kw = {} if (wt is None or obj.kind == "multiclass") else {"weight": wt}

            def kernel():
                loss.value_and_grad(s, y, reduction="none", **opts, **kw)
                loss.hessian(s, y, reduction="none", **opts, **kw)

            def objective():
                obj(y, s, wt)
            objective()
            kernel()
            tk, to = _median_times([kernel, objective], a.repeat)
            print(f"| {name} | {prof or '-'} | {s.dtype} | {'yes' if wt is not None else 'no'} "
                  f"| {tk * 1e3:.2f} | {to * 1e3:.2f} | {to / tk:.2f} |")


if __name__ == "__main__":
    main()
