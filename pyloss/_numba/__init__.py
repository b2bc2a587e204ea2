"""Numba backend: one module per family, mirroring csrc/ function for function.

Importing this package imports numba, so only the numba backend does it
(``import pyloss`` stays light).  Kernels are compiled with ``cache=True``:
a second process loads them from ``__pycache__`` and compiles nothing.

Kernels that share a driver (every elementwise loss) are stamped out from a
source template with :func:`instantiate`, compiled with this package's real
file name so that Numba's on-disk cache finds them again -- closures and
function-typed arguments would recompile in every process.
"""
import os
import threading

import numba
import numpy as np

BLOCK = 4096        # same block size as csrc/common.h: PL_BLOCK
PARALLEL_MIN = 1 << 17
# PYLOSS_NUMBA_SERIAL=1 compiles the prange kernels without Numba's
# ParallelAccelerator: prange runs as range, over the same fixed blocks, so the
# results are the same, on one thread.  For checking runs only -- the
# sanitizer job's NUMBA_BOUNDSCHECK=1 step uses it (the same index expressions
# are checked, and a serial compile takes about half the time); use it with a
# NUMBA_CACHE_DIR of its own, as Numba's cache does not key on the flag.
PARALLEL = os.environ.get("PYLOSS_NUMBA_SERIAL", "") in ("", "0")


