"""float32 mean over 10**8 elements keeps float32 precision (SPEC 2).

The input has an exactly known answer.  One float32 buffer A of 10**8 + 1
elements repeats the pattern k = (0, 3, 1, 7, 2, 5, 4) / 8; pred = A[1:] and
target = A[:-1] are views of it (400 MB in all, no copy), so
r_i = (k[(i+1) % 7] - k[i % 7]) / 8 and r_i**2 = d**2 / 64 are exact in
float32 and the exact sum is an integer count per residue class.  A naive
float32 running sum stops growing near 2**24 (adding 0.22 to 2**24 rounds
away), so it misses the bound by orders of magnitude; the test computes that
naive sum too (sequentially, with np.cumsum in float32) and shows it fails.
"""
from fractions import Fraction

import numpy as np
import pytest

import pyloss as pl

N = 10**8
K = np.array([0, 3, 1, 7, 2, 5, 4])


def _exact(n, point):
    """Exact sum over i < n of point(d_i) (Fractions), d_i = k[i+1] - k[i] in eighths."""
    d = np.roll(K, -1) - K
    total = Fraction(0)
    for j in range(7):
        count = n // 7 + (1 if j < n % 7 else 0)
        total += count * point(int(d[j]))
    return total


@pytest.fixture(scope="module")
def views():
    a = np.empty(N + 1, np.float32)
    period = np.tile((K / 8).astype(np.float32), (1 << 16))
    for s in range(0, N + 1, period.size):          # period.size is a multiple of 7
        e = min(N + 1, s + period.size)
        a[s:e] = period[:e - s]
    pred, target = a[1:], a[:-1]
    assert pred.flags.c_contiguous and np.shares_memory(pred, target)
    yield pred, target
    del a


def _naive_float32_sum(values_of_period, n):
    """Sequential float32 running sum of n per-element values (period 7)."""
    chunk = np.tile(values_of_period, (1 << 17)).astype(np.float32)
    s = np.float32(0)
    done = 0
    while done < n:
        m = min(chunk.size, n - done)
        s = np.cumsum(np.concatenate(([s], chunk[:m])), dtype=np.float32)[-1]
        done += m
    return float(s)


@pytest.mark.slow
@pytest.mark.parametrize("name,point,show_naive", [
    ("mse", lambda d: Fraction(d * d, 64), True),
    ("mae", lambda d: Fraction(abs(d), 8), False),
], ids=["mse", "mae"])
def test_float32_mean_of_1e8_elements(views, name, point, show_naive):
    pred, target = views
    exact_sum = _exact(N, point)
    exact_mean = float(exact_sum / N)
    loss = pl.get(name)
    per = np.array([float(point(int(d))) for d in np.roll(K, -1) - K], np.float32)
    if show_naive:   # 2.5 s: once is enough (it gives 0.1589 for the exact 0.2232)
        naive = _naive_float32_sum(per, N) / N
        assert abs(naive - exact_mean) / exact_mean > 1e-3, "the naive sum should fail the bound"
    for backend in [b for b in pl.backends() if b != "numpy"]:
        m = loss(pred, target, backend=backend)
        assert m.dtype == np.float32
        assert abs(float(m) - exact_mean) / exact_mean < 1e-6, (backend, float(m), exact_mean)
        s = loss(pred, target, reduction="sum", backend=backend)
        assert abs(float(s) - float(exact_sum)) / float(exact_sum) < 1e-6, (backend, float(s))


def test_exact_answer_construction_is_right():
    """The counting argument on a small n, checked against float64 NumPy."""
    n = 1000
    a = np.resize(K / 8, n + 1)
    r = a[1:] - a[:-1]
    assert float(_exact(n, lambda d: Fraction(d * d, 64))) == np.sum(r * r)
    assert float(_exact(n, lambda d: Fraction(abs(d), 8))) == np.sum(np.abs(r))
