"""Losses over Dask arrays: chunk-wise kernels and a tree reduction.

``import pyloss.dask`` (needs ``pip install "dask[distributed]"``, the
``pyloss[dask]`` extra); ``import pyloss`` never imports Dask.

Each row-block of the inputs (blocks along axis 0; the other axes of a block
are concatenated) is reduced by the loss's own kernel to ``(sum(w*l),
denominator)`` in float64 -- the same chunk rule as
:class:`pyloss.stream.Accumulator` -- and the per-block pairs are combined by a
tree reduction (``split_every`` wide) whose every node adds its children with
:func:`math.fsum` (correctly rounded).  The result is the in-memory value up to
float64 rounding of the grouping: equal for float32 results, about 1e-15
relative for float64 ones, and identical from run to run on any scheduler
(``dask.distributed`` included) because the tree is fixed by the chunks.

Examples
--------
>>> import dask.array as da, pyloss.dask as pld
>>> pred = da.arange(6, chunks=2).astype("float64")
>>> target = da.zeros(6, chunks=3)
>>> float(pld.loss("mse", pred, target).compute())      # (0+1+4+9+16+25)/6
9.166666666666666
>>> float(pld.mse(pred, target, reduction="sum").compute())
55.0
"""
import math

import dask.array as da
import numpy as np

from . import _dispatch as D
from ._errors import PylossTypeError, PylossValueError
from ._loss import get
from .stream import _check_reduction, _resolve, chunk_partials, finish, per_element_weight, streamable

__all__ = ["loss", "loss_none", "grad"] + list(streamable())


def _as_dask(x, name):
    if isinstance(x, da.Array):
        return x
    a = np.asarray(x)
    return da.from_array(a, chunks=a.shape or ())


def _block_partials(*blocks, loss=None, nin=0, opts=None, reduction="mean", backend="auto",
                    has_weight=False):
    arrays = blocks[:nin]
    loss = get(loss)            # by name: Loss objects hold unpicklable kernels
    o = dict(opts)
    if has_weight:
        o["weight"] = blocks[nin]
    total, denom = chunk_partials(loss, arrays, o, reduction, backend)
    return np.array([[total, denom]], dtype=np.float64)


