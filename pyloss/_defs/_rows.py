"""Machinery shared by the embedding and generative definitions.

:class:`RowLoss` is a loss over samples ("rows"): each sample's loss depends
on a slice of every input (an embedding row, a VAE sample), ``"none"`` gives
one value per sample, ``mean`` divides by the number of samples, and the
gradient is a tuple over several differentiable inputs.  A definition
subclasses it and provides

``_bind(arrays, opts) -> call``
    a :class:`Call` with ``arrays`` (C-contiguous, compute dtype, in kernel
    order), ``dtype``, ``shape`` (for messages), ``lead`` (the ``"none"``
    shape), ``nrows`` (the ``mean`` denominator), ``gshapes``/``gdtypes`` (one
    per differentiable input) and whatever its kernels need;
``_run_c / _run_numba / _run_numpy(call, scale, loss, grads, nthreads) -> total``
    run one backend: write per-sample losses into ``loss`` when it is not
    None, ``scale`` times the gradients of the per-sample sum into ``grads``
    (a list of arrays of the compute dtype, or None), and return the sum of
    the per-sample losses as a Python float.

``out=`` is validated before any kernel runs; a buffer that may share memory
with an input is computed into a temporary and copied at the end, so
aliasing gives the same answer as no ``out=`` (SPEC 3a).
"""
import numpy as np

from .. import _dispatch as D
from .._errors import PylossTypeError
from .._loss import Loss, mean_of, scalar_of


class Call:
    """Validated inputs of one call (attributes set by ``_bind``)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def nan_scale(n):
    """1/n for a mean over n samples; nan for n = 0 (every gradient is empty)."""
    return 1.0 / n if n else float("nan")


def outs_for(out, c, diff):
    """Validate ``out`` (an array for one differentiable input, a tuple of
    arrays -- or None entries -- for several) and return a list."""
    k = len(c.gshapes)
    if out is None:
        return [None] * k
    if k == 1:
        outs = [out]
    else:
        if not isinstance(out, (tuple, list)) or len(out) != k:
            raise PylossTypeError(
                f"out: expected a tuple of {k} arrays ({', '.join(diff)}), got {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
        outs = list(out)
    for o, shape, gdt, name in zip(outs, c.gshapes, c.gdtypes, diff):
        if o is not None:
            D.check_out(o, shape, gdt, f"out ({name})")
    return outs


class RowLoss(Loss):
    """A loss reduced over samples with a gradient per differentiable input."""

    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        scale = nan_scale(c.nrows) if reduction == "mean" else 1.0
        loss = np.empty(c.lead, dt) if reduction == "none" and op != "grad" else None
        grads = outs = None
        if op != "value":
            outs = outs_for(out, c, self.diff)
            grads = []
            for o, shape in zip(outs, c.gshapes):
                direct = (o is not None and o.dtype == dt
                          and not any(np.may_share_memory(o, a) for a in c.arrays))
                grads.append(o if direct else np.empty(shape, dt))
        run = {"c": self._run_c, "numba": self._run_numba, "numpy": self._run_numpy}[backend]
        from .._config import get_num_threads
        total = run(c, scale, loss, grads, get_num_threads())
        if reduction == "none":
            value = loss
        elif reduction == "sum":
            value = scalar_of(total, dt)
        else:
            value = mean_of(total, c.nrows, dt)
        if op == "value":
            return value
        res = []
        for g, o, gdt in zip(grads, outs, c.gdtypes):
            if o is not None:
                if g is not o:
                    o[...] = g
                g = o
            elif g.dtype != gdt:
                g = g.astype(gdt)
            res.append(g)
        res = res[0] if len(res) == 1 else tuple(res)
        return res if op == "grad" else (value, res)

    def _run_numpy(self, c, scale, loss, grads, nthreads):
        """The reference function ``reference.<family>.<name>`` as a backend."""
        import importlib
        fn = getattr(importlib.import_module(f"pyloss.reference.{self.family}"), self.name)
        with np.errstate(all="ignore"):
            l, g = fn(*c.ref_arrays, **c.ref_params)
            if loss is not None:
                loss[...] = l
            if grads is not None:
                for dst, src in zip(grads, g):
                    dst[...] = scale * src
            return float(np.sum(l))


def last_axis_input(x, name, *, ndim_min=1):
    """A float input with at least one axis (the last is the embedding)."""
    a = D.float_input(x, name)
    if a.ndim < ndim_min:
        raise D.PylossValueError(
            f"{name}: expected an array of shape (..., D) with at least {ndim_min} axis, "
            f"got shape {a.shape}")
    return a


def opt_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise PylossTypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)
