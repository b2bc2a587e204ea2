"""Regression family: pyloss backends vs NumPy one-liners vs PyTorch (the
speed targets of issue 2).  ``pytest bench/test_bench_regression.py
--benchmark-enable``; sizes 128 (per-call overhead), 1e5 and 1e7."""
import numpy as np
import pytest

import pyloss as pl
from pyloss.bench.peers import _numpy_peer, _opts_of, _torch_peer

LOSSES = ["mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile"]
SIZES = [128, 100_000, 10_000_000]


def _arrays(n):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32))


def _impls(name, n, op):
    p, t = _arrays(n)
    loss = pl.get(name)
    o = _opts_of(loss, {})
    g = np.empty_like(p)
    rows = {}
    for b in pl.backends():
        rows[f"pyloss-{b}"] = ((lambda b=b: loss(p, t, backend=b)) if op == "value" else
                               (lambda b=b: loss.value_and_grad(p, t, backend=b)))
    if op == "vg":
        rows["pyloss-out"] = lambda: loss.value_and_grad(p, t, out=g)
    fns = _numpy_peer(name, (p, t), o)
    if fns:
        rows["numpy"] = fns[0] if op == "value" else fns[1]
    fns = _torch_peer(name, (p, t), o, pl.get_num_threads())
    if fns:
        rows["torch"] = fns[0] if op == "value" else fns[1]
    return rows


CASES = [(name, n, op, impl) for name in LOSSES for n in SIZES for op in ("value", "vg")
         for impl in _impls(name, 8, op)]


@pytest.mark.parametrize("name,n,op,impl", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_regression(benchmark, name, n, op, impl):
    fn = _impls(name, n, op)[impl]
    benchmark.group = f"{name} n={n} {op}"
    benchmark(fn)
