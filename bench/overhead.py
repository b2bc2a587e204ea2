"""Per-call overhead and cold start of the Python layer.

    python bench/overhead.py [--n 128] [--rounds 7]
    python bench/overhead.py --fixed [--rounds 5] [--root DIR]

Per call (float32, n elements, interleaved rounds, best-of-5 batches per
round, median over rounds): ``pl.mse(a, b)``, ``pl.mse.value_and_grad(a, b)``
(fresh and ``out=``), the bare cffi call ``lib.pl_mse_f32`` (with and without
building the pointers), the NumPy one-liners ``np.mean((a-b)**2)`` and that
plus ``2*(a-b)/n``, and PyTorch's forward / forward+backward when installed.

``--fixed``: every loss's ``value_and_grad`` (``backend="auto"``, its example
inputs in float32 at about 128, 1024 and 8192 elements): the fixed per-call
cost, the intercept of a least-squares line through the medians; plus ``mse``
with and without ``weight=`` and ``cross_entropy`` 128 x 10 against
scikit-learn's ``HalfMultinomialLoss.loss_gradient`` (issue 11's table).
``--root DIR`` imports pyloss from another tree (an older checkout, built).

Cold start (fresh interpreters, median of 5): ``import numpy`` vs
``import numpy, pyloss``; the first C call after ``import pyloss``; the first
Numba call in a process that finds the kernels in the disk cache.
"""
import argparse
import os
import statistics
import subprocess
import sys
import timeit

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--root" in sys.argv[:-1]:
    ROOT = os.path.abspath(sys.argv[sys.argv.index("--root") + 1])
sys.path.insert(0, ROOT)


def per_call(n, rounds):
    import pyloss as pl
    from pyloss import _c

    rng = np.random.default_rng(0)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    g = np.empty_like(a)
    ffi, lib = _c.ffi, _c.lib
    fb, NULL = ffi.from_buffer, ffi.NULL
    pa, pb = fb("float[]", a), fb("float[]", b)
    fns = {
        "pl.mse(a, b)": lambda: pl.mse(a, b),
        "pl.mse.value_and_grad(a, b)": lambda: pl.mse.value_and_grad(a, b),
        "pl.mse.value_and_grad(a, b, out=g)": lambda: pl.mse.value_and_grad(a, b, out=g),
        "bare lib.pl_mse_f32 (from_buffer each call)":
            lambda: lib.pl_mse_f32(n, fb("float[]", a), fb("float[]", b), NULL, NULL, 0.0, 0.0,
                                   1.0 / n, NULL, NULL, NULL, 1),
        "bare lib.pl_mse_f32 (pointers prebuilt)":
            lambda: lib.pl_mse_f32(n, pa, pb, NULL, NULL, 0.0, 0.0, 1.0 / n, NULL, NULL, NULL, 1),
        "np.mean((a-b)**2)": lambda: np.mean((a - b) ** 2),
        "np.mean((a-b)**2), 2*(a-b)/n": lambda: (np.mean((a - b) ** 2), 2 * (a - b) / n),
    }
    try:
        import torch
        torch.set_num_threads(pl.get_num_threads())
        A, B = torch.from_numpy(a), torch.from_numpy(b)
        Ag = A.clone().requires_grad_(True)
        F = torch.nn.functional

        def tvg():
            Ag.grad = None
            y = F.mse_loss(Ag, B)
            y.backward()
        fns["torch F.mse_loss"] = lambda: F.mse_loss(A, B)
        fns["torch F.mse_loss + backward"] = tvg
    except ImportError:
        pass
    for f in fns.values():
        f()
    res = {k: [] for k in fns}
    keys = list(fns)
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            res[k].append(min(timeit.repeat(fns[k], number=2000, repeat=5)) / 2000)
    return {k: statistics.median(v) for k, v in res.items()}


def _fresh(code, reps=5):
    out = []
    for _ in range(reps):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
        if r.returncode:
            raise RuntimeError(r.stderr)
        out.append(float(r.stdout.strip().splitlines()[-1]))
    return statistics.median(out)


