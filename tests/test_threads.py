"""Thread-count independence and GIL release.

Results must be bit-identical for 1 and 2 threads (SPEC 2: fixed-size blocks,
partials combined in a fixed order) on inputs above the parallel cut-off,
for every loss, parallel backend, dtype, reduction and operation (Numba in
float32 under ``-m slow``: tests/conftest.py's rule for every test).
"""
import threading
import time

import numpy as np
import pytest

import pyloss as pl
from conftest import F32, F64, call, case_of, make, reductions_of, split

NAMES = pl.losses()
PARALLEL = [b for b in pl.backends() if b != "numpy"]
BIG = (1 << 17) + 5


def test_get_and_set_num_threads(restore_threads):
    n = pl.get_num_threads()
    assert isinstance(n, int) and n >= 1
    pl.set_num_threads(1)
    assert pl.get_num_threads() == 1
    pl.set_num_threads(3)
    assert pl.get_num_threads() == 3
    for bad in (0, -1, 1.5, "2", True, None):
        with pytest.raises(pl.PylossValueError, match="set_num_threads"):
            pl.set_num_threads(bad)
    assert pl.get_num_threads() == 3


@pytest.mark.skipif("numba" not in pl.backends(), reason="numba not installed")
def test_numba_takes_the_thread_count_per_call(restore_threads, monkeypatch):
    """The thread count reaches the Numba kernels as an argument of each call
    (pl.set_num_threads -> the call -> pick), which sets numba's count for
    the calling thread just before a parallel launch."""
    import numba
    from pyloss import _numba as N
    ser, par = object(), object()
    assert N.pick(ser, par, N.PARALLEL_MIN - 1, 2) is ser     # small: serial
    assert N.pick(ser, par, N.PARALLEL_MIN, 1) is ser         # one thread: serial
    if numba.config.NUMBA_NUM_THREADS >= 2:
        numba.set_num_threads(1)
        assert N.pick(ser, par, N.PARALLEL_MIN, 2) is par
        assert numba.get_num_threads() == 2
    seen = []
    real = N.parallel_ok
    monkeypatch.setattr(N, "parallel_ok",
                        lambda n, nthreads: seen.append(nthreads) or real(n, nthreads))
    x = np.linspace(-1, 1, BIG)
    for n in (1, 3):
        pl.set_num_threads(n)
        pl.mse(x, x[::-1], backend="numba")
    assert seen == [1, 3]


@pytest.mark.skipif(not PARALLEL, reason="no parallel backend built")
@pytest.mark.parametrize("dtype", (F32, F64), ids=lambda d: d.name)
@pytest.mark.parametrize("backend", PARALLEL)
@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_for_1_and_2_threads(name, backend, dtype, restore_threads):
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(20)
    weighted = "weight" in loss.options
    arrays, opts = make(name, rng, (BIG,), dtype, case.option_sets[-1], weighted)
    # value-only, fused, per-element and Hessian modes: each a different kernel path
    runs = [("mean", "vg"), ("none", "vg"), ("sum", "value")]
    if loss.has_hessian:
        runs.append(("mean", "hess"))
    for reduction, op in runs:
        if reduction in reductions_of(loss, case):
            got = []
            for n in (1, 2):
                pl.set_num_threads(n)
                v, d = split(op, call(loss, op, arrays, opts, reduction, backend))
                got.append(([] if v is None else [np.asarray(v)]) + list(d or ()))
            for a, b in zip(got[0], got[1]):
                np.testing.assert_array_equal(a, b, strict=True,
                                              err_msg=f"{name} {backend} {reduction} {op}")


