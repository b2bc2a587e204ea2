"""Process-wide settings: thread count and checking mode.

A leaf module: it imports nothing from pyloss, so any module may read it
without an import circle.  The public setters that validate their arguments
and raise pyloss's exceptions (``pl.set_num_threads``, ``pl.checking``) live
in :mod:`pyloss._dispatch`; the backends get the thread count per call, as an
argument, and never read it from here.
"""
import contextvars
import os

_threads = [max(1, min(os.cpu_count() or 1, 64))]

# (rtol, atol) while checking is on, None otherwise.
_checking = contextvars.ContextVar("pyloss_checking", default=None)
_ENV_CHECK = os.environ.get("PYLOSS_CHECK", "") not in ("", "0")


def get_num_threads() -> int:
    """The number of threads the C and Numba backends may use."""
    return _threads[0]


def check_tolerances():
    """(rtol, atol) when checking mode is on, else None."""
    tol = _checking.get()
    if tol is None and _ENV_CHECK:
        return (float(os.environ.get("PYLOSS_CHECK_RTOL", "1e-4")),
                float(os.environ.get("PYLOSS_CHECK_ATOL", "1e-6")))
    return tol
