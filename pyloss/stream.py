"""Streaming evaluation: a loss over data that arrives in chunks.

:class:`Accumulator` takes chunks of (pred, target[, weight]) one at a time and
returns the value one call over the concatenation would return::

    acc = pl.stream.Accumulator("huber", delta=0.5)          # reduction="mean"
    for pred, target in batches:
        acc.update(pred, target)
    value = acc.result()

Supported reductions are ``"mean"`` (also weighted: ``sum(w*l) / sum(w)``) and
``"sum"``; ``"none"`` has nothing to accumulate.  Every elementwise loss is
streamable, and so is every loss that declares a ``stream_denominator`` fact
(the rule that gives the denominator of its ``mean`` for one chunk;
:data:`DENOMINATORS` lists the rule of each streamable loss).

Precision guarantee
-------------------
Each chunk is reduced by the loss's own kernel with ``reduction="sum"``
(float64 accumulation, fixed blocks combined pairwise) and its denominator
(weight sum or count) in float64.  The chunk partials are then combined
*exactly* (Shewchuk's error-free transformations, as :func:`math.fsum`): the
running total is the correctly rounded sum of the partials, whatever order the
chunks come in.  Hence

* the result is deterministic: the same chunks in any order give bit-identical
  values;
* compared with one call over the concatenation, the only difference is how
  the kernel's float64 block sums are grouped, a relative error of a few
  float64 ulps times ``log2(n)`` of ``sum(|w*l|) / |sum(w*l)|``.  A float32
  result (float32/float16 inputs) is therefore equal to the one-call value,
  at most one float32 ulp apart where the exact value sits on a rounding
  boundary; a float64 result agrees to about 1e-15 relative.
* counts (``mean`` without weights) are exact integers.

The same chunk rule drives :mod:`pyloss.dask`.
"""
import math

import numpy as np

from . import _dispatch as D
from ._errors import PylossTypeError, PylossValueError
from ._loss import ElementwiseLoss, get, losses

__all__ = ["Accumulator", "accumulate", "chunk_partials", "finish", "streamable", "per_element_weight",
           "DENOMINATORS", "PER_ELEMENT_WEIGHT"]


# ----------------------------------------------------------------- denominators
# Rules fn(loss, arrays, opts) -> float64 denominator of "mean" for one chunk,
# picked by the loss's ``stream_denominator`` fact (see _RULES).

def _rows(loss, arrays, opts):
    """mean over samples: the number of per-sample losses ("none" shape)."""
    return float(np.prod(np.shape(arrays[0])[:-1], dtype=np.float64))


def _class_targets(loss, arrays, opts):
    """Softmax losses: summed class weight of non-ignored targets,
    or the number of rows for probability targets (PyTorch's rule)."""
    logits = np.asarray(arrays[0])
    target = np.asarray(arrays[1])
    if target.dtype.kind == "f":                     # probability targets
        return float(logits.size // max(logits.shape[1], 1)) if logits.ndim > 1 else 1.0
    keep = target != opts.get("ignore_index", -100)
    w = opts.get("weight") if _weight_kind(loss) == "class" else None
    if w is None:
        return float(np.count_nonzero(keep))
    w = np.asarray(w, np.float64)
    return float(np.sum(w[np.where(keep, target, 0)][keep], dtype=np.float64))


def _batchmean(loss, arrays, opts):
    """The element count, or the batch size (first axis) for reduction="batchmean"."""
    if opts.get("_reduction") == "batchmean":
        shape = np.shape(arrays[0])
        return float(shape[0]) if shape else 1.0
    return float(np.size(arrays[0]))


def _per_element(loss, arrays, opts):
    """Elementwise rule: the weight sum (weights broadcast to the input's shape) or the count."""
    w = opts.get("weight")
    if w is None:
        return float(np.size(arrays[0]))
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), np.shape(arrays[0]))
    return float(np.sum(w, dtype=np.float64))


_RULES = {"element": _per_element, "class_targets": _class_targets, "rows": _rows,
          "batchmean": _batchmean}


