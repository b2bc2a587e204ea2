"""Every registered loss with an ``example`` hook: value_and_grad of each
pyloss backend against the NumPy reference, at 1e3 and 1e6 elements.
``pytest bench/test_bench_registry.py --benchmark-enable``."""
import numpy as np
import pytest

import pyloss as pl

NAMES = [n for n in pl.losses() if pl.get(n).example is not None]
SIZES = [1_000, 1_000_000]
BACKENDS = list(pl.backends())
CASES = [(name, n, b) for name in NAMES for n in SIZES for b in BACKENDS]


@pytest.mark.parametrize("name,n,backend", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_value_and_grad(benchmark, name, n, backend):
    loss = pl.get(name)
    arrays, opts = loss.example(np.random.default_rng(0), n, np.dtype(np.float32))
    benchmark.group = f"{name} n={n}"
    benchmark(lambda: loss.value_and_grad(*arrays, backend=backend, **opts))
