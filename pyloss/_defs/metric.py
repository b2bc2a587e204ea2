"""Loss definitions of the metric-learning family (SPEC 6.3).

``info_nce``, ``nt_xent``, ``supcon`` and ``batch_triplet`` are losses over a
whole batch: each needs an N x N similarity or distance matrix.  Every call
is

1. one matrix product through NumPy's BLAS (``z @ z.T``, as a GEMM) into one N x N
   buffer of the compute dtype;
2. one fused, row-parallel pass of a kernel (C ``csrc/metric_impl.h`` or
   Numba ``pyloss._numba.metric``) over that buffer: softmax row, masks,
   mining and hinge, writing each row's loss and overwriting the row with
   ``d loss / d matrix`` (the "row weights");
3. for a gradient, BLAS products of that weight matrix with the embeddings
   (``(W + Wᵀ) z`` as one product when the matrix is ``z zᵀ``: ``nt_xent``
   keeps each row's statistics in step 2 and then writes ``W + Wᵀ`` row by
   row, as ``S`` is symmetric; ``supcon`` symmetrises ``W`` in place by tiles;
   ``W k`` and ``Wᵀ q`` for ``q kᵀ``).

Each row is computed by one thread and the row losses are summed by NumPy's
pairwise sum in float64, so results are bit-identical for any thread count.
No N x N x D array exists at any point and at most two N x N buffers of the
compute dtype are alive at once (two only for ``info_nce(symmetric=True)``).
Before anything is allocated the call estimates the memory the matrices need
and raises :class:`pyloss.PylossMemoryError` when that exceeds the memory
available.  The ``numpy`` backend is the float64 reference
(``pyloss.reference.metric``), written independently of the kernels.

``margin_ranking`` and ``cosine_embedding`` are PyTorch's pairwise losses:
one fused pass per element or per row (C ``pl_metric_margin_rank`` /
``pl_metric_cosine_rows``, Numba ``margin_rank_*`` / ``cosine_rows_*``),
row sums in float64; the ``numpy`` backend is the float64 reference.
"""
from collections import namedtuple

import numpy as np

from .. import _dispatch as D
from .._errors import PylossMemoryError, PylossTypeError
from .._loss import Loss, mean_of, scalar_of
from ._rows import Call, opt_bool, outs_for

NORM_EPS = 1e-12


# ------------------------------------------------------------------ memory

def available_memory():
    """Bytes of memory a call may use: MemAvailable (Linux), else the
    physical memory, else None (unknown: no check)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def matrix_bytes(m, nbuf, dtype):
    """Bytes of the N x N buffers of one call (m rows, nbuf buffers)."""
    return int(nbuf) * int(m) * int(m) * np.dtype(dtype).itemsize


def check_matrix_memory(name, m, nbuf, dtype, rows=None):
    """Raise PylossMemoryError when the call's M x M buffers cannot fit
    (``rows``: the batch size when it differs from M, as nt_xent's 2N)."""
    need = matrix_bytes(m, nbuf, dtype)
    if need < (64 << 20):
        return
    avail = available_memory()
    if avail is not None and need > avail:
        raise PylossMemoryError(
            f"{name}: a batch of {m if rows is None else rows} rows needs {nbuf} x {m} x {m} "
            f"{np.dtype(dtype).name} "
            f"matrices = {need / 2**30:.3g} GiB ({need} bytes), more than the "
            f"{avail / 2**30:.3g} GiB available; use a smaller batch")


def _alloc_guard(name, fn, *args):
    """Run fn; a MemoryError from NumPy becomes a PylossMemoryError."""
    try:
        return fn(*args)
    except PylossMemoryError:
        raise
    except MemoryError as exc:
        raise PylossMemoryError(f"{name}: out of memory ({exc})") from exc


# ------------------------------------------------------------------ inputs

def matrix_input(x, name):
    a = D.float_input(x, name)
    if a.ndim != 2:
        raise D.PylossValueError(f"{name}: expected an array of shape (N, D), got shape {a.shape}")
    return a


def label_input(y, name, rows, rows_name):
    """One integer label per row of `rows` (the embeddings, named `rows_name`)."""
    n = rows.shape[0]
    a = D._asarray(y, name)
    if a.dtype.kind not in "iub":
        raise PylossTypeError(f"{name}: expected integer labels, got dtype {a.dtype}")
    if a.shape != (n,):
        raise D.PylossValueError(f"{name}: shape {a.shape} does not match the expected ({n},): "
                                 f"one label per row of {rows_name}, of shape {rows.shape}")
    # D.contiguous also copies unaligned labels (a misaligned int64* is UB in C)
    return D.contiguous(a, np.dtype(np.int64))


def opt_temperature(value):
    return D.opt_float("temperature", value, lo=0.0, lo_open=True)


def _normalize(x):
    """Rows scaled to unit norm (floor 1e-12, PyTorch F.normalize); norms
    accumulated in float64."""
    n = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))[:, None]
    d = np.maximum(n, NORM_EPS)
    return (x / d.astype(x.dtype)).astype(x.dtype, copy=False), (n, d)


def _normalize_back(gz, z, saved):
    """Gradient through ``z = x / max(‖x‖, 1e-12)``: ``(gz - z (z·gz)) / d``
    for rows above the floor, ``gz / d`` for the others (and NaN rows), in
    one output buffer (no N x D temporaries beyond it)."""
    n, d = saved
    dt = gz.dtype
    dot = np.einsum("ij,ij->i", z, gz, dtype=np.float64)[:, None]
    out = z * dot.astype(dt)
    np.subtract(gz, out, out=out)
    flat = ~(n[:, 0] > NORM_EPS)
    if flat.any():
        out[flat] = gz[flat]
    out /= d.astype(dt)
    return out


