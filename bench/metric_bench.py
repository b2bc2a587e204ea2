"""Metric-learning losses against their peers, side by side in one run.

    python bench/metric_bench.py [--n 4096] [--d 128] [--threads T] [--repeat 5] [--settle-ms 300]

value_and_grad in float32 of
* nt_xent (z1, z2 each (N, D): a 2N x 2N matrix) and info_nce ((N, D) each):
  pyloss C and Numba, PyTorch forward+backward, jax.jit(value_and_grad) when
  jax is installed, and the BLAS products pyloss itself makes (nt_xent:
  S = z zᵀ and (W + Wᵀ) z; info_nce: S = q kᵀ, W k, Wᵀ q) timed alone on
  arrays of the same shapes: the floor of this design;
* batch_triplet batch_hard: pyloss against pytorch-metric-learning's
  TripletMarginLoss + BatchHardMiner (non-normalised L2 distance), forward+backward.

Samples are interleaved (sample k of every implementation before sample k+1
of any), so a shared machine slows all of them alike; the table gives medians.
Not a test: nothing here asserts a time.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyloss as pl  # noqa: E402
from pyloss.bench.peers import _jax_peer, _opts_of, _torch_peer  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run(impls, repeat, settle):
    for f in impls.values():          # warm-up (JIT, thread pools, caches)
        f()
    samples = {k: [] for k in impls}
    for _ in range(repeat):
        for k, f in impls.items():
            # let the previous implementation's thread pool go idle (PyTorch's
            # OpenMP threads spin for a while after an op) before timing
            time.sleep(settle)
            samples[k].append(timed(f))
    return {k: statistics.median(v) for k, v in samples.items()}


def blas_floor(m, d, dtype, rng, k=None):
    """The BLAS products pyloss makes for an m x m matrix, on preallocated
    outputs: for ``z zᵀ`` (k None) the GEMM against a transposed copy and one
    product ``(W + Wᵀ) z`` (pyloss symmetrises W in place first); for ``q kᵀ``
    the three products S = q kᵀ, W k, Wᵀ q."""
    a = rng.standard_normal((m, d)).astype(dtype)
    S = np.empty((m, m), dtype)
    G = np.empty((m, d), dtype)
    if k is None:
        ac = a.copy()

        def f():
            np.matmul(a, ac.T, out=S)
            np.matmul(S, a, out=G)
        return f, "BLAS: 2 products"

    def f():
        np.matmul(a, k.T, out=S)
        np.matmul(S, k, out=G)
        np.matmul(S.T, a, out=G)
    return f, "BLAS: 3 products"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--settle-ms", type=float, default=300.0)
    a = p.parse_args(argv)
    n, d, T = a.n, a.d, a.threads
    pl.set_num_threads(T)
    rng = np.random.default_rng(0)
    dt = np.float32
    rows = []
    try:
        import torch
        torch.set_num_threads(T)
    except ImportError:
        torch = None
    try:
        import jax  # noqa: F401
        have_jax = True
    except ImportError:
        have_jax = False

    for name, m in (("nt_xent", 2 * n), ("info_nce", n)):
        loss = pl.get(name)
        x1 = rng.standard_normal((n, d)).astype(dt)
        x2 = rng.standard_normal((n, d)).astype(dt)
        o = _opts_of(loss, {})
        impls = {b: (lambda b=b: loss.value_and_grad(x1, x2, backend=b)) for b in pl.backends()
                 if b != "numpy"}
        if torch is not None:
            impls["torch fwd+bwd"] = _torch_peer(name, (x1, x2), o, T)[1]
        if have_jax:
            impls["jax jit(value_and_grad)"] = _jax_peer(name, (x1, x2), o)[1]
        f, label = blas_floor(m, d, dt, rng, k=None if name == "nt_xent" else x2)
        impls[label] = f
        rows.append((f"{name} N={n} D={d} ({m}x{m})", run(impls, a.repeat, a.settle_ms / 1e3)))

    # batch_triplet batch_hard against pytorch-metric-learning
    x = rng.standard_normal((n, d)).astype(dt)
    y = rng.integers(0, n // 16, n)
    impls = {b: (lambda b=b: pl.batch_triplet.value_and_grad(x, y, backend=b))
             for b in pl.backends() if b != "numpy"}
    try:
        from pytorch_metric_learning import distances, losses, miners
        dist = distances.LpDistance(normalize_embeddings=False)
        lf = losses.TripletMarginLoss(margin=1.0, distance=dist)
        miner = miners.BatchHardMiner(distance=dist)
        X = torch.tensor(x, requires_grad=True)
        Y = torch.tensor(y)

        def pml():
            X.grad = None
            lf(X, Y, miner(X, Y)).backward()
        impls["pml TripletMarginLoss+BatchHardMiner"] = pml
    except ImportError:
        pass
    rows.append((f"batch_triplet batch_hard N={n} D={d}", run(impls, a.repeat, a.settle_ms / 1e3)))

    print(f"# float32 value_and_grad, {T} thread(s) for every implementation, median of "
          f"{a.repeat} interleaved samples; {os.cpu_count()} CPUs")
    print("| workload | implementation | median ms | x fastest peer | x BLAS |")
    print("|---|---|---:|---:|---:|")
    for label, res in rows:
        peers = [v for k, v in res.items() if k not in pl.backends() and not k.startswith("BLAS")]
        best = min(peers) if peers else None
        blas = next((v for k, v in res.items() if k.startswith("BLAS")), None)
        for k, v in res.items():
            r1 = f"{v / best:.2f}" if best and k in pl.backends() else ""
            r2 = f"{v / blas:.2f}" if blas and k in pl.backends() else ""
            print(f"| {label} | {k} | {v * 1e3:.1f} | {r1} | {r2} |")


if __name__ == "__main__":
    main()
