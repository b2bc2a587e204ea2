"""pyloss: fused loss-and-gradient kernels for the CPU.

Every loss is a :class:`Loss` object::

    import pyloss as pl
    v = pl.huber(pred, target, delta=1.0)
    v, g = pl.huber.value_and_grad(pred, target)
    h = pl.huber.hessian(pred, target)

See ``pl.losses()`` for the registered names and ``pl.backends()`` for the
backends built here.
"""
from ._config import checking, get_num_threads, set_num_threads
from ._dispatch import backends
from ._errors import CheckError, PylossError, PylossTypeError, PylossValueError
from ._loss import Loss, PylossNotImplementedError, get, losses
from ._defs.regression import huber, log_cosh, mae, mse, quantile, smooth_l1

__version__ = "0.1.0"

__all__ = [
    "Loss", "losses", "get", "backends", "checking", "set_num_threads", "get_num_threads",
    "PylossError", "PylossValueError", "PylossTypeError", "PylossNotImplementedError", "CheckError",
    "mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile",
]
