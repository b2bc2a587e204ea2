"""Memory: no leak, no reference kept to an input, no copy on the out= path.

* Many calls of every loss (every op, with and without ``out=``, and failing
  calls) leave the resident set size and the number of live Python objects
  flat after a warm-up.  ``PYLOSS_MEMORY_CALLS`` sets the calls per loss on
  the C backend (default 4000; the issue's 10^5 with
  ``PYLOSS_MEMORY_CALLS=100000``); Numba and NumPy get a tenth, at least
  1000.  Inputs of 1024 elements (8 KB): one leaked input-sized array per
  call would add 8 MB or more, twice the RSS bound, on every backend.
* No kernel keeps a reference to an input, weight or out= buffer after it
  returns (weakrefs to an ndarray subclass; ``sys.getrefcount``).
* ``grad``/``value_and_grad``/``hessian`` with ``out=`` on contiguous inputs of
  the compute dtype allocate nothing of the inputs' size (tracemalloc).
"""
import gc
import os
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import pyloss as pl
from reliability_util import call, make, ops_of, sentinel_like, valid_weight

NAMES = pl.losses()
CALLS = int(os.environ.get("PYLOSS_MEMORY_CALLS", "4000"))
SIZE = 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _plan(loss, backend):
    """A cycle of calls covering every op, reduction, out= and a bad call."""
    arrays, opts = make(loss.name, (SIZE,))
    plan = []
    for op in ops_of(loss):
        for red in loss.reductions:
            plan.append((op, arrays, opts, red, None))
            if op != "value":
                res = call(loss, op, arrays, opts, backend, red)
                g = res[1] if op == "vg" else res
                plan.append((op, arrays, opts, red, sentinel_like(g)))
    if "weight" in loss.options:
        w = valid_weight(loss, arrays, opts, backend)
        plan.append(("vg", arrays, dict(opts, weight=w), "mean", None))
    plan.append(("bad", arrays, opts, "mean", None))
    return plan


def _run_plan(loss, backend, plan, n):
    for k in range(n):
        op, arrays, opts, red, out = plan[k % len(plan)]
        if op == "bad":
            try:
                loss(*arrays, reduction="no-such-reduction", backend=backend, **opts)
            except pl.PylossValueError:
                pass
            continue
        call(loss, op, arrays, opts, backend, red, out=out)


@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.skipif(os.environ.get("PYLOSS_SANITIZED", "") not in ("", "0"),
                    reason="ASan's quarantine keeps freed memory resident (.ci/sanitize.sh)")