def _fsum_rows(x, axis=None, keepdims=False, **kw):
    """Column-wise correctly rounded sum over axis 0 of an (m, 2) array."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    out = np.array([_fsum(x[:, 0]), _fsum(x[:, 1])], dtype=np.float64)
    return out.reshape(1, 2) if keepdims else out


def _fsum(col):
    finite = np.isfinite(col)
    if finite.all():
        return math.fsum(col.tolist())
    return float(np.sum(col[~finite])) + math.fsum(col[finite].tolist())


def _finish_block(x, reduction=None, dtype=None):
    x = np.asarray(x).reshape(-1)
    return np.asarray(finish(x[0], x[1], reduction, dtype))


def loss(name, *arrays, reduction="mean", weight=None, backend="auto", split_every=None, **opts):
    """The value of loss `name` over Dask (or NumPy) arrays, as a lazy 0-d Dask array.

    Parameters
    ----------
    name : str or pyloss.Loss
        A streamable loss (``pyloss.stream.streamable()``).
    *arrays : dask.array.Array or array_like
        The loss's positional inputs.  Samples run along axis 0: every input
        is rechunked to the first one's axis-0 chunks, and a block holds all
        of its other axes.
    reduction : {"mean", "sum"} (``kl_div`` also ``"batchmean"``)
        For ``"none"`` use :func:`loss_none`.
    weight : dask or NumPy array, optional
        Per-element weights of an elementwise loss (broadcast to the
        prediction's shape); for losses with per-class weights
        (``cross_entropy``) a small in-memory ``(C,)`` array.
    split_every : int, optional
        Fan-in of the tree reduction (Dask's default when None).
    **opts
        The loss's options.

    Returns
    -------
    dask.array.Array
        0-d, of the compute dtype; ``.compute()`` gives the NumPy scalar a
        single in-memory call would.
    """
    L = _resolve(name)
    reduction = _check_reduction(L, reduction)
    D.check_backend(backend)
    L._parse((None,) * len(L.inputs), dict(opts, **({} if weight is None else {"weight": None})))
    if len(arrays) != len(L.inputs):
        raise PylossTypeError(f"{L.name}() takes {len(L.inputs)} positional arrays "
                              f"({', '.join(L.inputs)}), got {len(arrays)}")
    xs = [_as_dask(a, n) for a, n in zip(arrays, L.inputs)]
    for a, n in zip(xs, L.inputs):
        if a.ndim == 0:
            raise PylossValueError(f"{n}: expected at least one axis (samples on axis 0), got a 0-d array")
    elementwise = per_element_weight(L)
    chunk_weight = weight is not None and elementwise
    if weight is not None and not elementwise:
        opts = dict(opts, weight=np.asarray(weight))
    if chunk_weight:
        w = _as_dask(weight, "weight")
        shape = xs[0].shape
        if np.broadcast_shapes(w.shape, shape) != shape:
            raise PylossValueError(f"weight: shape {w.shape} does not broadcast to the loss "
                                   f"shape {shape}")
        xs.append(da.broadcast_to(w, shape))
    rows = xs[0].chunks[0]
    args = []
    for k, a in enumerate(xs):
        if a.shape[0] != xs[0].shape[0]:
            raise PylossValueError(f"{(L.inputs + ('weight',))[k]}: {a.shape[0]} rows on axis 0 "
                                   f"do not match {L.inputs[0]}'s {xs[0].shape[0]}")
        a = a.rechunk({0: rows})
        args += [a, ("row",) + tuple(f"a{k}_{d}" for d in range(1, a.ndim))]
    dtype = D.compute_dtype(*(np.empty(0, a.dtype) for a in xs[:len(L.inputs)]
                              if np.dtype(a.dtype).kind == "f"))
    parts = da.blockwise(
        _block_partials, ("row", "pair"), *args,
        new_axes={"pair": 2}, adjust_chunks={"row": 1}, concatenate=True,
        dtype=np.float64, meta=np.empty((0, 0), np.float64),
        loss=L.name, nin=len(L.inputs), opts=opts, reduction=reduction, backend=backend,
        has_weight=chunk_weight)
    summed = da.reduction(parts, _fsum_rows, _fsum_rows, combine=_fsum_rows, axis=0,
                          keepdims=True, dtype=np.float64, split_every=split_every,
                          concatenate=True, meta=np.empty((0, 0), np.float64))
    return _finish(summed, reduction, dtype)


def _finish(summed, reduction, dtype):
    def fin(x):
        return _finish_block(x, reduction, dtype)
    return summed.map_blocks(fin, drop_axis=(0, 1), dtype=dtype, meta=np.empty((), dtype))


def _none_block(*blocks, loss=None, nin=0, opts=None, backend="auto", has_weight=False):
    o = dict(opts)
    if has_weight:
        o["weight"] = blocks[nin]
    return get(loss)(*blocks[:nin], reduction="none", backend=backend, **o)


def loss_none(name, pred, target, *, weight=None, backend="auto", **opts):
    """Per-element losses (``reduction="none"``) of an elementwise loss, lazily, chunk by chunk.

    The result has ``pred``'s shape and chunks; ``target`` (and ``weight``)
    are rechunked to match.
    """
    L = _resolve(name)
    if not per_element_weight(L):
        raise PylossValueError(f"loss: loss_none takes an elementwise loss, got {L.name!r}")
    L._parse((None, None), opts)
    p = _as_dask(pred, L.inputs[0])
    t = _as_dask(target, L.inputs[1])
    if t.shape != p.shape:
        raise PylossValueError(f"{L.inputs[1]}: shape {t.shape} does not match "
                               f"{L.inputs[0]} shape {p.shape}")
    xs = [p, t.rechunk(p.chunks)]
    if weight is not None:
        xs.append(da.broadcast_to(_as_dask(weight, "weight"), p.shape).rechunk(p.chunks))
    dt = D.compute_dtype(*(np.empty(0, a.dtype) for a in xs[:2] if np.dtype(a.dtype).kind == "f"))
    return da.map_blocks(_none_block, *xs, dtype=dt, meta=np.empty((0,) * p.ndim, dt),
                         loss=L.name, nin=2, opts=opts, backend=backend, has_weight=weight is not None)


def _grad_block(*blocks, loss=None, opts=None, backend="auto", has_weight=False):
    o = dict(opts)
    if has_weight:
        o["weight"] = blocks[2]
    denom = blocks[-1]
    g = get(loss).grad(blocks[0], blocks[1], reduction="sum", backend=backend, **o)
    if denom is None:
        return g
    with np.errstate(divide="ignore", invalid="ignore"):
        return (g / np.asarray(denom, np.float64)).astype(g.dtype)


def grad(name, pred, target, *, reduction="mean", weight=None, backend="auto", **opts):
    """Gradient of an elementwise loss w.r.t. ``pred``, lazily, with ``pred``'s chunks.

    For ``"mean"`` the blocks' ``reduction="sum"`` gradients are divided by
    the global denominator (weight sum or count, itself a lazy tree
    reduction), so the result equals the in-memory ``grad`` up to the
    rounding of that division (within a couple of ulps).  ``"sum"`` and
    ``"none"`` are the elementwise derivatives.
    """
    L = _resolve(name)
    if not per_element_weight(L):
        raise PylossValueError(f"loss: grad takes an elementwise loss, got {L.name!r}")
    reduction = D.check_reduction(reduction)
    L._parse((None, None), opts)
    p = _as_dask(pred, L.inputs[0])
    t = _as_dask(target, L.inputs[1])
    if t.shape != p.shape:
        raise PylossValueError(f"{L.inputs[1]}: shape {t.shape} does not match "
                               f"{L.inputs[0]} shape {p.shape}")
    xs = [p, t.rechunk(p.chunks)]
    if weight is not None:
        xs.append(da.broadcast_to(_as_dask(weight, "weight"), p.shape).rechunk(p.chunks))
    if reduction == "mean":
        w = weight if weight is not None else da.ones(p.shape, chunks=p.chunks, dtype=np.float64)
        denom = da.broadcast_to(_as_dask(w, "weight"), p.shape).astype(np.float64).sum()
    else:
        denom = None
    dt = D.grad_dtype(np.empty(0, p.dtype)) if np.dtype(p.dtype).kind == "f" else np.dtype(np.float64)
    return da.map_blocks(_grad_block, *xs, denom, dtype=dt, meta=np.empty((0,) * p.ndim, dt),
                         loss=L.name, opts=opts, backend=backend, has_weight=weight is not None)


def __getattr__(name):
    """``pyloss.dask.<loss>(*arrays, ...)`` is ``loss("<loss>", *arrays, ...)``."""
    if name in streamable():
        def f(*arrays, **kw):
            return loss(name, *arrays, **kw)
        f.__name__ = name
        f.__doc__ = f"``loss({name!r}, *arrays, ...)`` over Dask arrays (see :func:`loss`)."
        return f
    raise AttributeError(f"module 'pyloss.dask' has no attribute {name!r}")
