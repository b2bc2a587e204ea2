"""The only place that coerces arrays, validates arguments, promotes dtypes
and picks a backend.  Kernels trust what leaves this module:
C-contiguous arrays of the compute dtype, shapes checked, options in range.
"""
import contextlib
import importlib.util
import os
import math
from typing import Iterator

import numpy as np

from . import _config
from ._errors import PylossTypeError, PylossValueError

REDUCTIONS = ("mean", "sum", "none")
BACKENDS = ("auto", "c", "numba", "numpy")

_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)

# ---------------------------------------------------------------- backends

_available = None


def _probe():
    global _available
    if _available is None:
        avail = {}
        try:
            from . import _c
            avail["c"] = _c.lib is not None
            avail["c_reason"] = _c.reason
            avail["c_note"] = _c.note
        except ValueError:  # PYLOSS_ISA asks for what this CPU cannot run: say so
            raise
        except Exception as exc:  # pragma: no cover - import of a broken build
            avail["c"] = False
            avail["c_reason"] = f"C extension failed to import: {exc}"
        avail["numba"] = importlib.util.find_spec("numba") is not None
        avail["numba_reason"] = "" if avail["numba"] else "numba is not installed"
        # PYLOSS_DISABLE=c,numba turns backends off for the whole process (the
        # sanitizer job runs C under ASan without compiling any Numba kernel,
        # and the Numba kernels under NUMBA_BOUNDSCHECK without C).
        for b in os.environ.get("PYLOSS_DISABLE", "").replace(" ", "").split(","):
            if b in ("c", "numba") and avail[b]:
                avail[b] = False
                avail[b + "_reason"] = "disabled by PYLOSS_DISABLE"
        _available = avail
    return _available


def backends(verbose: bool = False) -> "tuple[str, ...] | dict[str, str]":
    """Backends usable in this process, fastest first.

    ``backends()`` gives a tuple of names, e.g. ``('c', 'numba', 'numpy')``;
    ``backends(verbose=True)`` a dict name -> ``"available"`` or the reason a
    backend is missing (a C build that failed, numba not installed).  A C
    build without per-CPU builds says so: ``"available (one portable build,
    ...)"``.
    """
    a = _probe()
    if verbose:
        c_ok = "available" + (f" ({a['c_note']})" if a.get("c_note") else "")
        return {
            "c": c_ok if a["c"] else a["c_reason"],
            "numba": "available" if a["numba"] else a["numba_reason"],
            "numpy": "available",
        }
    return tuple(b for b in ("c", "numba") if a[b]) + ("numpy",)


# Crossover measured by `python bench/crossover.py` (bench/RESULTS.md): below
# it the C kernel on one thread wins; above it the C kernel's OpenMP blocks
# and Numba's prange run equally fast, and C has no JIT warm-up, so auto stays
# on C whenever it was built.
PARALLEL_MIN = 1 << 17


def check_backend(backend):
    if backend not in BACKENDS:
        raise PylossValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        a = _probe()
        return "c" if a["c"] else ("numba" if a["numba"] else "numpy")
    if backend != "numpy":
        a = _probe()
        if not a[backend]:
            raise PylossValueError(
                f"backend={backend!r} is not available here: {a[backend + '_reason']}")
    return backend


def check_reduction(reduction, allowed=REDUCTIONS):
    if reduction not in allowed:
        raise PylossValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    return reduction


# ---------------------------------------------------------------- settings
# The validating front of _config (a leaf that cannot raise pyloss's errors).

