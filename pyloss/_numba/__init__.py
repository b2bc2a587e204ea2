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
CHUNK = 512         # elements per inner chunk of the elementwise block (PL_EW_CH)
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
    the type the bound inputs have (read_only): one
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
def vmax(x, m0):
    """max(m0, max x) over 16 lanes (as PL_LANES in C: a NaN entry is
    skipped, x > m being false).  LLVM does not vectorise the plain select
    reduction here, even with nnan (Numba leaves the compare without fast-
    math flags); the lanes measured 2-2.5x faster on float32 rows of 1000."""
    n = x.size
    a = np.empty(16, x.dtype)
    for k in range(16):
        a[k] = m0
    i = 0
    while i + 16 <= n:
        for k in range(16):
            v = x[i + k]
            a[k] = v if v > a[k] else a[k]
        i += 16
    m = m0
    for k in range(16):
        m = a[k] if a[k] > m else m
    for j in range(i, n):
        m = x[j] if x[j] > m else m
    return m


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
# parallel run over fixed blocks.  One compiled variant serves every call of
# a dtype: the arrays a call does not have are empty arrays of the same type,
# and the kernel picks its targets at run time, per block, where a None would
# be a separate specialisation (a loss compiled 6-13 variants per dtype, one
# per combination of weight, grad and hess, and Numba compilation was most of
# the test suite's time).
#
# - `loss` is the per-element loss or empty: the terms go to it or to the
#   block buffer `lb`, the same stores either way.
# - `weight` is the per-element weight or empty.  The element loops store
#   l, sc g and sc h, with sc = scale without a weight and 1 with one; a
#   weighted block then takes a second pass over its (cached) outputs:
#   w l, scale (w g), scale (w h), the bits a loop with the weight inside
#   gives.  (A loop reading a block of ones as the weight cost 10-30% on
#   float64 mse and huber.)
# - `grad` and `hess` receive the gradient and the Hessian times `scale`,
#   each an empty array when not wanted; `want` says which (bit 1 grad,
#   bit 2 Hessian) and picks one of four loops, so a value call computes no
#   derivative and a gradient call no Hessian.
# - `aux` (a per-element parameter, e.g. pos_weight) stays None-able: a loss
#   either has one or not, and most calls of those that may do not.
def _ew_loop(stores):
    """One element loop of EW_TEMPLATE's block: the point, then `stores`."""
    return """
            for i in range(n):
                if aux is not None:
                    l, g, h = {name}_point(pv[i], tv[i], av[i], p0, p1)
                else:
                    l, g, h = {name}_point(pv[i], tv[i], p0, p0, p1)
                lv[i] = l
""" + "".join(" " * 16 + x + "\n" for x in stores)


_GRAD = "gv[i] = sc * g"
_HESS = "hv[i] = sc * h"
EW_TEMPLATE = '''
def {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want, lb, s, e):
    # Chunks as views indexed from 0: with the block's offset in the index,
    # Numba's negative-index wraparound cannot be proven dead and the loop
    # stays scalar (5x slower).  The terms go to lb (of the input dtype) or
    # to loss, then vsum adds them: an accumulator in the loop would not
    # vectorise.  A float64 chunk is CHUNK long, so lb stays in L1 with the
    # chunk's inputs (a block-long float64 buffer did not: float64 mse
    # value_and_grad 1.8x C's time, 1.2x in chunks); float32 keeps the whole
    # block (chunks of 512 or 1024 cost it 1.3x: the per-chunk overhead).
    keep = loss.size != 0
    weighted = weight.size != 0
    sc = ONE if weighted else scale
    acc = 0.0
    ch = CHUNK if pred.itemsize == 8 else BLOCK
    for c0 in range(s, e, ch):
        c1 = min(e, c0 + ch)
        pv = pred[c0:c1]
        tv = target[c0:c1]
        n = pv.size
        if aux is not None:
            av = aux[c0:c1]
        lv = loss[c0:c1] if keep else lb[:n]
        gv = grad[c0:c1] if want & 1 else grad
        hv = hess[c0:c1] if want & 2 else hess
        if want == 0:''' + _ew_loop(()) + '''
        elif want == 1:''' + _ew_loop((_GRAD,)) + '''
        elif want == 2:''' + _ew_loop((_HESS,)) + '''
        else:''' + _ew_loop((_GRAD, _HESS)) + '''
        if weighted:
            wv = weight[c0:c1]
            for i in range(n):
                lv[i] = wv[i] * lv[i]
            if want & 1:
                for i in range(n):
                    gv[i] = scale * (wv[i] * gv[i])
            if want & 2:
                for i in range(n):
                    hv[i] = scale * (wv[i] * hv[i])
        if not keep:
            acc += vsum(lv, n)
    return acc


def {name}_ser(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want):
    n = pred.size
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    lb = np.empty(BLOCK, pred.dtype)
    for b in range(nb):
        part[b] = {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want,
                               lb, b * BLOCK, min(n, (b + 1) * BLOCK))
    return pairwise(part)


def {name}_par(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want):
    n = pred.size
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    for b in numba.prange(nb):
        lb = np.empty(BLOCK, pred.dtype)
        part[b] = {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want,
                               lb, b * BLOCK, min(n, (b + 1) * BLOCK))
    return pairwise(part)
'''


