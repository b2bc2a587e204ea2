"""GLM losses for a booster: value_and_grad + Hessian on 10^7 float64 vs
sklearn._loss's gradient_hessian and vs the exp/log floor (issue 13, item 7).

    python bench/glm_speed.py [--n 1e7] [--threads 1,2] [--repeat 7]

Side by side in one run, medians of `repeat` samples (each the best of 1
call), same thread count for pyloss (pl.set_num_threads) and sklearn
(n_threads=).  pyloss: ``value_and_grad(raw, y, reduction="sum", out=g)``
then ``hessian(raw, y, reduction="sum", out=h)`` -- the elementwise gradient
and Hessian a booster takes, plus the loss value sklearn does not compute.
sklearn: ``gradient_hessian(y, raw, gradient_out=g, hessian_out=h)``.
The floor is `pyloss bench`'s: NumPy's SIMD exp/log cost per element
(measure_explog) times the exps/logs the two pyloss calls need, over the
threads; "fused floor" counts them once (what one pass for
value+grad+Hessian would need).
"""
import argparse
import json
import time

import numpy as np

import pyloss as pl
from pyloss.bench.floors import explog_counts, measure_explog


def _data(name, power, n, rng):
    raw = 0.5 * rng.standard_normal(n)
    mu = np.exp(raw)
    if name == "poisson":
        y = rng.poisson(mu).astype(np.float64)
    elif name == "gamma":
        y = rng.gamma(2.0, mu / 2.0)
    else:
        y = rng.gamma(2.0, mu / 2.0) * (rng.random(n) < 0.7)
    return raw, y


def _median(fn, repeat):
    fn()
    s = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        s.append(time.perf_counter() - t)
    return float(np.median(s))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args()
    from sklearn._loss import loss as skl
    n = int(a.n)
    rng = np.random.default_rng(0)
    el = measure_explog(np.dtype(np.float64))
    rows = []
    for threads in [int(t) for t in a.threads.split(",")]:
        pl.set_num_threads(threads)
        for name, power, L in (("poisson", None, skl.HalfPoissonLoss()),
                               ("gamma", None, skl.HalfGammaLoss()),
                               ("tweedie", 1.5, skl.HalfTweedieLoss(power=1.5))):
            raw, y = _data(name, power, n, rng)
            o = {} if power is None else {"power": power}
            loss = pl.get(name)
            g, h = np.empty(n), np.empty(n)
            g2, h2 = np.empty(n), np.empty(n)

            def ours():
                loss.value_and_grad(raw, y, reduction="sum", out=g, **o)
                loss.hessian(raw, y, reduction="sum", out=h, **o)

            def theirs():
                L.gradient_hessian(y, raw, gradient_out=g2, hessian_out=h2, n_threads=threads)

            ours()
            theirs()
            assert np.allclose(g, g2, rtol=1e-12, atol=1e-12) and np.allclose(h, h2, rtol=1e-12)
            t_ours = _median(ours, a.repeat)
            t_sk = _median(theirs, a.repeat)
            ne, nl = explog_counts(name, (raw, y), o)
            fused = (ne * el["exp"] + nl * el["log"]) / threads
            floor = 2 * fused   # value_and_grad and hessian each evaluate the exps
            rows.append({"loss": name + ("" if power is None else f"(power={power})"),
                         "threads": threads, "pyloss_s": t_ours, "sklearn_s": t_sk,
                         "floor_s": floor, "fused_floor_s": fused})
    print(f"n = {n:.0e} float64; numpy exp {el['exp'] * 1e9:.2f} ns/element")
    print("| loss | threads | pyloss vg+hess | sklearn gradient_hessian | pyloss/sklearn "
          "| exp floor | pyloss/floor | pyloss/fused floor |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['loss']} | {r['threads']} | {r['pyloss_s'] * 1e3:.1f} ms | {r['sklearn_s'] * 1e3:.1f} ms "
              f"| {r['pyloss_s'] / r['sklearn_s']:.2f} | {r['floor_s'] * 1e3:.1f} ms "
              f"| {r['pyloss_s'] / r['floor_s']:.2f} | {r['pyloss_s'] / r['fused_floor_s']:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": n, "explog_s_per_element": el, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
