"""pyloss: fused loss-and-gradient kernels for the CPU.

Every loss is a :class:`Loss` object::

    import pyloss as pl
    v = pl.huber(pred, target, delta=1.0)
    v, g = pl.huber.value_and_grad(pred, target)
    h = pl.huber.hessian(pred, target)

See ``pl.losses()`` for the registered names and ``pl.backends()`` for the
backends built here.
"""
from ._config import get_num_threads
from ._dispatch import backends, checking, set_num_threads
from ._errors import CheckError, PylossError, PylossMemoryError, PylossTypeError, PylossValueError
from ._loss import _REGISTRY, Loss, PylossNotImplementedError, get, losses
from . import _defs  # noqa: F401  (registers every loss)
from ._defs.classification import smooth_labels
from ._version import __version__
from ._warmup import warmup

# Every registered loss is a public name: pl.mse, pl.cross_entropy, ...
globals().update(_REGISTRY)

__all__ = [
    "Loss", "losses", "get", "backends", "checking", "set_num_threads", "get_num_threads",
    "PylossError", "PylossValueError", "PylossTypeError", "PylossNotImplementedError", "CheckError",
    "PylossMemoryError", "warmup",
] + list(_REGISTRY)


# Submodules reachable as attributes without an explicit import (pl.stream):
# they need nothing beyond NumPy.
_LAZY_MODULES = ("stream",)


def __getattr__(name):
    if name in _LAZY_MODULES:
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'pyloss' has no attribute {name!r}")
