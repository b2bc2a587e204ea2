"""cffi adapter: pointers from arrays, the C kernels by name.

The extension is optional: a build without a working C compiler still
installs, and ``lib`` is None with ``reason`` saying why.
"""
import os

import numpy as np

# PYLOSS_ISA: which per-CPU build of the kernels runs (csrc/build.py,
# "Per-CPU builds"): "best" (the default: the best this CPU runs), or one
# level by name ("baseline", the portable x86-64 body, for tests and for
# comparing the bodies).  A level this CPU or this build cannot run is an error.
ISA_NAMES = ("baseline", "x86-64-v3", "x86-64-v4")

try:
    from ._pyloss_c import ffi, lib
    reason = ""
    try:
        # "" for the per-CPU builds; else why this is one portable build
        note = ffi.string(lib.PL_BUILD_NOTE).decode()
    except AttributeError:  # an extension built before the note was recorded
        note = ""
except ImportError as exc:  # the optional C build failed or was skipped
    ffi = lib = None
    note = ""
    reason = f"the C extension is not built ({exc})"
    try:  # written by setup.py when the build failed at install time
        with open(os.path.join(os.path.dirname(__file__), "_c_build_failed.txt")) as f:
            reason = ("the C build failed at install time (" + f.read().strip()
                      + "); reinstall with PYLOSS_REQUIRE_C=1 to see the error")
    except OSError:
        pass


def _isa_from_env():
    want = os.environ.get("PYLOSS_ISA", "best").strip().lower() or "best"
    if want not in ("best",) + ISA_NAMES:
        raise ValueError(f"PYLOSS_ISA: expected one of {('best',) + ISA_NAMES}, got {want!r}")
    if lib is None or want == "best":
        return
    level = ISA_NAMES.index(want)
    if level >= len(isa_levels()):
        raise ValueError(f"PYLOSS_ISA: {want!r} asked for, but this build or CPU runs only "
                         f"{', '.join(isa_levels())}" + (f" ({note})" if note else ""))
    lib.pl_set_isa(level)


def isa_levels():
    """The per-CPU builds this build has and this CPU runs, by level
    (("baseline",) for a one-body build), or () without the C extension."""
    if lib is None:
        return ()
    return ISA_NAMES[:lib.pl_isa_max() + 1] if hasattr(lib, "pl_isa_max") else ISA_NAMES[:1]


def isa():
    """The per-CPU build of the kernels in use ("baseline", "x86-64-v3",
    "x86-64-v4"), or None without the C extension."""
    if lib is None:
        return None
    return ISA_NAMES[lib.pl_isa()] if hasattr(lib, "pl_isa") else "baseline"


_isa_from_env()

_CTYPE = {np.dtype(np.float32): "float[]", np.dtype(np.float64): "double[]",
          np.dtype(np.int64): "int64_t[]"}
_SFX = {np.dtype(np.float32): "_f32", np.dtype(np.float64): "_f64"}


def ptr(a):
    """A typed pointer to a C-contiguous array, or NULL for None.  No copy."""
    if a is None:
        return ffi.NULL
    # require_writable=False is the default; spelling it out costs ~0.3 us
    # per pointer (keyword parsing), which is most of a small call.
    return ffi.from_buffer(_CTYPE[a.dtype], a)


def kernel(name, dtype):
    """The C function pl_<name>_<f32|f64>."""
    return getattr(lib, "pl_" + name + _SFX[dtype])


def has_kernel(name):
    return lib is not None and all(hasattr(lib, "pl_" + name + s) for s in _SFX.values())


def elementwise(name, dtype):
    """Adapter with the common elementwise signature (see csrc/elementwise.h)."""
    fn = kernel(name, dtype)

    def run(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, nthreads):
        return fn(pred.size, ptr(pred), ptr(target), ptr(weight), ptr(aux), p0, p1, scale,
                  ptr(loss), ptr(grad), ptr(hess), nthreads)
    return run
