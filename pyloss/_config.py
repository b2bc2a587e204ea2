"""Process-wide settings: thread count and checking mode."""
import contextlib
import contextvars
import os

from ._errors import PylossValueError

_threads = [max(1, min(os.cpu_count() or 1, 64))]

# (rtol, atol) while checking is on, None otherwise.
_checking = contextvars.ContextVar("pyloss_checking", default=None)
_ENV_CHECK = os.environ.get("PYLOSS_CHECK", "") not in ("", "0")


def set_num_threads(n):
    """Set the number of threads the C and Numba backends may use.

    Results do not depend on it: every parallel kernel cuts its work into
    fixed-size blocks and combines the block partials in a fixed order.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise PylossValueError(f"set_num_threads: n must be an integer >= 1, got {n!r}")
    _threads[0] = n
    import sys
    if "numba" in sys.modules:  # numba is only imported by the numba backend
        from ._numba import _apply_threads
        _apply_threads(n)


def get_num_threads():
    """The number of threads the C and Numba backends may use."""
    return _threads[0]


def check_tolerances():
    """(rtol, atol) when checking mode is on, else None."""
    tol = _checking.get()
    if tol is None and _ENV_CHECK:
        return (float(os.environ.get("PYLOSS_CHECK_RTOL", "1e-4")),
                float(os.environ.get("PYLOSS_CHECK_ATOL", "1e-6")))
    return tol


@contextlib.contextmanager
def checking(rtol=1e-4, atol=1e-6):
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
    token = _checking.set((float(rtol), float(atol)))
    try:
        yield
    finally:
        _checking.reset(token)
