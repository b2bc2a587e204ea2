"""``pyloss bench``: time every registered loss against NumPy and installed peers.

Driven by the registry: every loss with an ``example(rng, n, dtype)`` hook is
benchmarked; losses without one are skipped.  The modules: ``cli`` (the
arguments and the run), ``timing`` (interleaved samples), ``floors`` (memory
bandwidth and exp/log cost), ``peers`` (PyTorch, JAX, scikit-learn, NumPy) and
``report`` (tables, header, ``--compare``, ``--plot``).
"""
from . import floors, peers, report, timing
from .cli import add_arguments, run

__all__ = ["add_arguments", "run", "floors", "peers", "report", "timing"]