def _weight_kind(loss):
    """What `loss`'s ``weight`` option weights ("element", "class", "sample"; None: no weight)."""
    if "weight" not in loss.options:
        return None
    return loss.weight_applies_to or ("element" if isinstance(loss, ElementwiseLoss) else None)


def per_element_weight(loss):
    """Whether `loss`'s ``weight`` option is per element (so it is chunked with the data)."""
    return _weight_kind(loss) == "element"


def _denominator_kind(loss):
    """The loss's ``stream_denominator`` fact (elementwise losses: "element"); None: not streamable."""
    return loss.stream_denominator or ("element" if isinstance(loss, ElementwiseLoss) else None)


def streamable():
    """Names of the registered losses :class:`Accumulator` and pyloss.dask accept."""
    return tuple(n for n in losses() if _denominator_kind(get(n)))


# Registered losses whose ``weight`` is per element (comes with each chunk), and
# name -> denominator rule for every streamable loss; both from the losses' facts.
PER_ELEMENT_WEIGHT = frozenset(n for n in losses() if per_element_weight(get(n)))
DENOMINATORS = {n: _RULES[_denominator_kind(get(n))] for n in streamable()}


def _resolve(name):
    if isinstance(name, str):
        loss = get(name)
    else:
        loss = name
        if getattr(loss, "name", None) not in losses():
            raise PylossTypeError(f"loss: expected a loss name or a pyloss Loss, got {type(name).__name__}")
    if not _denominator_kind(loss):
        raise PylossValueError(
            f"loss: {loss.name!r} cannot be accumulated chunk by chunk (its mean is not a "
            f"ratio of per-chunk sums); streamable losses are {streamable()}")
    return loss


def _check_reduction(loss, reduction):
    allowed = ("mean", "sum") + (("batchmean",) if _denominator_kind(loss) == "batchmean" else ())
    return D.check_reduction(reduction, allowed)


def chunk_partials(loss, arrays, opts, reduction="mean", backend="auto"):
    """``(sum, denominator)`` of one chunk, both float64.

    ``sum`` is the kernel's ``reduction="sum"`` value (``sum(w*l)``); the
    denominator is what ``mean`` divides that chunk's sum by (0.0 when
    ``reduction="sum"``, where it is not needed).
    """
    # Tensors (even ones that require grad) and lists become arrays once, without copies.
    arrays = tuple(D._asarray(a, n) for a, n in zip(arrays, loss.inputs))
    total = float(loss(*arrays, reduction="sum", backend=backend, **opts))
    if reduction == "sum":
        return total, 0.0
    rule = _RULES[_denominator_kind(loss) or "element"]
    return total, rule(loss, arrays, dict(opts, _reduction=reduction))


def _result_dtype(loss, arrays):
    arrays = [D._asarray(a, "input") for a in arrays]
    return D.compute_dtype(*(a for a in arrays if a.dtype.kind == "f"))