def cold():
    t_np = _fresh("import time; t = time.perf_counter(); import numpy; "
                  "print(time.perf_counter() - t)")
    t_pl = _fresh("import time; t = time.perf_counter(); import numpy, pyloss; "
                  "print(time.perf_counter() - t)")
    first_c = _fresh("import numpy as np, pyloss as pl, time; a = np.ones(128, np.float32); "
                     "t = time.perf_counter(); pl.mse(a, a, backend='c'); "
                     "print(time.perf_counter() - t)")
    # a first process fills Numba's disk cache; the timed ones must find it
    _fresh("import numpy as np, pyloss as pl; a = np.ones(128, np.float32); "
           "pl.mse(a, a, backend='numba'); print(0)", reps=1)
    first_nb = _fresh("import numpy as np, pyloss as pl, time; a = np.ones(128, np.float32); "
                      "t = time.perf_counter(); pl.mse(a, a, backend='numba'); "
                      "print(time.perf_counter() - t)")
    return {"import numpy": t_np, "import numpy, pyloss": t_pl,
            "pyloss import over numpy": t_pl - t_np,
            "first C call (fresh process)": first_c,
            "first Numba call (fresh process, disk cache warm)": first_nb}


def _median_call(f, rounds, number=500):
    f()
    return statistics.median(min(timeit.repeat(f, number=number, repeat=3)) / number
                             for _ in range(rounds))


def fixed_costs(rounds, sizes=(128, 1024, 8192)):
    """{loss: (fixed cost, per-element slope)} of value_and_grad, in seconds."""
    import pyloss as pl
    out = {}
    for name in pl.losses():
        loss = pl.get(name)
        if loss.example is None:
            continue
        ns, ts = [], []
        for n in sizes:
            arrays, opts = loss.example(np.random.default_rng(0), n, np.dtype(np.float32))
            ns.append(sum(np.size(a) for a in arrays[:1]))
            ts.append(_median_call(lambda: loss.value_and_grad(*arrays, **opts), rounds))
        slope, icept = np.polyfit(np.array(ns, float), np.array(ts), 1)
        out[name] = (icept, slope)
    return out


def issue_ratios(rounds):
    import pyloss as pl
    rng = np.random.default_rng(0)
    a = rng.standard_normal(128).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    w = rng.uniform(0.5, 2, 128).astype(np.float32)
    t = {"mse vg": _median_call(lambda: pl.mse.value_and_grad(a, b), rounds, 2000),
         "mse vg weight=": _median_call(lambda: pl.mse.value_and_grad(a, b, weight=w), rounds, 2000)}
    z = rng.standard_normal((128, 10))
    y = rng.integers(0, 10, 128)
    t["cross_entropy 128x10 vg (float64)"] = _median_call(
        lambda: pl.cross_entropy.value_and_grad(z, y), rounds, 2000)
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        skl = HalfMultinomialLoss(n_classes=10)
        yf = y.astype(np.float64)
        t["sklearn HalfMultinomialLoss.loss_gradient 128x10"] = _median_call(
            lambda: skl.loss_gradient(y_true=yf, raw_prediction=z), rounds, 2000)
    except ImportError:
        pass
    return t


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--fixed", action="store_true",
                    help="every loss's fixed per-call cost (value_and_grad) and issue 11's ratios")
    ap.add_argument("--root", default=None, help="import pyloss from this tree")
    args = ap.parse_args(argv)
    if args.fixed:
        print(f"## fixed per-call cost of value_and_grad (pyloss from {ROOT}; load average "
              f"{os.getloadavg()[0]:.1f})\n")
        print("| loss | fixed cost | per element |")
        print("|---|---:|---:|")
        for name, (c, s) in fixed_costs(args.rounds).items():
            print(f"| {name} | {c * 1e6:.1f} us | {s * 1e9:.2f} ns |")
        print("\n| call | time |")
        print("|---|---:|")
        for k, v in issue_ratios(args.rounds).items():
            print(f"| {k} | {v * 1e6:.2f} us |")
        return 0
    print(f"## per-call time, {args.n} float32 elements (median of {args.rounds} interleaved rounds, "
          f"each the best of 5 batches of 2000 calls); load average {os.getloadavg()[0]:.1f}\n")
    t = per_call(args.n, args.rounds)
    base_v = t["np.mean((a-b)**2)"]
    base_vg = t["np.mean((a-b)**2), 2*(a-b)/n"]
    bare = t["bare lib.pl_mse_f32 (from_buffer each call)"]
    print("| call | time | / NumPy one-liner | - bare cffi call |")
    print("|---|---:|---:|---:|")
    for k, v in t.items():
        base = base_vg if ("value_and_grad" in k or "backward" in k or "2*(a-b)" in k) else base_v
        print(f"| `{k}` | {v * 1e6:.2f} us | {v / base:.2f}x | {(v - bare) * 1e6:+.2f} us |")
    if not args.no_cold:
        print("\n## cold start (fresh interpreters, median of 5)\n")
        print("| what | time |")
        print("|---|---:|")
        for k, v in cold().items():
            print(f"| {k} | {v * 1e3:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