def _gram(a):
    """``a aᵀ`` as one plain GEMM.  NumPy sends ``a @ a.T`` (same buffer) to
    BLAS syrk and then mirrors the triangle with a strided loop, 3x the time of
    a GEMM against a transposed copy (8192 x 128 float32, 2 threads: 369 ms
    against 119 ms); the copy is O(N D)."""
    return a @ a.copy().T


def _sym_product(W, z, backend, nt):
    """``(W + Wᵀ) z`` as one BLAS product: ``W`` is made symmetric in place
    (a tiled kernel pass, bit-identical for any thread count), which halves
    the backward's BLAS work against ``W z + Wᵀ z``."""
    kernels(backend, W.dtype).symmetrize(W, nt)
    return W @ z


def _symmetric_grad(S, z, inv_t, pos_off, rowloss, backend, nt):
    """Row losses into rowloss and ``(W + Wᵀ) z`` for the softmax rows of
    ``S = z zᵀ``, ``z`` of unit (or zero) rows (diagonal excluded, positive at
    ``(i + pos_off) % M``): the rows' statistics in one sweep, then
    ``G = W + Wᵀ`` written over ``S`` row by row (no transposed sweep; one exp
    per entry while ``2 / τ`` is at most 64 in float32, 600 in float64), and
    one BLAS product ``G z``."""
    k = kernels(backend, S.dtype)
    st = k.statrows(S, inv_t, pos_off, True, 1.0, rowloss, nt)
    k.symgrad_rows(S, inv_t, pos_off, True, st, nt)
    return S @ z


# ------------------------------------------------------------------ kernels

def _c_kernels(dtype):
    from .. import _c
    p = _c.ptr
    sim, sup = _c.kernel("metric_simrows", dtype), _c.kernel("metric_supcon_rows", dtype)
    hard, ball = _c.kernel("metric_hard_mine", dtype), _c.kernel("metric_batch_all_rows", dtype)
    sym = _c.kernel("metric_symmetrize", dtype)
    stat, symg = _c.kernel("metric_statrows", dtype), _c.kernel("metric_symgrad_rows", dtype)

    def simrows(S, inv_t, pos_off, excl, rowloss, want, nt):
        sim(S.shape[0], S.shape[1], p(S), inv_t, pos_off, int(excl), p(rowloss), int(want), nt)

    def statrows(S, inv_t, pos_off, excl, bound, rowloss, nt):
        m = S.shape[0]
        st = [np.empty(m, dtype), np.empty(m, dtype), np.empty(m), np.empty(m, dtype),
              np.empty(m, dtype)]
        one = stat(m, S.shape[1], p(S), inv_t, pos_off, int(excl), bound, p(rowloss),
                   *[p(a) for a in st], nt)
        return st + [one]

    def symgrad_rows(S, inv_t, pos_off, excl, st, nt):
        symg(S.shape[0], S.shape[1], p(S), inv_t, pos_off, int(excl), *[p(a) for a in st[:5]],
             st[5], nt)

    def supcon_rows(S, labels, inv_t, rowloss, want, nt):
        sup(S.shape[0], p(S), p(labels), inv_t, p(rowloss), int(want), nt)

    def hard_mine(G, sqn, labels, squared, ap, an, nt):
        hard(G.shape[0], p(G), p(sqn), p(labels), int(squared), p(ap), p(an), nt)

    def batch_all_rows(G, sqn, labels, margin, squared, rowloss, rowcount, want, nt):
        if ball(G.shape[0], p(G), p(sqn), p(labels), margin, int(squared), p(rowloss),
                p(rowcount), int(want), nt):
            raise PylossMemoryError("batch_triplet: out of memory for the per-thread row buffers")

    def symmetrize(W, nt):
        sym(W.shape[0], p(W), nt)

    rank, cosr = _c.kernel("metric_margin_rank", dtype), _c.kernel("metric_cosine_rows", dtype)

    def margin_rank(x1, x2, y, margin, rowloss, g1, g2, nt):
        rank(x1.size, p(x1), p(x2), p(y), margin, p(rowloss), p(g1), p(g2), nt)

    def cosine_rows(x1, x2, y, margin, rowloss, g1, g2, nt):
        cosr(x1.shape[0], x1.shape[1], p(x1), p(x2), p(y), margin, p(rowloss), p(g1), p(g2), nt)
    return _Kernels(simrows, supcon_rows, hard_mine, batch_all_rows, symmetrize, margin_rank,
                    cosine_rows, statrows, symgrad_rows)