@pytest.mark.skipif("c" not in pl.backends(), reason="C backend not built")
def test_c_kernels_release_the_gil(restore_threads):
    """While a long C call runs in a worker thread, the main thread keeps
    executing Python.  The worker holds the GIL from the timestamp it takes
    before each call until the call starts, so if the call held it too, the
    main thread could not record a single timestamp strictly inside any call's
    span.  The margins: 10 ms after the start (the interpreter may hand the GIL
    over between the timestamp and the call, for one 5 ms switch interval),
    1 ms before the end; between calls the main thread may run either way, so
    only stamps inside a call count.
    Deterministic in the failing direction; three attempts absorb a machine so
    busy that the main thread got no CPU."""
    pl.set_num_threads(1)
    rng = np.random.default_rng(21)
    p, t = rng.standard_normal(8_000_000), rng.standard_normal(8_000_000)
    pl.log_cosh(p, t, backend="c")
    report = []
    for attempt in range(3):
        stamps, spans = [], []
        done = threading.Event()

        def worker():
            for _ in range(3):
                s0 = time.perf_counter()
                pl.log_cosh.value_and_grad(p, t, backend="c")
                spans.append((s0, time.perf_counter()))
            done.set()

        th = threading.Thread(target=worker)
        th.start()
        while not done.is_set():
            stamps.append(time.perf_counter())
        th.join()
        inside = sum(1 for s in stamps for s0, s1 in spans if s0 + 0.010 < s < s1 - 0.001)
        report.append(([round(s1 - s0, 3) for s0, s1 in spans], inside))
        if inside > 0:
            return
    pytest.fail(f"the main thread never ran during C calls (durations, stamps inside): {report}")