def finish(total, denom, reduction, dtype):
    """The loss value from the combined partials, as a scalar of dtype."""
    dtype = np.dtype(dtype)
    if reduction == "sum":
        return dtype.type(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return dtype.type(np.float64(total) / np.float64(denom))


class _ExactSum:
    """Correctly rounded running sum of floats (Shewchuk; what math.fsum keeps)."""

    __slots__ = ("partials", "special")

    def __init__(self):
        self.partials = []
        self.special = 0.0      # inf/nan: carried as IEEE arithmetic would

    def add(self, x):
        x = float(x)
        if not math.isfinite(x):
            self.special += x
            return
        out = []
        for y in self.partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                out.append(lo)
            x = hi
        out.append(x)
        self.partials = out

    def value(self):
        if self.special != 0.0 or math.isnan(self.special):
            return self.special + (math.fsum(self.partials) if self.partials else 0.0)
        return math.fsum(self.partials)


class Accumulator:
    """Evaluate a loss over chunks as if over their concatenation.

    Parameters
    ----------
    loss : str or pyloss.Loss
        A streamable loss (every elementwise loss, and those in
        :data:`DENOMINATORS`; see :func:`streamable`).
    reduction : {"mean", "sum"} (``kl_div`` also ``"batchmean"``)
    backend : {"auto", "c", "numba", "numpy"}
    **opts
        The loss's options (``delta=``, ``q=``, per-class ``weight=`` for
        ``cross_entropy`` ...).  A per-element ``weight`` comes with each chunk
        instead: ``update(pred, target, weight=w)``.

    Notes
    -----
    See the module docstring for the precision guarantee: chunk sums from the
    kernel, combined exactly; float32 results equal the one-call value (to one
    ulp at worst), float64 results agree to about 1e-15 relative.  The value
    of an accumulator that saw nothing is ``nan`` for ``mean`` and 0 for
    ``sum``, as a call on empty arrays.

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> from pyloss.stream import Accumulator
    >>> acc = Accumulator("mse")
    >>> acc.update([1.0, 2.0], [1.0, 3.0])
    >>> acc.update([4.0], [2.0])
    >>> float(acc.result())         # (0 + 1 + 4) / 3
    1.6666666666666667
    """

    def __init__(self, loss, *, reduction="mean", backend="auto", **opts):
        self.loss = _resolve(loss)
        self.reduction = _check_reduction(self.loss, reduction)
        self.backend = D.check_backend(backend)
        if "weight" in opts and per_element_weight(self.loss):
            raise PylossTypeError("weight: pass per-element weights with each chunk, "
                                  "update(pred, target, weight=w)")
        self.loss._parse((None,) * len(self.loss.inputs), opts)   # unknown options fail now
        self.opts = opts
        self._total = _ExactSum()
        self._denom = _ExactSum()
        self._dtype = None
        self.chunks = 0

    def update(self, *arrays, weight=None, **chunk_opts):
        """Add one chunk: the loss's positional arrays, and its per-element weights.

        ``chunk_opts`` override the constructor's options for this chunk only
        (array options that run along the data, e.g. a full-shape
        ``pos_weight``).
        """
        opts = dict(self.opts)
        opts.update(chunk_opts)
        if weight is not None:
            opts["weight"] = weight
        total, denom = chunk_partials(self.loss, arrays, opts, self.reduction, self.backend)
        dt = _result_dtype(self.loss, arrays)
        self._dtype = dt if self._dtype is None else np.promote_types(self._dtype, dt)
        self._total.add(total)
        self._denom.add(denom)
        self.chunks += 1

    def result(self):
        """The loss value over every chunk so far (a NumPy scalar)."""
        dt = self._dtype if self._dtype is not None else np.dtype(np.float64)
        return finish(self._total.value(), self._denom.value(), self.reduction, dt)

    def reset(self):
        """Forget every chunk."""
        self._total, self._denom, self._dtype, self.chunks = _ExactSum(), _ExactSum(), None, 0

    def __repr__(self):
        return (f"<pyloss Accumulator {self.loss.name} reduction={self.reduction!r} "
                f"chunks={self.chunks}>")


def accumulate(loss, chunks, *, reduction="mean", backend="auto", **opts):
    """The loss over an iterable of chunks, as one call over their concatenation.

    Each chunk is a tuple of the loss's positional arrays, optionally followed
    by that chunk's per-element weights.  Shorthand for an
    :class:`Accumulator` fed every chunk.

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> chunks = (([1.0, 2.0], [1.0, 3.0]), ([4.0], [2.0]))
    >>> float(pl.stream.accumulate("mse", chunks, reduction="sum"))
    5.0
    """
    acc = Accumulator(loss, reduction=reduction, backend=backend, **opts)
    n = len(acc.loss.inputs)
    for k, chunk in enumerate(chunks):
        chunk = tuple(chunk)
        if len(chunk) not in (n, n + 1):
            raise PylossValueError(
                f"chunks: chunk {k} has {len(chunk)} arrays; expected {n} "
                f"({', '.join(acc.loss.inputs)}) or {n + 1} with weights")
        acc.update(*chunk[:n], weight=chunk[n] if len(chunk) > n else None)
    return acc.result()
