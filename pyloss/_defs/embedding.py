"""Loss definitions of the embedding family: triplet and contrastive.

Rows are samples and the last axis is the embedding: inputs of shape
``(..., D)`` give per-sample losses of shape ``(...)``.  C kernels
``pl_<name>_<f32|f64>`` (csrc/embedding_impl.h), Numba kernels in
``pyloss._numba.embedding`` and NumPy references in
``pyloss.reference.embedding``.
"""
import math

import numpy as np

from .. import _dispatch as D
from ._rows import Call, RowLoss, last_axis_input, opt_bool


def _numba():
    from .._numba import embedding
    return embedding


class _Triplet(RowLoss):
    def _bind(self, arrays, opts):
        names = self.inputs
        a, p, n = (last_axis_input(x, nm) for x, nm in zip(arrays, names))
        D.same_shape(a, p, names[0], names[1])
        D.same_shape(a, n, names[0], names[2])
        margin = D.opt_float("margin", opts["margin"], lo=0.0, lo_open=True)
        pw = D.opt_float("p", opts["p"], lo=0.0, lo_open=True)
        if not math.isfinite(pw):
            raise D.PylossValueError(f"p: expected a finite value in (0, inf), got {opts['p']!r}")
        eps = D.opt_float("eps", opts["eps"])
        swap = opt_bool("swap", opts["swap"])
        dt = D.compute_dtype(a, p, n)
        arrs = tuple(D.contiguous(x, dt) for x in (a, p, n))
        lead = a.shape[:-1]
        return Call(arrays=arrs, dtype=dt, shape=a.shape, lead=lead, nrows=int(np.prod(lead)),
                    dim=a.shape[-1], gshapes=(a.shape,) * 3,
                    gdtypes=tuple(D.grad_dtype(x) for x in (a, p, n)),
                    margin=margin, pw=pw, eps=eps, swap=swap, ref_arrays=arrs,
                    ref_params=dict(margin=margin, p=pw, eps=eps, swap=swap))

    def _run_c(self, c, scale, loss, grads, nthreads):
        from .. import _c
        g = grads or (None, None, None)
        return _c.kernel("triplet", c.dtype)(
            c.nrows, c.dim, *(_c.ptr(x) for x in c.arrays), c.margin, c.pw, c.eps, int(c.swap),
            scale, _c.ptr(loss), *(_c.ptr(x) for x in g), nthreads)

    def _run_numba(self, c, scale, loss, grads, nthreads):
        nb = _numba()
        return nb.triplet(c.nrows, c.dim, c.arrays, c.margin, c.pw, c.eps, c.swap, scale,
                          loss, grads, nthreads)