def test_concurrent_calls_from_python_threads():
    """Several Python threads calling every backend at once on inputs above
    the parallel cut-off: no crash (numba's default threading layer aborts
    the process when two threads enter a parallel region, so this runs in a
    subprocess) and the same bits as a call from the main thread."""
    import os
    import subprocess
    import sys
    import textwrap
    # the pyloss under test (installed or in place), not the checkout's sources
    root = os.path.dirname(os.path.dirname(os.path.abspath(pl.__file__)))
    code = textwrap.dedent("""
        import numpy as np
        from concurrent.futures import ThreadPoolExecutor
        import pyloss as pl
        rng = np.random.default_rng(0)
        n = (1 << 17) + 5
        p, t = rng.standard_normal(n), rng.standard_normal(n)
        for backend in pl.backends():
            for name in ("mse", "log_cosh"):
                loss = pl.get(name)
                want = loss.value_and_grad(p, t, backend=backend)
                with ThreadPoolExecutor(4) as ex:
                    got = list(ex.map(lambda _: loss.value_and_grad(p, t, backend=backend), range(8)))
                for v, g in got:
                    assert v == want[0] and np.array_equal(g, want[1]), (backend, name)
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(root), env=env,
                       capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stdout, r.stderr[-3000:])


# --- pyloss's own worker threads (csrc/pool.c) --------------------------------
# The elementwise and softmax-row kernels hand their blocks to pl_sum_blocks:
# the caller and the workers claim blocks from one counter, so who computes a
# block changes from call to call; the result must not.

HAVE_C = "c" in pl.backends()


@pytest.mark.skipif(not HAVE_C, reason="C backend not built")
@pytest.mark.parametrize("dtype", (F32, F64), ids=lambda d: d.name)
def test_pool_bit_identical_for_any_thread_count_and_size(dtype, restore_threads):
    """Sizes around every boundary of pl_sum_blocks: one block, the parallel
    cut-off (2^17 elements), one super-chunk of partials (1024 blocks of 4096)
    and past it (the partials move to the heap and one job covers the call),
    with more threads than CPUs (workers take turns); repeated calls, so jobs
    of different sizes follow each other through the same workers."""
    rng = np.random.default_rng(30)
    sizes = (4096, (1 << 17) - 1, (1 << 17) + 1, 1024 * 4096, 1024 * 4096 + 4097)
    z = rng.standard_normal((40_000, 37)).astype(dtype)
    y = rng.integers(0, 37, 40_000)
    for n in sizes:
        p = rng.standard_normal(n).astype(dtype)
        t = rng.standard_normal(n).astype(dtype)
        pl.set_num_threads(1)
        want = pl.log_cosh.value_and_grad(p, t, backend="c")
        want_ce = pl.cross_entropy.value_and_grad(z, y, backend="c")
        for nt in (2, 3, 8, 2):
            pl.set_num_threads(nt)
            for _ in range(3):
                v, g = pl.log_cosh.value_and_grad(p, t, backend="c")
                assert v == want[0] and np.array_equal(g, want[1]), (n, nt)
                assert pl.log_cosh(p, t, backend="c", reduction="sum") == \
                    pl.log_cosh(p, t, backend="c", reduction="sum")
            v, g = pl.cross_entropy.value_and_grad(z, y, backend="c")
            assert v == want_ce[0] and np.array_equal(g, want_ce[1]), nt


@pytest.mark.skipif(not HAVE_C, reason="C backend not built")
@pytest.mark.parametrize("name, n, extra", [
    ("focal_smooth_l1", 4_500_000, {}), ("giou", 600_000, {}), ("triplet", 600_000, {}),
    ("vae", 600_000, {}), ("dice", 600_000, {}), ("dice_bce", 600_000, {}),
    ("lovasz_softmax", 600_000, {}), ("nt_xent", 300_000, {}),
    ("batch_triplet", 300_000, {"mining": "batch_all"}), ("cosine_embedding", 600_000, {})])
def test_pool_drivers_bit_identical(name, n, extra, restore_threads):
    """The other drivers on pl_sum_blocks / pl_run_blocks: rows (triplet, vae),
    boxes (the caller's partials summed whole), focal_smooth_l1 (a count
    pass, then super-chunks with per-block positive counts: 4.5M elements is
    more than one super-chunk of its blocks), the region engine,
    lovasz_softmax and batch_all mining (scratch space per thread,
    pl_pool_tid), the metric row passes (pl_for_items).  8 threads before 2: a call must use no
    more threads than it asks for even when more workers exist (the region
    engine's scratch is sized for its own thread count; under ASan,
    .ci/sanitize.sh, an extra worker is a heap overflow)."""
    loss = pl.get(name)
    arrays, opts = loss.example(np.random.default_rng(31), n, F32)
    opts = dict(opts, **extra)
    got = []
    for nt in (1, 8, 2, 5):
        pl.set_num_threads(nt)
        v, g = loss.value_and_grad(*arrays, backend="c", **opts)
        got.append((v, g if isinstance(g, tuple) else (g,)))
    for v, g in got[1:]:
        assert v == got[0][0] and all(np.array_equal(a, b) for a, b in zip(g, got[0][1])), name


@pytest.mark.skipif(not HAVE_C, reason="C backend not built")
def test_pool_reports_its_workers(restore_threads):
    from pyloss import _c
    before = int(_c.lib.pl_pool_workers())
    if before == -1:
        pytest.skip("this build has no pool (no OpenMP or no POSIX threads)")
    pl.set_num_threads(3)
    x = np.linspace(-1, 1, (1 << 17) + 5)
    pl.mse(x, x[::-1], backend="c")
    assert int(_c.lib.pl_pool_workers()) >= 2   # started for this call, never stopped


@pytest.mark.skipif(not HAVE_C, reason="C backend not built")
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_pool_works_in_a_forked_child():
    """A child of fork() has none of its parent's worker threads (only the
    forking thread survives); pool.c starts afresh there (pthread_atfork):
    no worker is counted, new ones start, results are the same bits.
    In a subprocess with a timeout: a hang fails the test instead of CI."""
    import os
    import subprocess
    import sys
    import textwrap
    root = os.path.dirname(os.path.dirname(os.path.abspath(pl.__file__)))
    code = textwrap.dedent("""
        import os
        import numpy as np
        import pyloss as pl
        pl.set_num_threads(2)
        x = np.linspace(-3, 3, 3_000_001)
        want = pl.log_cosh.value_and_grad(x, x[::-1], backend="c")   # starts the workers
        pid = os.fork()
        if pid == 0:
            from pyloss import _c
            pool = _c.lib.pl_pool_workers() != -1
            ok = not pool or _c.lib.pl_pool_workers() == 0    # the parent's are gone
            for nt in (2, 3):
                pl.set_num_threads(nt)
                v, g = pl.log_cosh.value_and_grad(x, x[::-1], backend="c")
                ok = ok and v == want[0] and np.array_equal(g, want[1])
            ok = ok and (not pool or _c.lib.pl_pool_workers() >= 1)   # and new ones started
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        v, g = pl.log_cosh.value_and_grad(x, x[::-1], backend="c")   # the parent's pool still works
        assert v == want[0] and np.array_equal(g, want[1])
        print("child", os.waitstatus_to_exitcode(status))
    """)
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(root), env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "child 0", (r.returncode, r.stdout,
                                                                 r.stderr[-3000:])
