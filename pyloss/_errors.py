"""Exception classes.  Every error pyloss raises derives from PylossError."""


class PylossError(Exception):
    """Base class of every pyloss exception."""


class PylossValueError(PylossError, ValueError):
    """An argument has the right type but a bad value, shape or option."""


class PylossTypeError(PylossError, TypeError):
    """An argument has the wrong type or dtype."""


class CheckError(PylossError, AssertionError):
    """A backend disagreed with the NumPy reference in checking mode."""


class PylossMemoryError(PylossError, MemoryError):
    """A call would need more memory than the machine has (e.g. the N x N
    similarity matrix of a metric-learning loss); raised before allocating."""