def _triplet_example(rng, n, dtype):
    rows = max(1, n // 128)
    return tuple(rng.standard_normal((rows, 128)).astype(dtype) for _ in range(3)), {}


triplet = _Triplet("triplet", "embedding", ("anchor", "positive", "negative"),
                   ("anchor", "positive", "negative"),
                   {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False}, """Triplet margin loss.

    ``l = max(d(a, p) - d(a, n) + margin, 0)`` with ``d(x, y) = ‖x - y + eps‖_p``
    over the last axis: PyTorch ``torch.nn.functional.triplet_margin_loss``
    exactly (note ``eps`` is *added to the difference*, not to the norm).
    With ``swap=True`` the negative distance is ``min(d(a, n), d(p, n))``
    (Balntas et al.'s distance swap); at an exact tie the gradient is split
    half and half, as torch's ``minimum`` does.

    Parameters
    ----------
    anchor, positive, negative : array_like, float16/32/64, shape ``(..., D)``
        Embeddings; rows are samples (1-D ``(D,)`` is one sample, as in torch).
    margin : float, > 0 (default 1.0)
        Required gap between the positive and the negative distance.
    p : float, > 0 and finite (default 2.0); p = 1 and p = 2 have fast paths.
        Order of the norm.
    eps : float (default 1e-6)
        Added to each difference before the norm, as PyTorch.
    swap : bool (default False)
        Use ``min(d(a, n), d(p, n))`` as the negative distance (distance swap).
    reduction : {"mean", "sum", "none"}
        ``mean`` averages over samples; ``none`` gives the leading shape.
    backend : {"auto", "c", "numba", "numpy"}
    out : tuple of three ndarrays, optional (``grad``, ``value_and_grad``)

    Returns
    -------
    The value; ``grad`` returns ``(g_anchor, g_positive, g_negative)``.

    Notes
    -----
    Sub-gradients (SPEC 3a): exactly at the hinge (``d(a,p) - d(a,n) + margin
    == 0``) the gradient is 0, where torch's ``clamp_min`` passes 1; at a zero
    distance the norm's gradient is 0 (no NaN).  For ``p`` other than 1 or 2,
    ``d‖x‖_p / dx_j = sign(x_j) (|x_j| / ‖x‖_p)^(p-1)``, taken as 0 at
    ``x_j = 0``.  Sums over the embedding are accumulated in float64.

    Examples
    --------
    >>> import pyloss as pl
    >>> a, p, n = [[0.0, 0.0]], [[3.0, 4.0]], [[1.0, 0.0]]
    >>> round(float(pl.triplet(a, p, n, eps=0.0)), 6)   # 5 - 1 + 1
    5.0

    References
    ----------
    Schroff, Kalenichenko, Philbin, "FaceNet", CVPR 2015.
    Balntas et al., "Learning local feature descriptors with triplets and
    shallow convolutional neural networks", BMVC 2016.
    """, hessian=False, example=_triplet_example)


class _Contrastive(RowLoss):
    def _bind(self, arrays, opts):
        x1 = last_axis_input(arrays[0], "x1")
        x2 = last_axis_input(arrays[1], "x2")
        D.same_shape(x1, x2, "x1", "x2")
        margin = D.opt_float("margin", opts["margin"], lo=0.0)
        sim = arrays[2]
        # SPEC 2: mixed float32/float64 inputs promote to float64, `similar` included
        dt = D.compute_dtype(x1, x2, sim if isinstance(sim, np.ndarray) else None)
        lead = x1.shape[:-1]
        s = D.broadcast_weight(sim, lead, dt, "similar")
        arrs = (D.contiguous(x1, dt), D.contiguous(x2, dt), s)
        return Call(arrays=arrs, dtype=dt, shape=x1.shape, lead=lead, nrows=int(np.prod(lead)),
                    dim=x1.shape[-1], gshapes=(x1.shape,) * 2,
                    gdtypes=(D.grad_dtype(x1), D.grad_dtype(x2)), margin=margin,
                    ref_arrays=arrs, ref_params=dict(margin=margin))

    def _run_c(self, c, scale, loss, grads, nthreads):
        from .. import _c
        g = grads or (None, None)
        return _c.kernel("contrastive", c.dtype)(
            c.nrows, c.dim, *(_c.ptr(x) for x in c.arrays), c.margin, scale, _c.ptr(loss),
            *(_c.ptr(x) for x in g), nthreads)

    def _run_numba(self, c, scale, loss, grads, nthreads):
        return _numba().contrastive(c.nrows, c.dim, c.arrays, c.margin, scale, loss, grads,
                                    nthreads)


def _contrastive_example(rng, n, dtype):
    rows = max(1, n // 128)
    x1 = rng.standard_normal((rows, 128)).astype(dtype)
    x2 = rng.standard_normal((rows, 128)).astype(dtype)
    return (x1, x2, (rng.random(rows) < 0.5).astype(dtype)), {"margin": 16.0}


contrastive = _Contrastive("contrastive", "embedding", ("x1", "x2", "similar"), ("x1", "x2"),
                           {"margin": 1.0}, """Contrastive (siamese) loss.

    ``l = s·d² + (1 - s)·max(0, margin - d)²`` with ``d = ‖x1 - x2‖₂`` over the
    last axis and ``s = similar`` (1 for similar pairs, 0 for dissimilar; any
    float in between mixes the two terms).  This is Hadsell, Chopra and
    LeCun's loss without the ½ factor (SPEC); halve it to compare with
    implementations that keep the ½.

    Parameters
    ----------
    x1, x2 : array_like, float16/32/64, shape ``(..., D)``
    similar : array_like, shape ``(...)`` (broadcast), bool/int/float
    margin : float, >= 0 (default 1.0)
        Dissimilar pairs are pushed at least this far apart.
    reduction : {"mean", "sum", "none"}
        ``mean`` averages over pairs; ``none`` gives the leading shape.
    backend : {"auto", "c", "numba", "numpy"}
    out : tuple of two ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_x1, g_x2)`` with ``g_x2 = -g_x1``.

    Notes
    -----
    At ``d = 0`` the hinge term's direction is undefined and its gradient is
    taken as 0 (SPEC 3a); exactly at ``d = margin`` the hinge gradient is 0.
    Sums over the embedding are accumulated in float64.

    Examples
    --------
    >>> import pyloss as pl
    >>> x1, x2 = [[0.0, 0.0], [0.0, 0.0]], [[3.0, 4.0], [0.3, 0.4]]
    >>> float(pl.contrastive(x1, x2, [1, 0], reduction="sum"))  # 25 + (1 - 0.5)**2
    25.25

    References
    ----------
    Hadsell, Chopra, LeCun, "Dimensionality reduction by learning an
    invariant mapping", CVPR 2006.
    """, hessian=False, example=_contrastive_example)

# ------------------------------------------------------------------ integration facts
# pyloss.torch drop-in (a per-sample grad_output lines up with the last axis)
# and streaming: "mean" is over the per-sample (row) losses.
triplet.declare(torch_functional=dict(function="triplet_margin_loss", module="TripletMarginLoss",
                                      options=(("margin", "margin", 1.0), ("p", "p", 2.0),
                                               ("eps", "eps", 1e-6), ("swap", "swap", False)),
                                      broadcast="last_axis"),
                stream_denominator="rows")
contrastive.declare(stream_denominator="rows")

# ------------------------------------------------------------------ bench facts
# The peers `pyloss bench` and the tests compare against (embedding_peers).
from . import embedding_peers as _peers  # noqa: E402

triplet.declare(peers=dict(formula=_peers.f_triplet, torch=_peers.torch_triplet))
contrastive.declare(peers=dict(formula=_peers.f_contrastive))