def _numba_kernels(dtype):
    from .._numba import metric as nb
    from .._numba import pick as pick_kernel

    def pick(fn, m, nt):
        return pick_kernel(getattr(nb, fn + "_ser"), getattr(nb, fn + "_par"), m * m, nt)

    def simrows(S, inv_t, pos_off, excl, rowloss, want, nt):
        pick("simrows", S.shape[0], nt)(S, inv_t, pos_off, excl, rowloss, want)

    def statrows(S, inv_t, pos_off, excl, bound, rowloss, nt):
        # (mr, f, q, u, w) as the C kernel has them: q in double, the rest in S's dtype
        m = S.shape[0]
        st = [np.empty(m, S.dtype), np.empty(m, S.dtype), np.empty(m), np.empty(m, S.dtype),
              np.empty(m, S.dtype)]
        pick("statrows", S.shape[0], nt)(S, inv_t, pos_off, excl, rowloss, *st[:3])
        return st + [nb.symgrad_factors(st[0], st[1], st[3], st[4], inv_t, bound)]

    def symgrad_rows(S, inv_t, pos_off, excl, st, nt):
        pick("symgrad_rows", S.shape[0], nt)(S, inv_t, pos_off, excl, *st)

    def supcon_rows(S, labels, inv_t, rowloss, want, nt):
        pick("supcon_rows", S.shape[0], nt)(S, labels, inv_t, rowloss, want)

    def hard_mine(G, sqn, labels, squared, ap, an, nt):
        pick("hard_mine", G.shape[0], nt)(G, sqn, labels, squared, ap, an)

    def batch_all_rows(G, sqn, labels, margin, squared, rowloss, rowcount, want, nt):
        pick("batch_all_rows", G.shape[0], nt)(G, sqn, labels, margin, squared, rowloss,
                                               rowcount, want)

    def symmetrize(W, nt):
        pick("symmetrize", W.shape[0], nt)(W)

    def margin_rank(x1, x2, y, margin, rowloss, g1, g2, nt):
        want = g1 is not None
        if not want:
            g1 = g2 = np.empty(0, x1.dtype)
        fn = pick_kernel(nb.margin_rank_ser, nb.margin_rank_par, x1.size, nt)
        fn(x1.reshape(-1), x2.reshape(-1), y.reshape(-1), x1.dtype.type(margin), rowloss,
           g1.reshape(-1), g2.reshape(-1), want)

    def cosine_rows(x1, x2, y, margin, rowloss, g1, g2, nt):
        want = g1 is not None
        n = x1.shape[0]
        if not want:
            g1 = g2 = np.empty((0, 0), x1.dtype)
        coef = np.empty((n if want else 0, 3), x1.dtype)
        fn = pick_kernel(nb.cosine_rows_ser, nb.cosine_rows_par, x1.size, nt)
        fn(x1, x2, y, margin, rowloss, g1, g2, coef, want)
    return _Kernels(simrows, supcon_rows, hard_mine, batch_all_rows, symmetrize, margin_rank,
                    cosine_rows, statrows, symgrad_rows)


_KERNELS = {}
_Kernels = namedtuple("_Kernels", "simrows supcon_rows hard_mine batch_all_rows symmetrize "
                                  "margin_rank cosine_rows statrows symgrad_rows")


def kernels(backend, dtype):
    key = (backend, dtype)
    if key not in _KERNELS:
        _KERNELS[key] = (_c_kernels if backend == "c" else _numba_kernels)(dtype)
    return _KERNELS[key]


# ------------------------------------------------------------------ the template

class MetricLoss(Loss):
    """A batch-level metric-learning loss: per-sample losses, a ``mean``
    denominator that may depend on the data (anchors with a positive, active
    triplets) and a gradient for every embedding input.

    A definition provides ``_bind`` (a :class:`Call` with ``arrays``,
    ``dtype``, ``shape``, ``lead`` (the ``"none"`` shape), ``nrows``,
    ``gshapes``, ``gdtypes``, ``ref_arrays``, ``ref_params``) and
    ``_drive(call, backend, want_grad, nthreads) -> (row_losses_f64, count,
    grads_of_sum)``.  ``empty_zero``: a mean with nothing to count is 0 with
    a zero gradient (the mining losses), else nan (the mean of nothing).
    """

    def __init__(self, *args, empty_zero=False, label_inputs=(), **kw):
        super().__init__(*args, hessian=False, **kw)
        self.empty_zero = empty_zero
        #: integer inputs that are labels compared for equality (any value,
        #: any integer dtype), not class indices with a range
        self.label_inputs = tuple(label_inputs)

    def work_bytes(self, *arrays, **opts):
        """Bytes one call may allocate besides its inputs and outputs: the
        N x N buffers (``matrix_bytes``) plus O(N D) row data (normalised
        rows, BLAS results, the gradients before casting)."""
        c = self._bind(arrays, self._parse(arrays, opts))
        nbuf, m = c.matrix
        rows = sum(int(np.prod(s)) for s in c.gshapes)
        return matrix_bytes(m, nbuf, c.dtype) + 16 * rows * c.dtype.itemsize + 64 * max(m, 1)

    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        want = op != "value"
        outs = outs_for(out, c, self.diff) if want else None
        if c.nrows == 0:
            rl, count = np.zeros(c.lead), 0
            grads = [np.zeros(s, dt) for s in c.gshapes] if want else None
        elif backend == "numpy":
            import importlib
            fn = getattr(importlib.import_module(f"pyloss.reference.{self.family}"), self.name)
            with np.errstate(all="ignore"):
                rl, count, grads = fn(*c.ref_arrays, **c.ref_params)
            rl = np.asarray(rl, np.float64).reshape(c.lead)
        else:
            from .._config import get_num_threads
            with np.errstate(all="ignore"):   # NaN/Inf inputs propagate silently (SPEC 2)
                rl, count, grads = _alloc_guard(self.name, self._drive, c, backend, want,
                                                get_num_threads())
        with np.errstate(all="ignore"):
            total = float(np.sum(rl))
        if reduction == "none":
            with np.errstate(over="ignore"):
                value = rl.astype(dt)
        elif reduction == "sum":
            value = scalar_of(total, dt)
        elif count == 0 and self.empty_zero:
            value = dt.type(0.0)
        else:
            value = mean_of(total, count, dt)
        if not want:
            return value
        scale = None
        if reduction == "mean":
            scale = (0.0 if self.empty_zero else np.nan) if count == 0 else 1.0 / count
        res = []
        for g, o, gdt, shape in zip(grads, outs, c.gdtypes, c.gshapes):
            g = np.asarray(g).reshape(shape)
            if scale is not None:
                # the kernels' gradients are fresh buffers of this call
                # (disjoint views at most): scaled in place, no copy of an
                # N x D array; the reference's are scaled into new ones
                with np.errstate(all="ignore"):
                    if backend == "numpy":
                        g = g * g.dtype.type(scale)
                    else:
                        g *= g.dtype.type(scale)
            if o is not None:
                o[...] = g
                g = o
            elif g.dtype != gdt:
                g = g.astype(gdt)
            res.append(g)
        res = res[0] if len(res) == 1 else tuple(res)
        return res if op == "grad" else (value, res)


