"""The floors of ``pyloss bench``: the memory floor (bytes a fused kernel
must move / streaming bandwidth measured in the same run) and the exp/log
compute floor (the exps and logs the loss needs per element, each at the
per-element cost of NumPy's vectorised ``np.exp`` / ``np.log`` on
cache-resident data, divided by the thread count)."""
import math
import time

import numpy as np

from .peers import _fact


def _bw_kernels():
    """numba kernels for the streaming floor (imported lazily).  Integer sums
    vectorise without fastmath; prange spreads the stream over the threads."""
    import numba

    @numba.njit(parallel=True, cache=False)
    def read(x):
        s = np.uint64(0)
        for i in numba.prange(x.size):
            s += x[i]
        return s

    @numba.njit(parallel=True, cache=False)
    def copy(dst, src):
        for i in numba.prange(src.size):
            dst[i] = src[i]

    return read, copy


def measure_bandwidth(nbytes=1 << 27, repeat=7):
    """Best streaming read and copy bandwidth (bytes/s) over `repeat` trials.

    read: sum of a `nbytes` array (bytes read / time); copy: dst[:] = src
    (bytes read + bytes written / time, not counting write-allocate traffic,
    since that is what a kernel writing its output moves by the same rule).
    """
    src = np.ones(nbytes // 8, np.uint64)
    dst = np.empty_like(src)

    def np_read(x):
        return np.add.reduce(x)

    def np_copy(d, s):
        np.copyto(d, s)

    # One thread (NumPy) and all threads (numba prange): a parallel region can
    # be slow to start on a busy or over-committed machine, so the best of
    # both is the bandwidth a kernel can get here.
    pairs = [(np_read, np_copy)]
    try:
        pairs.append(_bw_kernels())
    except ImportError:
        pass
    best_r = best_c = float("inf")
    threads = _numba_threads()
    for read, copy in pairs:
        read(src)
        copy(dst, src)
        for _ in range(repeat):
            t = time.perf_counter()
            read(src)
            best_r = min(best_r, time.perf_counter() - t)
            t = time.perf_counter()
            copy(dst, src)
            best_c = min(best_c, time.perf_counter() - t)
    return {"read": src.nbytes / best_r, "copy": 2 * src.nbytes / best_c,
            "nbytes": src.nbytes, "threads": threads}


def measure_explog(dtype, n=16384, repeat=7, number=200):
    """Seconds per element of NumPy's vectorised exp and log (``out=``, data in
    L1/L2, one thread): the compute floor's unit cost.  NumPy dispatches these
    to its SIMD (AVX2/AVX-512) implementations, the fastest exp/log a user has
    at hand without a framework."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-4.0, 4.0, n).astype(dtype)
    y = np.empty_like(x)
    z = np.abs(x) + dtype.type(0.1)
    out = {}
    for key, f, a in (("exp", np.exp, x), ("log", np.log, z)):
        f(a, out=y)
        best = math.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                f(a, out=y)
            best = min(best, (time.perf_counter() - t0) / number)
        out[key] = best / n
    return out


def explog_counts(name, arrays, opts):
    """(exps, logs) a fused implementation of `name` must evaluate on these
    inputs: one per element where the loss needs it (softmax/sigmoid exps,
    softplus/log1p logs), per-row ones (a softmax row's log) left out, as the
    loss's ``bench_cost`` declares them.  (0, 0) for the losses whose floor is
    memory alone."""
    cost = _fact(name, "bench_cost")
    if cost is None:
        return 0, 0
    size = [int(np.asarray(a).size) for a in arrays]
    if callable(cost):
        return cost(size, opts)
    n_exp, n_log = cost
    return n_exp * size[0], n_log * size[0]


def _numba_threads():
    """Numba's thread count for this thread, set to pyloss's (pl.set_num_threads,
    capped at the threads Numba launched); 1 without Numba."""
    try:
        import numba
        from .._numba import _apply_threads
    except ImportError:
        return 1
    from .._config import get_num_threads
    _apply_threads(get_num_threads())
    return numba.get_num_threads()