def set_num_threads(n: int) -> None:
    """Set the number of threads the C and Numba backends may use.

    Results do not depend on it: every parallel kernel cuts its work into
    fixed-size blocks and combines the block partials in a fixed order.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise PylossValueError(f"set_num_threads: n must be an integer >= 1, got {n!r}")
    _config._threads[0] = n


@contextlib.contextmanager
def checking(rtol: float = 1e-4, atol: float = 1e-6) -> Iterator[None]:
    """Run every loss call inside the block against the NumPy reference too.

    A disagreement beyond ``|a - b| <= atol + rtol * |b|`` raises
    :class:`pyloss.CheckError` naming the loss, backend, dtype, shape and the
    largest difference.  ``PYLOSS_CHECK=1`` in the environment turns this on
    for the whole process (tolerances from ``PYLOSS_CHECK_RTOL``/``_ATOL``).

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> with pl.checking(rtol=1e-5):
    ...     v = pl.mse(np.ones(3), np.zeros(3))
    """
    if not (rtol >= 0 and atol >= 0):
        raise PylossValueError(f"checking: rtol and atol must be >= 0, got rtol={rtol!r}, atol={atol!r}")
    token = _config._checking.set((float(rtol), float(atol)))
    try:
        yield
    finally:
        _config._checking.reset(token)


# ---------------------------------------------------------------- arrays

def _asarray(x, name):
    a = _asarray_any(x, name)
    if not a.dtype.isnative:
        # Byte-swapped input ('>f8' on x86): dtype comparisons with the native
        # float64 fail, so without this a big-endian float64 array was computed
        # in float32.  Swap once, here.
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _asarray_any(x, name):
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__") and not hasattr(x, "__array_interface__"):
        # torch.Tensor and friends: zero-copy through DLPack (CPU only).
        obj = x.detach() if hasattr(x, "detach") else x
        try:
            return np.from_dlpack(obj)
        except Exception:
            pass
    try:
        return np.asarray(x)
    except Exception as exc:
        raise PylossTypeError(
            f"{name}: expected an array-like of numbers, got {type(x).__name__} ({exc})") from None


def float_input(x, name):
    """A prediction-like input: floating dtype required (float16/32/64)."""
    a = _asarray(x, name)
    dt = a.dtype
    if dt.kind != "f" or dt.itemsize > 8:
        kind = {"i": "integer", "u": "integer", "b": "boolean", "c": "complex",
                "O": "object", "U": "string", "S": "bytes"}.get(dt.kind, str(dt))
        raise PylossTypeError(
            f"{name}: expected a float16, float32 or float64 array, got {kind} dtype {dt}")
    return a


def real_input(x, name):
    """A target-like input: any real numeric dtype (int/bool are cast later)."""
    a = _asarray(x, name)
    if a.dtype.kind not in "fiub" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
        raise PylossTypeError(f"{name}: expected a real numeric array, got dtype {a.dtype}")
    return a


def compute_dtype(*arrays):
    """float64 if any float input is float64, else float32 (float16 -> float32).

    By kind and size, not dtype equality: a byte-swapped ('>f8') float64 is
    float64 too."""
    for a in arrays:
        if a is not None and a.dtype.kind == "f" and a.dtype.itemsize == 8:
            return _F64
    return _F32


def grad_dtype(a):
    """Gradients keep the input's dtype; float16 answers in float32 (SPEC 3a).
    Always native byte order (the kernels write native floats)."""
    return _F64 if a.dtype.itemsize == 8 else _F32


def contiguous(a, dtype):
    """C-contiguous array of dtype; copies only when layout or dtype differ."""
    # Unaligned data (np.frombuffer at an odd offset) is copied too: a
    # misaligned double* is undefined behaviour in C (UBSan reports it).
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned:
        return a
    out = np.ascontiguousarray(a, dtype=dtype)
    if not out.flags.aligned:  # ascontiguousarray keeps an unaligned contiguous array
        out = out.copy()
    return out


def same_shape(a, b, name_a, name_b):
    if a.shape != b.shape:
        raise PylossValueError(
            f"{name_b}: shape {b.shape} does not match {name_a} shape {a.shape}")


def broadcast_weight(weight, shape, dtype, name="weight"):
    """weight broadcast to the loss shape (NumPy rules), as a contiguous array."""
    w = real_input(weight, name)
    try:
        bshape = np.broadcast_shapes(w.shape, shape)
    except ValueError:
        bshape = None
    if bshape != tuple(shape):
        raise PylossValueError(
            f"{name}: shape {w.shape} does not broadcast to the loss shape {tuple(shape)}")
    if w.shape != tuple(shape):
        w = np.broadcast_to(w, shape)
    return contiguous(w, dtype)


def check_out(out, shape, dtype, name="out"):
    """Validate a preallocated gradient/Hessian buffer; never copy it."""
    if not isinstance(out, np.ndarray):
        raise PylossTypeError(f"{name}: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise PylossValueError(
            f"{name}: expected shape {tuple(shape)} and dtype {dtype}, "
            f"got shape {out.shape} and dtype {out.dtype}")
    if not out.flags.c_contiguous:
        raise PylossValueError(f"{name}: expected a C-contiguous array, got strides {out.strides}")
    if not out.flags.writeable:
        raise PylossValueError(f"{name}: expected a writeable array, got a read-only one")
    if not out.flags.aligned:
        raise PylossValueError(f"{name}: expected an aligned array, got one whose data is not "
                               f"aligned to its {out.dtype.itemsize}-byte items")
    return out


def overlaps_unsafely(out, *inputs):
    """Whether `out` shares memory with an input other than exactly.

    Kernels tolerate ``out`` being the very buffer of an input (element i is
    read before it is written), not a shifted or reshaped overlap: there a
    write lands on an element not yet read.  Callers compute into a
    temporary and copy when this is true (SPEC 3a).
    """
    for a in inputs:
        if a is None or not np.may_share_memory(out, a):
            continue
        if not (a.ctypes.data == out.ctypes.data and a.dtype.itemsize == out.dtype.itemsize
                and a.size == out.size):
            return True
    return False


def class_targets(target, name, num_classes, ignore_index, shape, against=None):
    """Integer class indices of `shape`: validated as in [0, C) or ignore_index.

    The check runs here, before any kernel writes, so every backend raises the
    same error naming the first offending value and its position.  `against`
    is ``(argument name, shape)`` of the input `shape` derives from, named in
    the shape error so that it shows both shapes.
    """
    t = _asarray(target, name)
    if t.dtype.kind not in "iu":
        raise PylossTypeError(f"{name}: expected integer class indices, got dtype {t.dtype}")
    if t.shape != tuple(shape):
        of = f" for {against[0]} of shape {tuple(against[1])}" if against else ""
        raise PylossValueError(
            f"{name}: shape {t.shape} does not match the expected {tuple(shape)}{of}")
    t64 = contiguous(t, np.dtype(np.int64))
    if t64.size:
        bad = ((t64 < 0) | (t64 >= num_classes)) & (t64 != ignore_index)
        if bad.any():
            pos = np.unravel_index(int(np.argmax(bad)), t64.shape)
            raise PylossValueError(
                f"{name}: class index {int(t64[pos])} at position {tuple(int(i) for i in pos)} "
                f"is outside [0, {num_classes}) and is not ignore_index={ignore_index}")
    return t64


# ---------------------------------------------------------------- options

def opt_float(name, value, *, lo=None, hi=None, lo_open=False, hi_open=False):
    """A real scalar option inside [lo, hi] (open ends as flagged)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PylossTypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    ok = not math.isnan(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        lo_s = "-inf" if lo is None else repr(lo)
        hi_s = "inf" if hi is None else repr(hi)
        rng = ("(" if lo_open or lo is None else "[") + f"{lo_s}, {hi_s}" + (")" if hi_open or hi is None else "]")
        raise PylossValueError(f"{name}: expected a value in {rng}, got {value!r}")
    return v


def opt_choice(name, value, choices):
    if value not in choices:
        raise PylossValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value