# ------------------------------------------------------------------ info_nce

class _InfoNCE(MetricLoss):
    def _bind(self, arrays, opts):
        q = matrix_input(arrays[0], "query")
        k = matrix_input(arrays[1], "key")
        D.same_shape(q, k, "query", "key")
        t = opt_temperature(opts["temperature"])
        norm = opt_bool("normalize", opts["normalize"])
        sym = opt_bool("symmetric", opts["symmetric"])
        dt = D.compute_dtype(q, k)
        n = q.shape[0]
        check_matrix_memory(self.name, n, 2 if sym else 1, dt)
        arrs = (D.contiguous(q, dt), D.contiguous(k, dt))
        return Call(arrays=arrs, dtype=dt, shape=q.shape, lead=(n,), nrows=n,
                    gshapes=(q.shape, k.shape), gdtypes=(D.grad_dtype(q), D.grad_dtype(k)),
                    matrix=(2 if sym else 1, n), temperature=t, normalize=norm, symmetric=sym, ref_arrays=arrs,
                    ref_params=dict(temperature=t, normalize_=norm, symmetric=sym))

    def _drive(self, c, backend, want, nt):
        simrows = kernels(backend, c.dtype).simrows
        q, k = c.arrays
        n = q.shape[0]
        if c.normalize:
            zq, sq = _normalize(q)
            zk, sk = _normalize(k)
        else:
            zq, zk = q, k
        inv_t = 1.0 / c.temperature
        S = zq @ zk.T                                    # BLAS: buffer 1
        rl = np.empty(n)
        St = S.T.copy(order="C") if c.symmetric else None      # buffer 2 (a copy even at N = 1)
        simrows(S, inv_t, 0, False, rl, want, nt)
        if c.symmetric:
            rl2 = np.empty(n)
            simrows(St, inv_t, 0, False, rl2, want, nt)
            rl = 0.5 * (rl + rl2)
        if not want:
            return rl, n, None
        if c.symmetric:
            np.add(S, St.T, out=S)
            del St
            S *= S.dtype.type(0.5)
        gq = S @ zk                                      # BLAS
        gk = S.T @ zq                                    # BLAS (transposed view)
        if c.normalize:
            gq, gk = _normalize_back(gq, zq, sq), _normalize_back(gk, zk, sk)
        return rl, n, [gq, gk]


