"""Loss definitions of the generative family: kl_gaussian, kl_div, vae,
gan_discriminator and gan_generator.

C kernels in csrc/generative_impl.h, Numba kernels in
``pyloss._numba.generative``, NumPy references in
``pyloss.reference.generative``.
"""
import numpy as np

from .. import _dispatch as D
from .._config import get_num_threads
from .._loss import ElementwiseLoss, Loss, mean_of, scalar_of
from ._rows import Call, RowLoss, last_axis_input, nan_scale, opt_bool, outs_for


def _numba():
    from .._numba import generative
    return generative


# ------------------------------------------------------------------ kl_gaussian

class _KLGaussian(RowLoss):
    def _bind(self, arrays, opts):
        mu = last_axis_input(arrays[0], "mu")
        lv = last_axis_input(arrays[1], "logvar")
        D.same_shape(mu, lv, "mu", "logvar")
        dt = D.compute_dtype(mu, lv)
        arrs = (D.contiguous(mu, dt), D.contiguous(lv, dt))
        lead = mu.shape[:-1]
        return Call(arrays=arrs, dtype=dt, shape=mu.shape, lead=lead, nrows=int(np.prod(lead)),
                    dim=mu.shape[-1], gshapes=(mu.shape,) * 2,
                    gdtypes=(D.grad_dtype(mu), D.grad_dtype(lv)), ref_arrays=arrs, ref_params={})

    def _run_c(self, c, scale, loss, grads, nthreads):
        from .. import _c
        g = grads or (None, None)
        return _c.kernel("kl_gaussian", c.dtype)(
            c.nrows, c.dim, *(_c.ptr(x) for x in c.arrays), scale, _c.ptr(loss),
            *(_c.ptr(x) for x in g), nthreads)

    def _run_numba(self, c, scale, loss, grads, nthreads):
        return _numba().kl_gaussian(c.nrows, c.dim, c.arrays, scale, loss, grads, nthreads)


