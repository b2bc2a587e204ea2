"""``pyloss warmup``: compile the Numba kernels ahead of time.

A Numba kernel is compiled on its first call (seconds per loss and dtype) and
then kept in Numba's on-disk cache (``__pycache__`` next to the package, or
``NUMBA_CACHE_DIR``), so a later process loads it in milliseconds.  This
command makes those first calls now -- for every registered loss (or the ones
named), float32 and float64, ``value``, ``value_and_grad`` and ``hessian``,
on an input small enough for the serial kernel and one large enough for the
parallel one -- and prints the time each loss and dtype took: the compile time
a first call would otherwise pay.  Run it once after installing (or in a
Docker image build) so that no training step or benchmark pays it.

From Python: ``pyloss.warmup(losses=None, dtypes=("float32", "float64"))``
returns the same table as a list of dicts.
"""
import sys
import time

import numpy as np

#: elements of the inputs that reach the parallel kernels (pyloss/_numba: PARALLEL_MIN)
PAR_ELEMENTS = 1 << 17


def warmup(losses=None, dtypes=("float32", "float64"), parallel=True, file=None):
    """Compile every Numba kernel of `losses` (default: all registered losses
    with an example input) for `dtypes`; returns one dict per loss and dtype:
    ``{"loss", "dtype", "seconds"}`` (``seconds``: the first calls' time,
    nearly all of it compiling or loading from Numba's cache).

    With ``parallel`` (default) an input of at least 2**17 elements is also
    run with two threads, which compiles the parallel twin of each kernel.
    Progress lines go to `file` (None: silent).
    """
    from ._config import get_num_threads
    from ._dispatch import backends, set_num_threads
    from ._loss import get, losses as registered

    if "numba" not in backends():
        raise RuntimeError("pyloss.warmup: the numba backend is not available here "
                           f"({backends(verbose=True).get('numba', 'not installed')})")
    names = list(losses) if losses else [n for n in registered() if get(n).example is not None]
    unknown = [n for n in names if n not in registered()]
    if unknown:
        raise ValueError(f"pyloss.warmup: losses: unknown name(s) {unknown}")
    rng = np.random.default_rng(0)
    rows = []
    threads = get_num_threads()
    try:
        for name in names:
            loss = get(name)
            if loss.example is None:
                continue
            for dt in dtypes:
                dtype = np.dtype(dt)
                t0 = time.perf_counter()
                sizes = [64] + ([PAR_ELEMENTS] if parallel else [])
                for n in sizes:
                    set_num_threads(2 if n >= PAR_ELEMENTS else 1)
                    arrays, opts = loss.example(rng, n, dtype)
                    loss(*arrays, backend="numba", **opts)
                    loss.value_and_grad(*arrays, backend="numba", **opts)
                    if loss.has_hessian:
                        loss.hessian(*arrays, backend="numba", **opts)
                dt_s = time.perf_counter() - t0
                rows.append({"loss": name, "dtype": dtype.name, "seconds": dt_s})
                if file is not None:
                    print(f"  {name:34s} {dtype.name:8s} {dt_s:7.2f} s", file=file, flush=True)
    finally:
        set_num_threads(threads)
    return rows


def add_arguments(p):
    p.add_argument("--losses", default="", help="comma-separated loss names (default: all)")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--serial-only", action="store_true",
                   help="skip the parallel kernels (inputs of 2**17 elements)")


def run(args):
    names = [s.strip() for s in args.losses.split(",") if s.strip()] or None
    dtypes = [s.strip() for s in args.dtypes.split(",") if s.strip()]
    print("pyloss warmup: compiling the Numba kernels (first call per loss and dtype)")
    t0 = time.perf_counter()
    try:
        rows = warmup(names, dtypes, parallel=not args.serial_only, file=sys.stdout)
    except (RuntimeError, ValueError) as exc:
        raise SystemExit(str(exc))
    print(f"pyloss warmup: {len(rows)} loss/dtype pairs in {time.perf_counter() - t0:.1f} s; "
          "later processes load them from Numba's cache")
    return 0
