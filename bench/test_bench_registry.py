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


@pytest.mark.parametrize("peer", ["torch", "jax"])
@pytest.mark.parametrize("name", NAMES)
def test_peer_agrees(name, peer):
    """`pyloss bench`'s PyTorch and JAX peers compute what pyloss computes:
    the value and the gradients of every differentiable input (float64)."""
    pytest.importorskip(peer)
    from pyloss.bench.peers import _jax_peer, _opts_of, _torch_peer
    loss = pl.get(name)
    arrays, opts = loss.example(np.random.default_rng(0), 4096, np.dtype(np.float64))
    o = _opts_of(loss, opts)
    fns = (_torch_peer(name, arrays, o, 1) if peer == "torch"
           else _jax_peer(name, arrays, o))
    assert fns is not None, f"no {peer} peer for {name}"
    value, grads = fns[1]()
    want_v, want_g = loss.value_and_grad(*arrays, **opts)
    if len(loss.diff) == 1:
        grads, want_g = (grads,), (want_g,)
    as_np = (lambda x: x.detach().numpy()) if peer == "torch" else np.asarray
    np.testing.assert_allclose(float(as_np(fns[0]())), want_v, rtol=1e-9)
    np.testing.assert_allclose(float(as_np(value)), want_v, rtol=1e-9)
    assert len(grads) == len(want_g)
    for g, w in zip(grads, want_g):
        np.testing.assert_allclose(as_np(g), w, rtol=1e-9, atol=1e-12 * np.abs(w).max())
