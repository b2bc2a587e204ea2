"""Quick timing of the embedding/generative kernels against PyTorch CPU.

    python bench/embgen_quick.py [--threads N]

Median of repeated runs, float32, value_and_grad (torch: forward + backward).
"""
import argparse
import time

import numpy as np

import pyloss as pl


def bench(fn, reps=15):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    pl.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    try:
        import torch
        torch.set_num_threads(args.threads)
        F = torch.nn.functional
    except ImportError:
        torch = None
    rows = []
    a, p, n = (rng.standard_normal((65536, 128)).astype(np.float32) for _ in range(3))
    s = (rng.random(65536) < 0.5).astype(np.float32)
    mu = rng.standard_normal((65536, 64)).astype(np.float32)
    lv = (0.5 * rng.standard_normal((65536, 64))).astype(np.float32)
    cases = {
        "triplet 65536x128": (pl.triplet, (a, p, n), {}),
        "contrastive 65536x128": (pl.contrastive, (a, p, s), {"margin": 16.0}),
        "kl_gaussian 65536x64": (pl.kl_gaussian, (mu, lv), {}),
    }
    for name, (loss, arrays, opts) in cases.items():
        row = [name]
        for backend in ("c", "numba"):
            row.append(bench(lambda: loss(*arrays, backend=backend, **opts)))
            row.append(bench(lambda: loss.value_and_grad(*arrays, backend=backend, **opts)))
        if torch is not None:
            ts = [torch.from_numpy(x) for x in arrays]

            def fwd(grad):
                xs = [t.clone().requires_grad_(grad) if i < len(loss.diff) else t
                      for i, t in enumerate(ts)]
                if loss is pl.triplet:
                    out = F.triplet_margin_loss(*xs)
                elif loss is pl.contrastive:
                    d = F.pairwise_distance(xs[0], xs[1], eps=0.0)
                    out = (xs[2] * d ** 2 + (1 - xs[2]) * torch.clamp(16.0 - d, min=0) ** 2).mean()
                else:
                    out = (-0.5 * torch.sum(1 + xs[1] - xs[0] ** 2 - xs[1].exp(), dim=-1)).mean()
                if grad:
                    out.backward()
                return out

            with torch.no_grad():
                row.append(bench(lambda: fwd(False)))
            row.append(bench(lambda: fwd(True)))
        rows.append(row)
    print(f"threads={args.threads}; ms (median); float32")
    print(f"{'case':24s} {'c val':>8s} {'c v+g':>8s} {'nb val':>8s} {'nb v+g':>8s} "
          f"{'torch fwd':>9s} {'torch f+b':>9s}")
    for r in rows:
        print(f"{r[0]:24s} " + " ".join(f"{x:8.2f}" for x in r[1:]))


if __name__ == "__main__":
    main()