def _pair_example(rng, n, dtype):
    rows = max(2, min(4096, n // 128))
    return tuple(rng.standard_normal((rows, 128)).astype(dtype) for _ in range(2)), {}


_MEMORY = """
    Memory per call: with ``M`` the rows of the matrix and ``b`` the bytes of
    the compute dtype, {mem}, plus O(M D) for the normalised rows and the
    gradients (at N = 4096 in float32: {ex}).  A batch whose matrices do not
    fit in the available memory raises :class:`pyloss.PylossMemoryError`
    (a ``MemoryError``) naming the size, before anything is allocated."""

info_nce = _InfoNCE("info_nce", "metric", ("query", "key"), ("query", "key"),
                    {"temperature": 0.1, "normalize": True, "symmetric": False}, """InfoNCE
    (contrastive predictive coding; CLIP with ``symmetric=True``).

    Row ``i`` of ``key`` is the positive of row ``i`` of ``query``; every
    other row of ``key`` is a negative::

        S = q kᵀ / τ        (q, k normalised rows when normalize=True)
        l_i = -log softmax(S_i)_i = logsumexp_j S_ij - S_ii

    With ``symmetric=True`` ``l_i`` is the average of that term and the same
    term of ``Sᵀ`` (key ``i`` classifying the queries), as CLIP's loss.

    Parameters
    ----------
    query, key : array_like, float16/32/64, shape ``(N, D)``
        Paired embeddings; row ``i`` of each is one positive pair.
    temperature : float, > 0 (default 0.1)
        ``τ``; the log-sum-exp is stable for any ``τ`` (``1/τ = 1e4`` included).
    normalize : bool (default True)
        Normalise every row first, ``x / max(‖x‖₂, 1e-12)`` (``F.normalize``),
        so ``S`` holds cosine similarities.  A zero row stays zero (no NaN).
    symmetric : bool (default False)
        Average with the key-to-query term (CLIP).
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` gives ``(N,)``; ``mean`` divides by ``N``.
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
    out : tuple of two ndarrays, optional
        Gradient buffers for ``(query, key)`` (``grad``, ``value_and_grad``).

    Returns
    -------
    The value; ``grad`` returns ``(g_query, g_key)``.

    Notes
    -----
    Equals ``F.cross_entropy(q @ k.T / τ, arange(N))`` written with PyTorch
    (on normalised rows when ``normalize=True``); with ``symmetric=True``
    the mean of that and the same over ``(q @ k.T).T``.  Computed as one BLAS
    product, one fused softmax pass per row (C/Numba), and the gradient as
    two BLAS products with the fused row weights.
""" + _MEMORY.format(mem="one M x M buffer (two with ``symmetric``): ``M² b`` (``2 M² b``), M = N",
                     ex="64 MiB, 128 MiB symmetric") + """

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> q = np.eye(3)
    >>> round(float(pl.info_nce(q, q, temperature=1.0)), 6)   # log(e + 2) - 1
    0.551445

    References
    ----------
    van den Oord, Li, Vinyals, "Representation learning with contrastive
    predictive coding", 2018.  Radford et al., "Learning transferable visual
    models from natural language supervision" (CLIP), ICML 2021.
    """, example=_pair_example)


# ------------------------------------------------------------------ nt_xent

class _NTXent(MetricLoss):
    def _bind(self, arrays, opts):
        a = matrix_input(arrays[0], "z1")
        b = matrix_input(arrays[1], "z2")
        D.same_shape(a, b, "z1", "z2")
        t = opt_temperature(opts["temperature"])
        dt = D.compute_dtype(a, b)
        n = a.shape[0]
        check_matrix_memory(self.name, 2 * n, 1, dt, rows=n)
        arrs = (D.contiguous(a, dt), D.contiguous(b, dt))
        return Call(arrays=arrs, dtype=dt, shape=a.shape, lead=(2 * n,), nrows=2 * n,
                    gshapes=(a.shape, b.shape), gdtypes=(D.grad_dtype(a), D.grad_dtype(b)),
                    matrix=(1, 2 * n), temperature=t, ref_arrays=arrs, ref_params=dict(temperature=t))

    def _drive(self, c, backend, want, nt):
        simrows = kernels(backend, c.dtype).simrows
        a, b = c.arrays
        n = a.shape[0]
        z, sz = _normalize(np.concatenate([a, b], axis=0))
        S = _gram(z)                                     # BLAS: the one buffer
        rl = np.empty(2 * n)
        if not want:
            simrows(S, 1.0 / c.temperature, n, True, rl, False, nt)
            return rl, 2 * n, None
        gz = _symmetric_grad(S, z, 1.0 / c.temperature, n, rl, backend, nt)
        gz = _normalize_back(gz, z, sz)
        return rl, 2 * n, [gz[:n], gz[n:]]


nt_xent = _NTXent("nt_xent", "metric", ("z1", "z2"), ("z1", "z2"), {"temperature": 0.5},
                  """NT-Xent, SimCLR's normalised temperature-scaled cross-entropy.

    The ``2N`` rows ``z = normalize([z1; z2])`` are the two views of ``N``
    samples; the positive of row ``i`` is the other view of its sample, and
    every other row except itself is a negative::

        S = z zᵀ / τ,   l_i = logsumexp_{j≠i} S_ij - S_{i, i±N}

    Parameters
    ----------
    z1, z2 : array_like, float16/32/64, shape ``(N, D)``
        The two views' embeddings; row ``i`` of each comes from sample ``i``.
        Rows are normalised, ``x / max(‖x‖₂, 1e-12)``.
    temperature : float, > 0 (default 0.5)
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` gives ``(2N,)`` (rows of ``z1`` first); ``mean`` divides by
        ``2N``.
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
    out : tuple of two ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_z1, g_z2)``.

    Notes
    -----
    pytorch-metric-learning: equals ``NTXentLoss(temperature=τ)`` called on
    ``embeddings = [z1; z2]`` with ``labels = [0..N-1, 0..N-1]`` (its
    default reducer averages over the ``2N`` positive pairs, which is this
    ``mean``).  Conventions differ when a batch holds several views of one
    label beyond the pair: pml then counts every same-label row as a
    positive (one term each), this loss only the other view.
""" + _MEMORY.format(mem="one M x M buffer, ``M² b`` with M = 2N",
                     ex="256 MiB for the 8192 x 8192 matrix") + """

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> z = np.eye(2)
    >>> round(float(pl.nt_xent(z, z, temperature=1.0)), 6)  # every row: log(e + 2) - 1
    0.551445

    References
    ----------
    Chen, Kornblith, Norouzi, Hinton, "A simple framework for contrastive
    learning of visual representations" (SimCLR), ICML 2020.
    """, example=_pair_example)


# ------------------------------------------------------------------ supcon

class _SupCon(MetricLoss):
    def _bind(self, arrays, opts):
        x = matrix_input(arrays[0], "features")
        n = x.shape[0]
        y = label_input(arrays[1], "labels", x, "features")
        t = opt_temperature(opts["temperature"])
        dt = D.compute_dtype(x)
        check_matrix_memory(self.name, n, 1, dt)
        arrs = (D.contiguous(x, dt),)
        return Call(arrays=arrs, labels=y, dtype=dt, shape=x.shape, lead=(n,), nrows=n,
                    gshapes=(x.shape,), gdtypes=(D.grad_dtype(x),), temperature=t, matrix=(1, n),
                    ref_arrays=(arrs[0], y), ref_params=dict(temperature=t))

    def _drive(self, c, backend, want, nt):
        supcon_rows = kernels(backend, c.dtype).supcon_rows
        (x,), y = c.arrays, c.labels
        n = x.shape[0]
        _, inv, cnt = np.unique(y, return_inverse=True, return_counts=True)
        count = int(np.sum(cnt[inv] > 1))                # anchors with a positive
        z, sz = _normalize(x)
        S = _gram(z)                                     # BLAS: the one buffer
        rl = np.empty(n)
        supcon_rows(S, y, 1.0 / c.temperature, rl, want, nt)
        if not want:
            return rl, count, None
        gz = _sym_product(S, z, backend, nt)
        return rl, count, [_normalize_back(gz, z, sz)]


def _labels_example(rng, n, dtype):
    rows = max(2, min(4096, n // 128))
    x = rng.standard_normal((rows, 128)).astype(dtype)
    return (x, rng.integers(0, max(2, rows // 8), rows)), {}


supcon = _SupCon("supcon", "metric", ("features", "labels"), ("features",),
                 {"temperature": 0.1}, """Supervised contrastive loss (Khosla et al., "L_out").

    With ``S = z zᵀ / τ`` over the normalised rows ``z``, an anchor ``i``,
    its positives ``P(i) = {p ≠ i : y_p = y_i}`` and every other row as the
    denominator::

        l_i = -(1/|P(i)|) Σ_{p∈P(i)} log( e^{S_ip} / Σ_{a≠i} e^{S_ia} )

    Parameters
    ----------
    features : array_like, float16/32/64, shape ``(N, D)``
        Rows are normalised, ``x / max(‖x‖₂, 1e-12)``.
    labels : array_like of int, shape ``(N,)``
        Class of each row, any integer dtype (or bool).  Multi-view batches
        (SupCon's ``[bsz, n_views, D]``) are passed flattened, with each
        view carrying its sample's label.
    temperature : float, > 0 (default 0.1)
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` gives ``(N,)`` with 0 for anchors without a positive;
        ``mean`` averages over the anchors that have one.  With no such
        anchor (all labels distinct, N = 1) the loss is 0 with a zero
        gradient in every reduction (SPEC 6.3, as pytorch-metric-learning).
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
    out : ndarray, optional

    Returns
    -------
    The value; ``grad`` returns ``g_features``.

    Notes
    -----
    pytorch-metric-learning: equals ``SupConLoss(temperature=τ)`` (its
    cosine similarity on normalised rows, denominator over every other row,
    mean over the anchors with a non-zero loss).  It differs only where an
    anchor with positives has a loss of exactly 0 (pml's
    ``AvgNonZeroReducer`` leaves it out of the mean, this loss counts it).
    The original SupCon code multiplies by ``τ / base_temperature``; with
    ``base_temperature = τ`` (the common choice) that factor is 1.
""" + _MEMORY.format(mem="one M x M buffer, ``M² b``, M = N", ex="64 MiB") + """

    Examples
    --------
    >>> import numpy as np, pyloss as pl
    >>> x = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    >>> round(float(pl.supcon(x, [0, 0, 1], temperature=1.0)), 6)  # log(e + 1) - 1
    0.313262

    References
    ----------
    Khosla et al., "Supervised contrastive learning", NeurIPS 2020.
    """, example=_labels_example, empty_zero=True, label_inputs=("labels",))


# ------------------------------------------------------------------ batch_triplet

MININGS = ("batch_hard", "batch_all")


class _BatchTriplet(MetricLoss):
    def _bind(self, arrays, opts):
        x = matrix_input(arrays[0], "embeddings")
        n = x.shape[0]
        y = label_input(arrays[1], "labels", x, "embeddings")
        margin = D.opt_float("margin", opts["margin"], lo=0.0)
        mining = D.opt_choice("mining", opts["mining"], MININGS)
        squared = opt_bool("squared", opts["squared"])
        dt = D.compute_dtype(x)
        check_matrix_memory(self.name, n, 1, dt)
        arrs = (D.contiguous(x, dt),)
        return Call(arrays=arrs, labels=y, dtype=dt, shape=x.shape, lead=(n,), nrows=n,
                    gshapes=(x.shape,), gdtypes=(D.grad_dtype(x),), margin=margin, matrix=(1, n),
                    mining=mining, squared=squared, ref_arrays=(arrs[0], y),
                    ref_params=dict(margin=margin, mining=mining, squared=squared))

    def _drive(self, c, backend, want, nt):
        k = kernels(backend, c.dtype)
        hard_mine, batch_all_rows = k.hard_mine, k.batch_all_rows
        (x,), y = c.arrays, c.labels
        n = x.shape[0]
        G = _gram(x)                                     # BLAS: the one buffer
        sqn = np.ascontiguousarray(np.diagonal(G))      # ‖x_i‖² consistent with G's rounding
        if not np.isfinite(sqn).all():
            # NaN/Inf rows, or norms that overflow the dtype: the Gram identity
            # would turn them into inf - inf; the reference's exact differences
            # propagate them as IEEE arithmetic does (O(N D) memory per row).
            del G
            from ..reference.metric import batch_triplet as ref
            rl, count, (g,) = ref(x, y, margin=c.margin, mining=c.mining, squared=c.squared)
            return rl, count, [g.astype(x.dtype)]
        if c.mining == "batch_hard":
            ap = np.empty(n, np.int64)
            an = np.empty(n, np.int64)
            hard_mine(G, sqn, y, c.squared, ap, an, nt)
            del G
            return self._hard_finish(x, ap, an, c, want)
        rl = np.empty(n)
        rc = np.empty(n)
        batch_all_rows(G, sqn, y, c.margin, c.squared, rl, rc, want, nt)
        count = int(np.sum(rc))
        if not want:
            return rl, count, None
        # G now holds C = d loss / d(d²_ij); d²_ij = ‖x_i‖² + ‖x_j‖² - 2 x_i·x_j
        w = np.sum(G, axis=1, dtype=np.float64) + np.sum(G, axis=0, dtype=np.float64)
        g = x * (2.0 * w).astype(x.dtype)[:, None]
        g -= 2 * _sym_product(G, x, backend, nt)
        return rl, count, [g]

    @staticmethod
    def _hard_finish(x, ap, an, c, want):
        """Value and gradient of the mined triplets from exact differences
        (O(N D)): d(a, p) of duplicated rows is exactly 0."""
        n = x.shape[0]
        valid = ap >= 0
        idx = np.flatnonzero(valid)
        rl = np.zeros(n)
        count = int(idx.size)
        up = (x[idx] - x[ap[idx]]).astype(np.float64)
        un = (x[idx] - x[an[idx]]).astype(np.float64)
        dp2, dn2 = np.sum(up * up, axis=1), np.sum(un * un, axis=1)
        dp, dn = (dp2, dn2) if c.squared else (np.sqrt(dp2), np.sqrt(dn2))
        h = (dp + c.margin) - dn
        act = h > 0                                      # 0 exactly at the hinge (SPEC 3a)
        rl[idx] = np.where(act, h, 0.0)
        if not want:
            return rl, count, None
        g = np.zeros(x.shape, np.float64)
        if c.squared:
            fp, fn = 2.0 * up, 2.0 * un
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                fp = np.where(dp[:, None] > 0, up / np.where(dp > 0, dp, 1.0)[:, None], 0.0)
                fn = np.where(dn[:, None] > 0, un / np.where(dn > 0, dn, 1.0)[:, None], 0.0)
        a = act[:, None]
        fp, fn = np.where(a, fp, 0.0), np.where(a, fn, 0.0)
        g[idx] += fp - fn
        np.add.at(g, ap[idx], -fp)
        np.add.at(g, an[idx], fn)
        return rl, count, [g.astype(x.dtype)]


batch_triplet = _BatchTriplet(
    "batch_triplet", "metric", ("embeddings", "labels"), ("embeddings",),
    {"margin": 1.0, "mining": "batch_hard", "squared": False},
    """Triplet loss with the triplets mined inside the batch.

    Distances are Euclidean, ``d_ij = ‖x_i − x_j‖₂`` (``squared=True``:
    ``d_ij²``); a valid triplet ``(a, p, n)`` has ``a ≠ p``, ``y_a = y_p`` and
    ``y_n ≠ y_a``.

    * ``"batch_hard"`` (Hermans et al.): per anchor with a positive and a
      negative, ``l_a = max(max_p d_ap − min_n d_an + margin, 0)``; ``mean``
      over those anchors.  Ties go to the first index.
    * ``"batch_all"``: ``l_a = Σ_{p,n} max(d_ap − d_an + margin, 0)`` over the
      anchor's valid triplets; ``mean`` is the total over the number of
      triplets with a positive hinge (0 if none).

    Parameters
    ----------
    embeddings : array_like, float16/32/64, shape ``(N, D)``
        Not normalised (normalise first for cosine-like distances).
    labels : array_like of int, shape ``(N,)``
        Class of each row, any integer dtype (or bool).
    margin : float, >= 0 (default 1.0)
    mining : {"batch_hard", "batch_all"} (default "batch_hard")
    squared : bool (default False)
        Use squared distances.
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` gives ``(N,)`` per anchor (batch_all: the sum of the
        anchor's hinges, so ``"none"`` adds up to ``sum``).  With nothing to
        count (all labels equal, all distinct, N = 1) the loss is 0 with a
        zero gradient in every reduction (SPEC 6.3).
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
    out : ndarray, optional

    Returns
    -------
    The value; ``grad`` returns ``g_embeddings``.

    Notes
    -----
    The distance matrix comes from one BLAS product,
    ``d²_ij = G_ii + G_jj − 2 G_ij`` with ``G = x xᵀ`` (clamped at 0; the
    diagonal is exactly 0), as ``torch.cdist`` and scikit-learn do for large
    batches: near-duplicate rows carry an absolute error of about
    ``eps·‖x‖²`` on ``d²``.  batch_hard recomputes the value and gradient of
    the two mined pairs from exact differences, so a duplicated row is at
    distance exactly 0.  The gradient of a distance at 0 is 0 (SPEC 3a), and
    exactly at the hinge it is 0.

    pytorch-metric-learning: ``TripletMarginLoss(margin, distance=
    LpDistance(normalize_embeddings=False, power=1 or 2))`` with
    ``BatchHardMiner()`` (batch_hard) or ``TripletMarginMiner("all")``
    (batch_all).  pml's default distance normalises the embeddings, and its
    ``AvgNonZeroReducer`` averages batch_hard over the anchors with a
    positive loss where this loss averages over every valid anchor; for
    batch_all the two means agree.
""" + _MEMORY.format(mem="one M x M buffer, ``M² b``, M = N (batch_all adds per-thread "
                     "row buffers of O(N))", ex="64 MiB") + """

    Examples
    --------
    >>> import pyloss as pl
    >>> x = [[0.0], [1.0], [3.0]]
    >>> float(pl.batch_triplet(x, [0, 0, 1], reduction="sum"))  # 1 - 3 + 1, 1 - 2 + 1
    0.0
    >>> float(pl.batch_triplet(x, [0, 0, 1], margin=2.0, reduction="sum"))
    1.0

    References
    ----------
    Hermans, Beyer, Leibe, "In defense of the triplet loss for person
    re-identification", 2017.  Schroff et al., "FaceNet", CVPR 2015.
    """, example=_labels_example, empty_zero=True, label_inputs=("labels",))


# ------------------------------------------------------------------ pairwise (PyTorch)

class _Pairwise(MetricLoss):
    """margin_ranking (elementwise) / cosine_embedding (rows of D): one fused
    kernel pass, each element or row by one thread (results do not depend
    on the thread count), no temporaries beyond the outputs."""

    rowwise = False

    def _bind(self, arrays, opts):
        if self.rowwise:
            x1 = D.float_input(arrays[0], "x1")
            if x1.ndim not in (1, 2):
                raise D.PylossValueError(f"x1: expected shape (N, D) or (D,), got shape {x1.shape}")
        else:
            x1 = D.float_input(arrays[0], "x1")
        x2 = D.float_input(arrays[1], "x2")
        D.same_shape(x1, x2, "x1", "x2")
        margin = D.opt_float("margin", opts["margin"], lo=0.0)
        y = D.real_input(arrays[2], "y")
        dt = D.compute_dtype(x1, x2, y if y.dtype.kind == "f" else None)
        lead = x1.shape[:-1] if self.rowwise else x1.shape
        yb = D.broadcast_weight(y, lead, dt, "y")
        if self.rowwise and yb.size:
            bad = (yb != 1) & (yb != -1)
            if bad.any():
                pos = np.unravel_index(int(np.argmax(bad)), yb.shape)
                raise D.PylossValueError(
                    f"y: expected 1 or -1, got {yb[pos]!r} at position {tuple(int(i) for i in pos)}")
        arrs = (D.contiguous(x1, dt), D.contiguous(x2, dt), yb)
        n = int(np.prod(lead))
        return Call(arrays=arrs, dtype=dt, shape=x1.shape, lead=lead, nrows=n,
                    gshapes=(x1.shape, x1.shape), gdtypes=(D.grad_dtype(x1), D.grad_dtype(x2)),
                    margin=margin, matrix=(0, 0), ref_arrays=arrs, ref_params=dict(margin=margin))

    def _drive(self, c, backend, want, nt):
        x1, x2, y = c.arrays
        k = kernels(backend, c.dtype)
        n = c.nrows
        rl = np.empty(n)
        g1 = np.empty(x1.shape, c.dtype) if want else None
        g2 = np.empty(x1.shape, c.dtype) if want else None
        if self.rowwise:
            d = x1.shape[-1]
            k.cosine_rows(x1.reshape(n, d), x2.reshape(n, d), y.reshape(n), c.margin, rl,
                          None if g1 is None else g1.reshape(n, d),
                          None if g2 is None else g2.reshape(n, d), nt)
        else:
            k.margin_rank(x1, x2, y, c.margin, rl, g1, g2, nt)
        return rl.reshape(c.lead), n, ([g1, g2] if want else None)


def _ranking_example(rng, n, dtype):
    return (rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype),
            np.where(rng.random(n) < 0.5, 1.0, -1.0).astype(dtype)), {"margin": 0.1}


class _MarginRanking(_Pairwise):
    rowwise = False


class _CosineEmbedding(_Pairwise):
    rowwise = True


margin_ranking = _MarginRanking(
    "margin_ranking", "metric", ("x1", "x2", "y"), ("x1", "x2"), {"margin": 0.0},
    """Margin ranking loss, PyTorch ``F.margin_ranking_loss``.

    ``l = max(0, −y·(x1 − x2) + margin)`` elementwise: ``y = 1`` asks for
    ``x1`` ranked above ``x2`` by at least ``margin``, ``y = −1`` the reverse.

    Parameters
    ----------
    x1, x2 : array_like, float16/32/64, any shape (the same)
    y : array_like, broadcast to the shape of ``x1``
        Usually 1 or −1 (any real value is used as written, as PyTorch).
    margin : float, >= 0 (default 0.0)
        A negative margin (which PyTorch accepts) is a ``ValueError``, as for
        ``contrastive``.
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` keeps the shape of ``x1``.
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
        Every backend runs the same few NumPy operations (O(N), no matrix);
        ``"numpy"`` computes in float64.
    out : tuple of two ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_x1, g_x2)`` with ``g_x2 = −g_x1``.

    Notes
    -----
    Equal to PyTorch's values; exactly at the hinge the sub-gradient is 0
    (SPEC 3a) where torch's ``clamp_min`` passes the gradient.  Memory per
    call: the output and gradients, O(N).

    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.margin_ranking([1.0, 0.0], [0.0, 1.0], [1, 1], margin=0.5, reduction="sum"))
    1.5

    References
    ----------
    PyTorch ``torch.nn.MarginRankingLoss``.
    """, example=_ranking_example)


def _cosine_example(rng, n, dtype):
    rows = max(1, n // 128)
    x1 = rng.standard_normal((rows, 128)).astype(dtype)
    x2 = rng.standard_normal((rows, 128)).astype(dtype)
    return (x1, x2, np.where(rng.random(rows) < 0.5, 1.0, -1.0).astype(dtype)), {}


cosine_embedding = _CosineEmbedding(
    "cosine_embedding", "metric", ("x1", "x2", "y"), ("x1", "x2"), {"margin": 0.0},
    """Cosine embedding loss, PyTorch ``F.cosine_embedding_loss``.

    Per row, with ``cos = x1·x2 / sqrt((‖x1‖² + 1e-12)(‖x2‖² + 1e-12))``
    (PyTorch's formula): ``1 − cos`` for ``y = 1``, ``max(0, cos − margin)``
    for ``y = −1``.

    Parameters
    ----------
    x1, x2 : array_like, float16/32/64, shape ``(N, D)`` or ``(D,)``
    y : array_like of 1 / −1, shape ``(N,)`` (or a scalar, broadcast)
        Any other value is a ``ValueError`` naming it and its position.
    margin : float, >= 0 (default 0.0)
        PyTorch suggests ``[0, 0.5]``; a negative margin (which PyTorch
        accepts) is a ``ValueError``, as for ``contrastive``.
    reduction : {"mean", "sum", "none"} (default "mean")
        ``"none"`` gives ``(N,)`` (``()`` for 1-D inputs).
    backend : {"auto", "c", "numba", "numpy"} (default "auto")
        Every backend runs the same O(N D) NumPy operations (no matrix);
        ``"numpy"`` computes in float64.
    out : tuple of two ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_x1, g_x2)``.

    Notes
    -----
    Equal to PyTorch's values and gradients; exactly at ``cos = margin`` the
    hinge's sub-gradient is 0 (SPEC 3a).  A zero row gives ``cos = 0``, no
    NaN.  Memory per call: O(N D) for the gradients.

    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.cosine_embedding([[1.0, 0.0]], [[0.0, 1.0]], [1]))
    1.0

    References
    ----------
    PyTorch ``torch.nn.CosineEmbeddingLoss``.
    """, example=_cosine_example)

# ------------------------------------------------------------------ bench facts
# The peers `pyloss bench` and the tests compare against (metric_peers).
from . import metric_peers as _peers  # noqa: E402

info_nce.declare(peers=dict(formula=_peers.f_info_nce))
nt_xent.declare(peers=dict(formula=_peers.f_nt_xent))
supcon.declare(peers=dict(formula=_peers.f_supcon))
batch_triplet.declare(peers=dict(formula=_peers.f_batch_triplet))
margin_ranking.declare(peers=dict(formula=_peers.f_margin_ranking,
                                  torch=_peers.torch_margin_ranking))
cosine_embedding.declare(peers=dict(formula=_peers.f_cosine_embedding,
                                    torch=_peers.torch_cosine_embedding))
