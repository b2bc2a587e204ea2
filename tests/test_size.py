"""Inputs with more than 2^31 elements index correctly (64-bit sizes and
indices in the C and Numba kernels), without allocating 8 GB.

pyloss makes every input C-contiguous, so a broadcast or strided view would
just be copied.  Instead each input is a private anonymous ``mmap`` of the
full size (``MAP_NORESERVE``): pages never written are read through the
kernel's shared zero page and cost no memory, so a 2^31 + k element float32
array is 8 GB of address space but only a few written pages of RAM.  The
Case's random inputs for a small batch are written at the *end* of the
zero-filled batch, i.e. beyond element 2^31; the ``sum`` must then equal

    sum(loss of the small batch) + (N - k) * loss of one all-zero sample,

which fails if any size or offset is truncated to 32 bits (the tail would be
skipped, read at a wrapped negative offset, or the count would go negative).
Only the value path is checked: a gradient or ``"none"`` output would have to
be written in full (8 GB of real memory).  The Python-side validation of some
losses (class indices, probability ranges) makes O(n) temporaries, so the test
is ``slow`` and needs a few GB free.  Losses whose ``sum`` is not additive over
samples are skipped.
"""
import mmap

import numpy as np
import pytest

import pyloss as pl
from reliability_util import make, require_slow

pytestmark = pytest.mark.slow

LIMIT = 1 << 31
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * mmap.PAGESIZE


def zero_array(shape, dtype):
    """A zero-filled array whose untouched pages cost no memory."""
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dt.itemsize
    mm = mmap.mmap(-1, max(nbytes, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE,
                   prot=mmap.PROT_READ | mmap.PROT_WRITE)
    if hasattr(mm, "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
        mm.madvise(mmap.MADV_HUGEPAGE)     # huge zero page: fewer faults
    return np.frombuffer(mm, dtype=dt, count=int(np.prod(shape))).reshape(shape)


def _batch_axes(name):
    """Per input: the axis that grows with the batch, and elements per sample."""
    a3, _ = make(name, (3,), np.float32)
    a4, _ = make(name, (4,), np.float32)
    axes = []
    for x, y in zip(a3, a4):
        x, y = np.asarray(x), np.asarray(y)
        diff = [i for i, (p, q) in enumerate(zip(x.shape, y.shape)) if p != q]
        if x.ndim != y.ndim or len(diff) != 1:
            return None
        axes.append((diff[0], y.size - x.size))
    return axes


def _zeros_like_batch(arrays, axes, n):
    out = []
    for a, (ax, _) in zip(arrays, axes):
        a = np.asarray(a)
        shape = list(a.shape)
        shape[ax] = n
        out.append(np.zeros(shape, a.dtype))
    return tuple(out)


@pytest.mark.parametrize("backend", [b for b in pl.backends() if b != "numpy"])
@pytest.mark.parametrize("name", pl.losses())
def test_more_than_2_31_elements(name, backend, request):
    require_slow(request)
    loss = pl.get(name)
    axes = _batch_axes(name)
    if axes is None:
        pytest.skip(f"{name}: no single batch axis in its Case")
    k = 3
    small, opts = make(name, (k,), np.float32)
    small = tuple(np.asarray(a) for a in small)
    opts = {o: v for o, v in opts.items()}
    one_zero = _zeros_like_batch(small, axes, 1)
    z1 = float(loss(*one_zero, reduction="sum", backend=backend, **opts))
    s = float(loss(*small, reduction="sum", backend=backend, **opts))
    # Additivity over samples, checked small: sum(concat) == m*z1 + s.
    m = 5
    cat = tuple(np.concatenate([z, a], axis=ax)
                for z, a, (ax, _) in zip(_zeros_like_batch(small, axes, m), small, axes))
    if not np.isclose(float(loss(*cat, reduction="sum", backend=backend, **opts)), m * z1 + s,
                      rtol=1e-5, atol=1e-5):
        pytest.skip(f"{name}: sum is not additive over samples")
    per = max(p for _, p in axes)
    n = LIMIT // per + 1 + k                       # largest input > 2^31 elements
    rss0 = rss()
    big = []
    for a, (ax, _) in zip(small, axes):
        shape = list(a.shape)
        shape[ax] = n
        b = zero_array(tuple(shape), a.dtype)
        idx = [slice(None)] * a.ndim
        idx[ax] = slice(n - k, n)
        b[tuple(idx)] = a                          # the real data sits beyond 2^31
        big.append(b)
    assert max(b.size for b in big) > LIMIT
    got = float(loss(*big, reduction="sum", backend=backend, **opts))
    expect = (n - k) * z1 + s
    grew = rss() - rss0
    del big
    np.testing.assert_allclose(got, expect, rtol=2e-6, atol=1e-6 * max(1.0, abs(s)),
                               err_msg=f"{name} on {backend} with n={n}")
    assert grew < 4 * 2**30, f"{name}: resident memory grew {grew / 2**30:.1f} GB"