# A split elementwise loss (C: PL_EW_KERNEL_SPLIT): its blocks run ALT's point
# function where SEL(target, s, e) holds for the block's targets -- a cheaper
# form of the same loss that gives the same bits -- and its own elsewhere.
# Per block, so the choice does not depend on the thread count.
SPLIT_TEMPLATE = '''
def {name}_pick_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want, lb, b):
    s = b * BLOCK
    e = min(pred.size, s + BLOCK)
    if SEL(target, s, e):
        return ALT_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want,
                         lb, s, e)
    return {name}_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want, lb,
                        s, e)


def {name}_ser(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want):
    nb = (pred.size + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    lb = np.empty(BLOCK, pred.dtype)
    for b in range(nb):
        part[b] = {name}_pick_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess,
                                    want, lb, b)
    return pairwise(part)


def {name}_par(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, want):
    nb = (pred.size + BLOCK - 1) // BLOCK
    part = np.empty(nb)
    for b in numba.prange(nb):
        lb = np.empty(BLOCK, pred.dtype)
        part[b] = {name}_pick_block(pred, target, weight, aux, p0, p1, scale, loss, grad, hess,
                                    want, lb, b)
    return pairwise(part)
'''


def instantiate_split(name, alt, sel, namespace, filename):
    """Replace `name`'s serial and parallel runs (made by
    instantiate_elementwise, as `alt`'s) by ones choosing `alt`'s block
    where the function `sel` says so (see SPLIT_TEMPLATE)."""
    src = SPLIT_TEMPLATE.replace("ALT", alt).replace("SEL", sel).format(name=name)
    exec(compile(src, filename, "exec"), namespace)
    for fname in (name + "_pick_block", name + "_ser", name + "_par"):
        parallel = PARALLEL and fname.endswith("_par")
        namespace[fname] = numba.njit(cache=True, parallel=parallel,
                                      error_model="numpy")(namespace[fname])


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
    from .vmath import ONE
    namespace.setdefault("ONE", ONE)            # the template's unweighted scale
    namespace.setdefault("CHUNK", CHUNK)
    namespace.setdefault("BLOCK", BLOCK)
    return instantiate(EW_TEMPLATE, names, namespace, filename, error_model="numpy")


def read_only(a):
    """`a` as the kernels see it: an ndarray read-only (a view where it was
    writeable) and aligned (a copy where it was not); tuples and lists item
    by item; anything else as it is.  Numba compiles one variant per
    argument type, and a read-only or an unaligned array is another type:
    a user's read-only input (np.broadcast_to, a memory map, a frozen
    array) or one from np.frombuffer at an odd offset would compile every
    kernel of the loss again (seconds per loss).  Kernels never write their
    inputs, so read-only, aligned inputs are one type whoever made them.
    About 0.4 us per array; the C path copies unaligned inputs too."""
    if isinstance(a, np.ndarray):
        if not a.flags.aligned:
            a = a.copy()
        if not a.flags.writeable:
            return a
        v = a.view()
        v.flags.writeable = False
        return v
    if type(a) is tuple or type(a) is list:
        return type(a)(read_only(x) for x in a)
    return a


def elementwise(module, name, dtype):
    """Adapter with the common elementwise signature, from a family module:
    ``run(pred, target, weight, aux, p0, p1, scale, loss, grad, hess,
    nthreads)`` with None for what the call does not have or want."""
    ser = getattr(module, name + "_ser")
    par = getattr(module, name + "_par")
    t = dtype.type
    no_loss = no_output(dtype)
    no_weight = empty_input((0,), dtype)

    def run(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, nthreads):
        want = (grad is not None) + 2 * (hess is not None)
        fn = pick(ser, par, pred.size, nthreads)
        # read_only again: the boosting objective's fused path calls this
        # directly, with its own (writeable) arrays
        return fn(read_only(pred.ravel()), read_only(target.ravel()),
                  no_weight if weight is None else read_only(weight.ravel()),
                  None if aux is None else read_only(aux.ravel()),
                  t(p0), t(p1), t(scale),
                  no_loss if loss is None else loss.ravel(),
                  no_loss if grad is None else grad.ravel(),
                  no_loss if hess is None else hess.ravel(),
                  want)
    return run