def test_many_calls_leave_rss_flat(name, backend):
    loss = pl.get(name)
    calls = CALLS if backend == "c" else max(CALLS // 10, 1000)
    plan = _plan(loss, backend)
    # Freeze what lives now (gc.freeze: out of the collector's generations):
    # gc.get_objects() then lists only objects made since, and a collection
    # walks only those.  In a process that has compiled many Numba kernels the
    # heap holds millions of objects, and each full collection or
    # get_objects() over them took about a second (3-4 s per case, 8 minutes
    # of the quick suite for calls that take 0.1-0.4 s).
    gc.freeze()
    try:
        _run_plan(loss, backend, plan, max(calls // 10, 2 * len(plan)))   # warm-up
        gc.collect()
        objs0, rss0 = len(gc.get_objects()), rss()
        _run_plan(loss, backend, plan, calls)
        gc.collect()
        objs1, rss1 = len(gc.get_objects()), rss()
    finally:
        gc.unfreeze()
    # Inputs are SIZE elements (8 KB per float64 array): leaking one array per
    # call grows RSS by >= 8 MB here; a leaked cffi buffer or traceback shows
    # in the live-object count.
    assert rss1 - rss0 < 4 * 2**20, \
        f"{name}/{backend}: RSS grew {(rss1 - rss0) / 2**20:.1f} MB over {calls} calls"
    assert objs1 - objs0 < 200, f"{name}/{backend}: {objs1 - objs0} more live objects after {calls} calls"


class Tracked(np.ndarray):
    """An ndarray subclass, so that instances take weak references."""


@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("name", NAMES)
def test_no_reference_kept_to_inputs(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (9,))
    if "weight" in loss.options and opts.get("weight") is None:
        opts = dict(opts, weight=valid_weight(loss, arrays, opts, backend))
    for op in ops_of(loss):
        for red in loss.reductions:
            for with_out in ((False, True) if op != "value" else (False,)):
                tracked = tuple(np.array(a).view(Tracked) for a in arrays)
                o = {k: (np.array(v).view(Tracked) if isinstance(v, np.ndarray) else v)
                     for k, v in opts.items()}
                refs = [weakref.ref(a) for a in tracked] + \
                       [weakref.ref(v) for v in o.values() if isinstance(v, Tracked)]
                out = None
                if with_out:
                    res = call(loss, op, arrays, opts, backend, red)
                    g = res[1] if op == "vg" else res
                    out = tuple(x.view(Tracked) for x in sentinel_like(g)) if isinstance(g, tuple) \
                        else sentinel_like(g).view(Tracked)
                    refs += [weakref.ref(x) for x in (out if isinstance(out, tuple) else (out,))]
                res = call(loss, op, tracked, o, backend, red, out=out)
                del tracked, o, out, res
                # No gc.collect(): plain reference counting must free them (a
                # reference cycle through an input would be a leak until the
                # next collection, too).
                alive = [r() for r in refs if r() is not None]
                assert not alive, f"{name}.{op} reduction={red} out={with_out} on {backend}: " \
                                  f"{len(alive)} input(s) still referenced after the call"


@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("name", NAMES)
def test_refcounts_unchanged(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (9,))
    arrays = tuple(np.array(a) for a in arrays)
    before = [sys.getrefcount(a) for a in arrays]
    for op in ops_of(loss):
        for red in loss.reductions:
            res = call(loss, op, arrays, opts, backend, red)
            del res
            try:
                call(loss, op, arrays, dict(opts, no_such_option=1), backend, red)
            except pl.PylossTypeError:
                pass
            try:
                call(loss, op, arrays, opts, backend, "no-such-reduction")
            except pl.PylossValueError:
                pass
    after = [sys.getrefcount(a) for a in arrays]
    assert after == before, f"{name} on {backend}: refcounts {before} -> {after}"


@pytest.mark.parametrize("backend", [b for b in pl.backends() if b != "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_out_path_allocates_nothing(name, backend):
    loss = pl.get(name)
    # (1024, 512): 2**19 elements per input (4 MiB), so per-row or
    # per-(sample, class) statistics and the bounded work buffers of the
    # region kernels (~256 KiB whatever the input size) are small beside it
    arrays, opts = make(name, (1 << 10, 512), np.float64)
    arrays = tuple(np.ascontiguousarray(a) for a in arrays)
    biggest = max(np.asarray(a).nbytes for a in arrays)
    for op in ops_of(loss)[1:]:
        for red in ("mean", "sum"):
            res = call(loss, op, arrays, opts, backend, red)
            g = res[1] if op == "vg" else res
            out = sentinel_like(g)
            call(loss, op, arrays, opts, backend, red, out=out)   # warm (JIT, caches)
            tracemalloc.start()
            try:
                call(loss, op, arrays, opts, backend, red, out=out)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            # a loss that needs work memory says how much: the N x N matrix of
            # the metric losses (work_bytes), the sort keys and per-class
            # buffers of lovasz_softmax (scratch_per_input, O(input))
            work = loss.work_bytes(*arrays, **opts) if hasattr(loss, "work_bytes") else 0
            bound = biggest // 4 + work + int(getattr(loss, "scratch_per_input", 0) * biggest)
            assert peak < bound, \
                f"{name}.{op} reduction={red} out= on {backend}: peak {peak} bytes traced " \
                f"(largest input {biggest} bytes)"