def _kl_gaussian_example(rng, n, dtype):
    rows = max(1, n // 64)
    return (rng.standard_normal((rows, 64)).astype(dtype),
            (0.5 * rng.standard_normal((rows, 64))).astype(dtype)), {}


kl_gaussian = _KLGaussian("kl_gaussian", "generative", ("mu", "logvar"), ("mu", "logvar"), {},
                          """KL divergence of a diagonal Gaussian from the standard normal.

    ``KL(N(mu, e^logvar) ‖ N(0, I)) = -1/2 Σ_j (1 + logvar_j - mu_j² - e^logvar_j)``
    summed over the last axis (the VAE regulariser of Kingma and Welling,
    appendix B; the ``KLD`` term of PyTorch's VAE example).

    Parameters
    ----------
    mu, logvar : array_like, float16/32/64, shape ``(..., L)``
    reduction : {"mean", "sum", "none"}
        ``mean`` averages over samples (the leading shape); ``none`` gives
        the leading shape.
    backend : {"auto", "c", "numba", "numpy"}
    out : tuple of two ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_mu, g_logvar) = (mu, (e^logvar - 1)/2)``
    (times ``1/N`` for ``mean``).

    Notes
    -----
    ``e^logvar`` overflows to ``inf`` exactly when the math does (logvar above
    about 88.7 in float32, 709.8 in float64): the loss and the logvar gradient
    are then ``+inf``, never NaN, for finite inputs.  No Hessian is offered.

    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.kl_gaussian([[1.0, 0.0]], [[0.0, 0.0]]))   # mu²/2
    0.5

    References
    ----------
    Kingma, Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """, hessian=False, example=_kl_gaussian_example)


# ------------------------------------------------------------------ kl_div

class _KLDiv(ElementwiseLoss):
    """F.kl_div: elementwise, no weight, and the extra reduction batchmean."""

    reductions = D.REDUCTIONS + ("batchmean",)

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        del self.options["weight"]

    def _bind(self, arrays, opts):
        return super()._bind(arrays, dict(opts, weight=None))

    def _compute(self, c, backend, reduction, op, out):
        # ElementwiseLoss's mean divides by the element count; batchmean by
        # the size of the first axis (torch: input.size(0)).  Same kernels.
        if reduction != "batchmean":
            return super()._compute(c, backend, reduction, op, out)
        shape = c.shape
        rows = shape[0] if len(shape) else 1
        dt = c.dtype
        scale = nan_scale(rows)
        deriv = None
        if op != "value":
            direct = False
            if out is not None:
                D.check_out(out, shape, c.gdtype, "out")
                direct = c.gdtype == dt and not D.overlaps_unsafely(out, c.pred, c.target)
            deriv = out if direct else np.empty(shape, dt)
        grad = deriv if op in ("grad", "vg") else None
        hess = deriv if op == "hess" else None
        kern = self._kernel(backend, dt)
        if backend != "numpy":
            total = kern(c.pred, c.target, None, None, c.p0, c.p1, scale, None, grad, hess,
                         get_num_threads())
        else:
            total = kern(c, scale, None, grad, hess)
        if out is not None and deriv is not None and deriv is not out:
            out[...] = deriv
            deriv = out
        elif deriv is not None and deriv.dtype != c.gdtype:
            deriv = deriv.astype(c.gdtype)
        if op in ("grad", "hess"):
            return deriv
        value = mean_of(total, rows, dt)
        return value if op == "value" else (value, deriv)


def _kl_div_params(opts):
    lt = opt_bool("log_target", opts["log_target"])
    return float(lt), 0.0, {"log_target": lt}


def _kl_div_example(rng, n, dtype):
    rows = max(1, n // 64)
    z = rng.standard_normal((rows, 64))
    logq = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    p = rng.random((rows, 64))
    return (logq.astype(dtype), (p / p.sum(axis=1, keepdims=True)).astype(dtype)), {}


kl_div = _KLDiv("kl_div", "generative", """Pointwise KL divergence, PyTorch ``F.kl_div`` semantics.

    ``l = xlogy(p, p) - p·log_q`` (0 where ``p == 0``), or with
    ``log_target=True`` (``p`` given as log-probabilities)
    ``l = exp(p)·(p - log_q)``.  As in PyTorch the first argument is the
    *log*-probability of the model and the second the target distribution,
    and the loss is ``KL(p ‖ q)`` once summed.

    Parameters
    ----------
    log_q : array_like, float16/32/64, any shape
        Log-probabilities (the input of ``F.kl_div``).
    p : array_like, same shape
        Target probabilities (log-probabilities if ``log_target``).
    log_target : bool (default False)
        Whether ``p`` is given as log-probabilities.
    reduction : {"mean", "sum", "none", "batchmean"}
        ``mean`` divides by the element count (PyTorch's ``"mean"``, which
        is not the KL divergence); ``batchmean`` by ``log_q.shape[0]`` (the
        mathematically right per-sample KL); ``none`` keeps the shape.
    backend : {"auto", "c", "numba", "numpy"}
    out : ndarray, optional

    Notes
    -----
    The gradient with respect to ``log_q`` is ``-p`` (``-exp(p)`` with
    ``log_target``), times the reduction's factor; the Hessian is 0.
    Negative ``p`` without ``log_target`` gives NaN, as in PyTorch.

    Examples
    --------
    >>> import pyloss as pl, numpy as np
    >>> logq = np.log([[0.5, 0.5]]); p = [[1.0, 0.0]]
    >>> round(float(pl.kl_div(logq, p, reduction="batchmean")), 6)   # log 2
    0.693147
    """, params=_kl_div_params, inputs=("log_q", "p"), extra_options={"log_target": False},
                example=_kl_div_example)


# ------------------------------------------------------------------ vae

class _VAE(RowLoss):
    def _bind(self, arrays, opts):
        recon = last_axis_input(arrays[0], "recon")
        x = D.real_input(arrays[1], "x")
        D.same_shape(recon, x, "recon", "x")
        mu = last_axis_input(arrays[2], "mu")
        lv = last_axis_input(arrays[3], "logvar")
        D.same_shape(mu, lv, "mu", "logvar")
        if mu.shape[0] != recon.shape[0]:
            raise D.PylossValueError(
                f"mu: first axis (batch) of shape {mu.shape} does not match recon shape {recon.shape}")
        kind = D.opt_choice("recon_loss", opts["recon_loss"], ("mse", "bce_logits"))
        beta = D.opt_float("beta", opts["beta"], lo=0.0)
        dt = D.compute_dtype(recon, x, mu, lv)
        arrs = tuple(D.contiguous(a, dt) for a in (recon, x, mu, lv))
        n = recon.shape[0]
        return Call(arrays=arrs, dtype=dt, shape=recon.shape, lead=(n,), nrows=n,
                    nf=int(np.prod(recon.shape[1:])), nl=int(np.prod(mu.shape[1:])),
                    gshapes=(recon.shape, mu.shape, mu.shape),
                    gdtypes=(D.grad_dtype(recon), D.grad_dtype(mu), D.grad_dtype(lv)),
                    bce=kind == "bce_logits", beta=beta, ref_arrays=arrs,
                    ref_params=dict(recon_loss=kind, beta=beta))

    def _run_c(self, c, scale, loss, grads, nthreads):
        from .. import _c
        g = grads or (None, None, None)
        return _c.kernel("vae", c.dtype)(
            c.nrows, c.nf, c.nl, *(_c.ptr(x) for x in c.arrays), int(c.bce), c.beta, scale,
            _c.ptr(loss), *(_c.ptr(x) for x in g), nthreads)

    def _run_numba(self, c, scale, loss, grads, nthreads):
        return _numba().vae(c.nrows, c.nf, c.nl, c.arrays, c.bce, c.beta, scale, loss, grads,
                            nthreads)


def _vae_example(rng, n, dtype):
    rows = max(1, n // 800)
    return (rng.standard_normal((rows, 784)).astype(dtype), rng.random((rows, 784)).astype(dtype),
            rng.standard_normal((rows, 16)).astype(dtype),
            (0.5 * rng.standard_normal((rows, 16))).astype(dtype)), {"recon_loss": "bce_logits"}


vae = _VAE("vae", "generative", ("recon", "x", "mu", "logvar"), ("recon", "mu", "logvar"),
           {"recon_loss": "mse", "beta": 1.0}, """Variational auto-encoder loss (reconstruction + beta·KL).

    Per sample ``i``: ``Σ_f rec(recon_if, x_if) + beta·kl_gaussian(mu_i, logvar_i)``
    with the reconstruction summed over every non-batch axis and
    ``rec = (recon - x)²`` (``"mse"``) or binary cross-entropy on logits
    ``softplus(recon) - x·recon`` (``"bce_logits"``, stable for any logit);
    then reduced over the batch.  ``mean`` over a batch reproduces PyTorch's
    VAE example (``F.binary_cross_entropy(..., reduction="sum") + KLD``)
    divided by the batch size; ``sum`` reproduces it exactly.

    Parameters
    ----------
    recon : array_like, float, shape ``(N, ...)``
        Decoder output (logits for ``"bce_logits"``).
    x : array_like, same shape
        Data.
    mu, logvar : array_like, float, shape ``(N, ...)``
        Encoder outputs.
    recon_loss : {"mse", "bce_logits"} (default "mse")
        Reconstruction term: squared error, or BCE on logits against ``x`` in [0, 1].
    beta : float >= 0 (default 1.0)
        Weight of the KL term (beta-VAE); a negative or NaN beta is a ValueError.
    reduction : {"mean", "sum", "none"}; ``none`` gives ``(N,)``.
    backend : {"auto", "c", "numba", "numpy"}
    out : tuple of three ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_recon, g_mu, g_logvar)``.

    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.vae([[1.0, 2.0]], [[0.0, 2.0]], [[1.0]], [[0.0]]))   # 1 + 0.5
    1.5

    References
    ----------
    Kingma, Welling, "Auto-encoding variational Bayes", ICLR 2014;
    Higgins et al., "beta-VAE", ICLR 2017.
    """, hessian=False, example=_vae_example)


# ------------------------------------------------------------------ GAN losses

_KINDS = ("bce", "hinge", "wasserstein", "lsgan")


def _term_kernel(backend, name, dtype):
    """An elementwise term kernel (see csrc/elementwise.h) by backend."""
    if backend == "c":
        from .. import _c
        return _c.elementwise(name, dtype)
    if backend == "numba":
        from .._numba import elementwise
        return elementwise(_numba(), name, dtype)
    from ..reference import generative as ref
    point = getattr(ref, name)

    def run(pred, target, weight, aux, p0, p1, scale, loss, grad, hess, nthreads):
        with np.errstate(all="ignore"):
            l, g, _ = point(pred.astype(np.float64))
            if loss is not None:
                loss[...] = l
            if grad is not None:
                grad[...] = scale * g
            return float(np.sum(l))
    return run


class _GAN(Loss):
    """Sum of per-logit terms over one or two logit arrays (SPEC 3a)."""

    def __init__(self, name, inputs, terms, doc, example):
        super().__init__(name, "generative", inputs, inputs, {"kind": "bce"}, doc,
                         hessian=False, example=example)
        self._terms = terms        # kind -> tuple of term names, one per input

    def _bind(self, arrays, opts):
        xs = tuple(D.float_input(a, nm) for a, nm in zip(arrays, self.inputs))
        kind = D.opt_choice("kind", opts["kind"], _KINDS)
        dt = D.compute_dtype(*xs)
        return Call(arrays=tuple(D.contiguous(x, dt) for x in xs), dtype=dt,
                    shape=tuple(x.shape for x in xs), gshapes=tuple(x.shape for x in xs),
                    gdtypes=tuple(D.grad_dtype(x) for x in xs), terms=self._terms[kind])

    def _compute(self, c, backend, reduction, op, out):
        dt = c.dtype
        if reduction == "none" and len(set(c.gshapes)) > 1:
            raise D.PylossValueError(
                f"{self.inputs[1]}: reduction='none' needs equal shapes, got "
                f"{self.inputs[0]} {c.gshapes[0]} and {self.inputs[1]} {c.gshapes[1]}")
        outs = outs_for(out, c, self.diff) if op != "value" else [None] * len(c.arrays)
        total = 0.0
        value = None
        res = []
        for x, o, gdt, term in zip(c.arrays, outs, c.gdtypes, c.terms):
            scale = nan_scale(x.size) if reduction == "mean" else 1.0
            loss = np.empty(x.shape, dt) if reduction == "none" and op != "grad" else None
            grad = None
            if op != "value":
                direct = (o is not None and o.dtype == dt
                          and not any(np.may_share_memory(o, a) for a in c.arrays))
                grad = o if direct else np.empty(x.shape, dt)
            t = _term_kernel(backend, term, dt)(x, x, None, None, 0.0, 0.0, scale, loss, grad,
                                                None, get_num_threads())
            if reduction == "mean":
                t = mean_of(t, x.size, np.dtype(np.float64))
            total += float(t)
            if loss is not None:
                value = loss if value is None else np.add(value, loss, out=value)
            if grad is not None:
                res.append((grad, o, gdt))
        # Copy into out= only after every term has read its input: an out
        # buffer may alias the other input (SPEC 3a).
        done = []
        for grad, o, gdt in res:
            if o is not None:
                if grad is not o:
                    o[...] = grad
                grad = o
            elif grad.dtype != gdt:
                grad = grad.astype(gdt)
            done.append(grad)
        res = done
        if reduction != "none":
            value = scalar_of(total, dt)
        if op == "value":
            return value
        g = res[0] if len(res) == 1 else tuple(res)
        return g if op == "grad" else (value, g)


def _gan_d_example(rng, n, dtype):
    return (rng.standard_normal(max(1, n // 2)).astype(dtype),
            rng.standard_normal(max(1, n // 2)).astype(dtype)), {}


def _gan_g_example(rng, n, dtype):
    return (rng.standard_normal(max(1, n)).astype(dtype),), {}


_GAN_NOTES = """
    Kinds (``r`` real logits, ``f`` fake logits, ``softplus(x) = log(1 + e^x)``):

    ================ ============================== =====================
    kind             discriminator                  generator
    ================ ============================== =====================
    ``bce``          ``softplus(-r) + softplus(f)`` ``softplus(-f)`` (non-saturating)
    ``hinge``        ``relu(1 - r) + relu(1 + f)``  ``-f``
    ``wasserstein``  ``f - r``                      ``-f``
    ``lsgan``        ``(r - 1)²/2 + f²/2``          ``(f - 1)²/2``
    ================ ============================== =====================

    ``bce`` equals PyTorch ``binary_cross_entropy_with_logits`` against
    targets 1 (real) and 0 (fake).  Hinge terms have sub-gradient 0 exactly
    at the margin (SPEC 3a).
"""

gan_discriminator = _GAN("gan_discriminator", ("real_logits", "fake_logits"),
                         {"bce": ("gan_real_bce", "gan_fake_bce"),
                          "hinge": ("gan_real_hinge", "gan_fake_hinge"),
                          "wasserstein": ("gan_real_wasserstein", "gan_fake_wasserstein"),
                          "lsgan": ("gan_real_lsgan", "gan_fake_lsgan")},
                         """Discriminator loss of a GAN on real and fake logits.
""" + _GAN_NOTES + """
    Parameters
    ----------
    real_logits, fake_logits : array_like, float16/32/64, any shapes
        The two batches may differ in size.
    kind : {"bce", "hinge", "wasserstein", "lsgan"} (default "bce")
        Which GAN objective (table above).
    reduction : {"mean", "sum", "none"}
        ``mean`` is ``mean(real terms) + mean(fake terms)``; ``sum`` is
        ``Σ real terms + Σ fake terms``; ``none`` requires equal shapes and
        returns the per-pair sum (SPEC 3a).
    backend : {"auto", "c", "numba", "numpy"}
    out : tuple of two ndarrays, optional

    Returns
    -------
    The value; ``grad`` returns ``(g_real, g_fake)``.

    Examples
    --------
    >>> import pyloss as pl
    >>> float(pl.gan_discriminator([2.0, 0.0], [-1.0], kind="hinge"))  # (0 + 1)/2 + 0
    0.5

    References
    ----------
    Goodfellow et al. 2014 (bce); Lim & Ye 2017, Miyato et al. 2018 (hinge);
    Arjovsky et al. 2017 (Wasserstein); Mao et al. 2017 (least squares).
    """, _gan_d_example)

gan_generator = _GAN("gan_generator", ("fake_logits",),
                     {"bce": ("gan_real_bce",), "hinge": ("gan_real_wasserstein",),
                      "wasserstein": ("gan_real_wasserstein",), "lsgan": ("gan_real_lsgan",)},
                     """Generator loss of a GAN on the discriminator's logits for fakes.
""" + _GAN_NOTES + """
    Parameters
    ----------
    fake_logits : array_like, float16/32/64, any shape
    kind : {"bce", "hinge", "wasserstein", "lsgan"} (default "bce")
        Which GAN objective (table above).
    reduction : {"mean", "sum", "none"}; ``none`` keeps the shape.
    backend : {"auto", "c", "numba", "numpy"}
    out : ndarray, optional

    Returns
    -------
    The value; ``grad`` returns ``g_fake``.

    Examples
    --------
    >>> import pyloss as pl
    >>> round(float(pl.gan_generator([0.0], kind="bce")), 6)   # log 2
    0.693147
    """, _gan_g_example)

# ------------------------------------------------------------------ integration facts
# Streaming: kl_gaussian's "mean" is over rows; kl_div's over elements, or over
# the batch (first axis) for reduction="batchmean".  kl_div is a pyloss.torch drop-in.
kl_gaussian.declare(stream_denominator="rows")
kl_div.declare(torch_functional=dict(function="kl_div", module="KLDivLoss",
                                     options=(("log_target", "log_target", False),)),
               stream_denominator="batchmean")

# ------------------------------------------------------------------ bench facts
# `pyloss bench` and the tests: the exps/logs of the compute floor and the
# peers compared against (written out in generative_peers).
from . import generative_peers as _peers  # noqa: E402

kl_gaussian.declare(bench_cost=_peers.kl_gaussian_cost, peers=dict(formula=_peers.f_kl_gaussian))
kl_div.declare(bench_cost=_peers.kl_div_cost,
               peers=dict(formula=_peers.f_kl_div, torch=_peers.torch_kl_div))
vae.declare(bench_cost=_peers.vae_cost, peers=dict(formula=_peers.f_vae))
gan_discriminator.declare(bench_cost=_peers.gan_discriminator_cost,
                          peers=dict(formula=_peers.f_gan_discriminator))
gan_generator.declare(bench_cost=(1, 1), peers=dict(formula=_peers.f_gan_generator))