def _apply_threads(n):
    """numba.set_num_threads, clipped to the threads numba launched.  Numba
    keeps the count per calling thread, so this sets it for the next
    parallel kernel launched from this thread only."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


# Launch numba's thread pool now, so that parallel_ok knows the threading
# layer even when the first call comes from a worker thread.
numba.get_num_threads()


def parallel_ok(n, nthreads):
    """Whether a prange kernel may run now, for `n` elements of work and the
    call's thread count `nthreads`.

    Small inputs stay serial (thread start-up costs more than it saves).  Off
    the main thread, parallel kernels run only under a thread-safe threading
    layer (tbb, omp); numba's default workqueue layer aborts the process when
    two threads enter it, so there we fall back to the serial twin, which
    gives bit-identical results (blocks are fixed-size).
    """
    if n < PARALLEL_MIN or nthreads < 2:
        return False
    if threading.current_thread() is threading.main_thread():
        return True
    try:
        return numba.threading_layer() in ("tbb", "omp")
    except ValueError:  # no parallel kernel has run yet: layer unknown
        return False


def pick(ser, par, n, nthreads):
    """The kernel to launch for `n` elements of work with the call's thread
    count: `par` (with numba's thread count for this thread set to
    `nthreads`) where :func:`parallel_ok`, else its serial twin `ser`."""
    if parallel_ok(n, nthreads):
        _apply_threads(nthreads)
        return par
    return ser


def empty_input(shape, dtype):
    """A read-only empty array standing for an absent input of a kernel, of
    the type the bound inputs have (pyloss._loss._read_only_inputs): one
    compiled variant whichever input is absent."""
    a = np.empty(shape, dtype)
    a.flags.writeable = False
    return a


_NO_OUTPUT = {}


def no_output(dtype):
    """The empty array that stands for an output the call does not want,
    where a kernel picks the target at run time instead of specialising on
    None (the per-element loss of the elementwise, softmax, box and region
    drivers).  Nothing is ever written to it, so one per dtype is shared."""
    dtype = np.dtype(dtype)
    a = _NO_OUTPUT.get(dtype)
    if a is None:
        a = _NO_OUTPUT[dtype] = np.empty(0, dtype)
    return a


def instantiate(template, names, namespace, filename, **jit):
    """exec `template` once per name (``{name}`` substituted) into namespace,
    jit each function it defines with cache=True, and return them."""
    made = {}
    for name in names:
        src = template.format(name=name)
        before = set(namespace)
        exec(compile(src, filename, "exec"), namespace)
        for fname in set(namespace) - before:
            parallel = PARALLEL and fname.endswith("_par")
            namespace[fname] = numba.njit(cache=True, parallel=parallel, **jit)(namespace[fname])
            made[fname] = namespace[fname]
    return made


# The sum of a block's terms, reassociated so that LLVM vectorises it (lanes
# of partial sums, as PL_LANES in C); the order is fixed by the compiled code,
# so the result is the same for any thread count.  Numba compiles a callee
# with its caller's fast-math flags (numba issue #7168), so the flag lives on
# this leaf alone: a kernel that calls the point functions or the polynomial
# exp/log (whose rounding tricks reassociation would fold away) never has it.
@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def vsum(x, n):
    """sum(x[:n]) in double, vectorised."""
    s = 0.0
    for i in range(n):
        s += x[i]
    return s


@numba.njit(cache=True)
def pairwise(x):
    """Pairwise sum of block partials, split at fixed places (as pl_pairwise)."""
    n = x.size
    if n <= 8:
        s = 0.0
        for i in range(n):
            s += x[i]
        return s
    h = n // 2
    return pairwise(x[:h]) + pairwise(x[h:])


# The elementwise driver: per loss, a block kernel and a serial and a
# parallel run over fixed blocks.  Optional inputs and derivative outputs are
# None, which Numba specialises on, so absent ones cost nothing.  `loss` is
# always an array -- empty when no per-element output is wanted -- and picked
# per block at run time: the terms go to it or to the block buffer, the same
# stores either way, so value and reduction="none" share one specialisation
# (a None-able loss doubled the compiled variants of every loss).
EW_TEMPLATE = '''
def {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, lb, s, e):
    # Views of the block, indexed from 0: with the block's offset in the
    # index, Numba's negative-index wraparound cannot be proven dead and the
    # loop stays scalar (5x slower).  The terms go to lb (BLOCK long, of
    # pred's type, as C's lbuf: a double buffer would halve a float32 loop's
    # vector width) and vsum adds them in double: a reduction in this loop
    # would not vectorise.
    pv = pred[s:e]
    tv = target[s:e]
    if weight is not None:
        wv = weight[s:e]
    if aux is not None:
        av = aux[s:e]
    if grad is not None:
        gv = grad[s:e]
    if hess is not None:
        hv = hess[s:e]
    n = pv.size
    keep = loss.size != 0
    lv = loss[s:e] if keep else lb[:n]
    for i in range(n):
        if aux is not None:
            l, g, h = {name}_point(pv[i], tv[i], av[i], p0, p1)
        else:
            l, g, h = {name}_point(pv[i], tv[i], p0, p0, p1)
        if weight is not None:
            w = wv[i]
            l = w * l
            g = w * g
            h = w * h
        lv[i] = l
        if grad is not None:
            gv[i] = scale * g
        if hess is not None:
            hv[i] = scale * h
    if keep:
        return 0.0
    return vsum(lv, n)


def {name}_ser(pred, target, weight, aux, p0, p1, scale, loss, grad, hess):
    n = pred.size
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    lb = np.empty(BLOCK, pred.dtype)
    for b in range(nb):
        part[b] = {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, lb,
                               b * BLOCK, min(n, (b + 1) * BLOCK))
    return pairwise(part)


def {name}_par(pred, target, weight, aux, p0, p1, scale, loss, grad, hess):
    n = pred.size
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    for b in numba.prange(nb):
        lb = np.empty(BLOCK, pred.dtype)
        part[b] = {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, lb,
                               b * BLOCK, min(n, (b + 1) * BLOCK))
    return pairwise(part)
'''


#: Decorator of a point function (and its helpers) of the elementwise driver:
#: IR-inlined into the block, so the loop is one body LLVM can vectorise, and
#: NumPy's error model (see instantiate_elementwise).
point = numba.njit(cache=True, inline="always", error_model="numpy")


def instantiate_elementwise(names, namespace, filename):
    """The elementwise driver for each loss in `names` (``<name>_point`` in
    `namespace`).  NumPy's error model: a float division by zero gives inf or
    NaN as in C, where Python's would test every divisor and raise, a branch
    that keeps the loop scalar.  The point functions are inlined into the
    block (``inline="always"``), so the block's error model is theirs."""
    return instantiate(EW_TEMPLATE, names, namespace, filename, error_model="numpy")


def elementwise(module, name, dtype):
    """Adapter with the common elementwise signature, from a family module."""
    ser = getattr(module, name + "_ser")
    par = getattr(module, name + "_par")
    t = dtype.type
    no_loss = no_output(dtype)

    def run(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, nthreads):
        fn = pick(ser, par, pred.size, nthreads)
        return fn(pred.ravel(), target.ravel(),
                  None if weight is None else weight.ravel(),
                  None if aux is None else aux.ravel(),
                  t(p0), t(p1), t(scale),
                  no_loss if loss is None else loss.ravel(),
                  None if grad is None else grad.ravel(),
                  None if hess is None else hess.ravel())
    return run
