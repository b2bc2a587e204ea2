"""``pyloss bench``: time every registered loss against NumPy and installed peers.

Driven by the registry: every loss with an ``example(rng, n, dtype)`` hook is
benchmarked; losses without one are skipped.  For each loss, size and operation
(``value``, ``vg`` = value and gradient) the implementations are timed
*interleaved* in one run -- sample k of every implementation is taken before
sample k+1 of any -- so that a machine shared with other work slows all of them
alike.  Each sample times a batch of calls sized to last ``--sample-ms``; the
table shows the median per-call time, the min-max of the samples, the speed-up
against NumPy and against the fastest peer, and how far the time is from the
memory floor (bytes a fused kernel must move / bandwidth measured in the same
run) and, for the losses that need exp or log, from the exp/log compute floor
(the exps and logs the loss needs per element, each at the per-element cost
of NumPy's vectorised ``np.exp`` / ``np.log`` on cache-resident data, measured
in the same run, divided by the thread count).

Peers (each optional, imported only when present): PyTorch CPU (forward, and
forward+backward), JAX (``jit(f)``, ``jit(value_and_grad(f))``) and
scikit-learn's ``sklearn._loss`` module.  The PyTorch and JAX peers cover
every registered loss with the example's options: PyTorch's own function where
it has one, else the loss written out once over torch or JAX operations
(``_FORMULAS``); the backward pass goes to every differentiable input, as
pyloss's does.  A peer is left out where its formula is not pyloss's (weights,
``pos_weight``, per-class ``alpha``, probability targets, label-map targets).
"numpy" is the loss written as a NumPy user would
(one-liners below); "numpy-ref" is pyloss's own NumPy reference backend.
"""
import inspect
import json
import math
import os
import platform
import sys
import time
from types import SimpleNamespace

import numpy as np

QUICK_LOSSES = ("mse", "huber", "log_cosh", "cross_entropy", "binary_cross_entropy_with_logits")
QUICK_SIZES = (1000, 100_000, 1_000_000)
FULL_SIZES = (1000, 10_000, 100_000, 1_000_000, 10_000_000)
OPS = ("value", "vg")
PYLOSS_KIND = "pyloss"


def add_arguments(p):
    p.add_argument("--losses", help="comma-separated loss names (default: every registered loss "
                   "with an example; --quick: a few)")
    p.add_argument("--sizes", help="comma-separated element counts, e.g. 1e3,1e5,1e7 "
                   "(default 1e3..1e7; --quick: 1e3,1e5,1e6)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=int, default=None,
                   help="threads for pyloss and the peers (default: all CPUs)")
    p.add_argument("--quick", action="store_true",
                   help="a few losses and sizes (well under a minute)")
    p.add_argument("--repeat", type=int, default=None,
                   help="samples per implementation (default 7; --quick 5)")
    p.add_argument("--sample-ms", type=float, default=None,
                   help="target duration of one sample (default 10; --quick 2)")
    p.add_argument("--settle-ms", type=float, default=3.0,
                   help="pause before each sample so other thread pools go idle (default 3)")
    p.add_argument("--ops", default="value,vg", help="value,vg (vg = value_and_grad)")
    p.add_argument("--backends", default=None,
                   help="pyloss rows, comma-separated from auto,c,numba,numpy (default: all here)")
    p.add_argument("--no-peers", action="store_true", help="skip PyTorch, JAX and scikit-learn")
    p.add_argument("--out", action="store_true",
                   help="also time value_and_grad writing into a reused out= buffer")
    p.add_argument("--json", metavar="PATH", help="write every sample and the header as JSON")
    p.add_argument("--compare", metavar="OLD.json",
                   help="show the change of each median against a saved --json run")
    p.add_argument("--plot", metavar="PNG", help="grouped bar chart of speed-ups (needs matplotlib)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classes", type=int, default=None,
                   help="number of classes of the softmax losses' examples (default: their own, "
                        "1000 for cross_entropy); rows = size / classes")


# ---------------------------------------------------------------- helpers

def _parse_sizes(text):
    out = []
    for tok in text.split(","):
        tok = tok.strip()
        if tok:
            v = float(tok)
            if not (v >= 1 and v == int(v)):
                raise SystemExit(f"pyloss bench: --sizes: expected positive integers, got {tok!r}")
            out.append(int(v))
    return tuple(out)


def _fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= f or unit == "ns":
            v = s / f
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"


def _fmt_n(n):
    e = math.log10(n) if n > 0 else 0
    return f"1e{int(e)}" if n > 0 and e == int(e) else str(n)


class _Progress:
    """A one-line progress bar on stderr (plain lines when not a terminal)."""

    def __init__(self, total, enabled=True):
        self.total = max(1, total)
        self.done = 0
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self._last = ""

    def step(self, label):
        self.done += 1
        if not self.enabled:
            return
        frac = self.done / self.total
        width = 28
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        el = time.perf_counter() - self.t0
        line = f"[{bar}] {self.done}/{self.total} {el:5.1f}s {label}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(len(self._last)))
            self._last = line
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------- bandwidth

def _bw_kernels():
    """numba kernels for the streaming floor (imported lazily).  Integer sums
    vectorise without fastmath; prange spreads the stream over the threads."""
    import numba

    @numba.njit(parallel=True, cache=False)
    def read(x):
        s = np.uint64(0)
        for i in numba.prange(x.size):
            s += x[i]
        return s

    @numba.njit(parallel=True, cache=False)
    def copy(dst, src):
        for i in numba.prange(src.size):
            dst[i] = src[i]

    return read, copy


def measure_bandwidth(nbytes=1 << 27, repeat=7):
    """Best streaming read and copy bandwidth (bytes/s) over `repeat` trials.

    read: sum of a `nbytes` array (bytes read / time); copy: dst[:] = src
    (bytes read + bytes written / time, not counting write-allocate traffic,
    since that is what a kernel writing its output moves by the same rule).
    """
    src = np.ones(nbytes // 8, np.uint64)
    dst = np.empty_like(src)

    def np_read(x):
        return np.add.reduce(x)

    def np_copy(d, s):
        np.copyto(d, s)

    # One thread (NumPy) and all threads (numba prange): a parallel region can
    # be slow to start on a busy or over-committed machine, so the best of
    # both is the bandwidth a kernel can get here.
    pairs = [(np_read, np_copy)]
    try:
        pairs.append(_bw_kernels())
    except ImportError:
        pass
    best_r = best_c = float("inf")
    for read, copy in pairs:
        read(src)
        copy(dst, src)
        for _ in range(repeat):
            t = time.perf_counter()
            read(src)
            best_r = min(best_r, time.perf_counter() - t)
            t = time.perf_counter()
            copy(dst, src)
            best_c = min(best_c, time.perf_counter() - t)
    return {"read": src.nbytes / best_r, "copy": 2 * src.nbytes / best_c,
            "nbytes": src.nbytes, "threads": _numba_threads()}


def measure_explog(dtype, n=16384, repeat=7, number=200):
    """Seconds per element of NumPy's vectorised exp and log (``out=``, data in
    L1/L2, one thread): the compute floor's unit cost.  NumPy dispatches these
    to its SIMD (AVX2/AVX-512) implementations, the fastest exp/log a user has
    at hand without a framework."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-4.0, 4.0, n).astype(dtype)
    y = np.empty_like(x)
    z = np.abs(x) + dtype.type(0.1)
    out = {}
    for key, f, a in (("exp", np.exp, x), ("log", np.log, z)):
        f(a, out=y)
        best = math.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                f(a, out=y)
            best = min(best, (time.perf_counter() - t0) / number)
        out[key] = best / n
    return out


def explog_counts(name, arrays, opts):
    """(exps, logs) a fused implementation of `name` must evaluate on these
    inputs: one per element where the loss needs it (softmax/sigmoid exps,
    softplus/log1p logs), per-row ones (a softmax row's log) left out.  (0, 0)
    for the losses whose floor is memory alone."""
    size = [int(np.asarray(a).size) for a in arrays]
    gamma = opts.get("gamma", 2.0)
    general = gamma not in (0, 0.0, 1, 1.0, 2, 2.0)
    if name in ("log_cosh", "binary_cross_entropy_with_logits", "gan_generator", "dice_bce"):
        return size[0], size[0]
    if name == "sigmoid_focal":
        return (2 * size[0], 2 * size[0]) if general else (size[0], size[0])
    if name == "binary_cross_entropy":
        return 0, 2 * size[0]
    if name in ("cross_entropy", "softmax_focal"):
        return size[0], 0
    if name == "kl_div":
        return (size[1], 0) if opts.get("log_target") else (0, size[1])
    if name == "kl_gaussian":
        return size[1], 0
    if name == "vae":
        bce = str(opts.get("recon_loss", "bce_logits")).startswith("bce")
        return (size[0] if bce else 0) + size[3], (size[0] if bce else 0)
    if name == "gan_discriminator":
        return size[0] + size[1], size[0] + size[1]
    if name in ("dice", "iou", "tversky", "generalized_dice"):
        return (size[0], 0) if opts.get("from_logits") else (0, 0)
    if name in ("poisson", "gamma", "tweedie", "exponential"):
        # one exp (tweedie: two, e^{(1-p)r} and e^{(2-p)r}, outside sklearn's
        # special powers 0, 1, 2); the deviance adds log(target)
        p = opts.get("power", 1.5)
        n_exp = 2 * size[0] if name == "tweedie" and p not in (0, 1, 2) else size[0]
        n_log = size[0] if opts.get("deviance") else 0
        if name == "tweedie" and opts.get("deviance") and p not in (0, 1, 2):
            n_exp += size[0]   # max(y, 0)^(2-p) = exp((2-p) log y)
        return n_exp, n_log
    if name == "fair":
        return 0, size[0]
    if name == "focal_smooth_l1":
        return (2 if general else 1) * size[0], (2 if general else 1) * size[0]
    return 0, 0


def _numba_threads():
    try:
        import numba
        return numba.get_num_threads()
    except Exception:
        return 1


# ---------------------------------------------------------------- peers

def _opts_of(loss, opts):
    merged = dict(loss.options)
    merged.update(opts)
    return merged


def _numpy_peer(name, arrays, o):
    """The loss as a NumPy user writes it: (value_fn, vg_fn) or None."""
    if len(arrays) != 2 or o.get("weight") is not None:
        return None
    p, t = arrays
    n = p.size
    if name == "mse":
        def v():
            return np.mean((p - t) ** 2)

        def vg():
            d = p - t
            return np.mean(d ** 2), 2 * d / n
    elif name == "mae":
        def v():
            return np.mean(np.abs(p - t))

        def vg():
            d = p - t
            return np.mean(np.abs(d)), np.sign(d) / n
    elif name == "huber":
        dl = o["delta"]

        def v():
            r = p - t
            a = np.abs(r)
            return np.mean(np.where(a <= dl, 0.5 * r * r, dl * (a - 0.5 * dl)))

        def vg():
            r = p - t
            a = np.abs(r)
            return (np.mean(np.where(a <= dl, 0.5 * r * r, dl * (a - 0.5 * dl))),
                    np.clip(r, -dl, dl) / n)
    elif name == "smooth_l1":
        b = o["beta"]
        if b <= 0:
            return None

        def v():
            r = p - t
            a = np.abs(r)
            return np.mean(np.where(a < b, 0.5 * r * r / b, a - 0.5 * b))

        def vg():
            r = p - t
            a = np.abs(r)
            return (np.mean(np.where(a < b, 0.5 * r * r / b, a - 0.5 * b)),
                    np.where(a < b, r / b, np.sign(r)) / n)
    elif name == "log_cosh":
        def v():
            r = p - t
            return np.mean(np.logaddexp(r, -r) - np.log(2.0))

        def vg():
            r = p - t
            return np.mean(np.logaddexp(r, -r) - np.log(2.0)), np.tanh(r) / n
    elif name == "quantile":
        q = o["q"]

        def v():
            u = t - p
            return np.mean(np.maximum(q * u, (q - 1) * u))

        def vg():
            u = t - p
            return np.mean(np.maximum(q * u, (q - 1) * u)), np.where(u > 0, -q, 1 - q) / n
    else:
        return None
    return v, vg


# The peers' formulas are written once, over a small namespace of array
# operations (`ns`) that `_torch_ops` and `_jax_ops` fill for each framework;
# each function of the inputs, in `loss.inputs` order, returns the loss with
# the example's options and reduction "mean" exactly as pyloss defines it.
# PyTorch uses its own function where it has one (`_torch_native`).

def _torch_ops(torch):
    F = torch.nn.functional

    def reduce(fn):
        def r(x, axis=None):
            if axis is None:
                return fn(x)
            return x if axis == () else fn(x, dim=axis)   # torch reads dim=() as "all"
        return r

    return SimpleNamespace(
        exp=torch.exp, log=torch.log, log1p=torch.log1p, abs=torch.abs, sqrt=torch.sqrt,
        where=torch.where, maximum=torch.maximum, minimum=torch.minimum,
        logaddexp=torch.logaddexp, xlogy=torch.xlogy, relu=torch.relu, sigmoid=torch.sigmoid,
        softplus=F.softplus, sum=reduce(torch.sum), mean=reduce(torch.mean),
        amax=lambda x, axis: torch.amax(x, dim=axis),
        softmax=lambda x, axis: torch.softmax(x, dim=axis),
        log_softmax=lambda x, axis: torch.log_softmax(x, dim=axis),
        clip_min=lambda x, lo: torch.clamp(x, min=lo),
        take1=lambda x, idx: torch.gather(x, 1, idx.long().unsqueeze(1)).squeeze(1),
        bce_logits=lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
        smooth_l1=lambda p, t, beta: F.smooth_l1_loss(p, t, beta=beta, reduction="none"),
        cat=lambda xs: torch.cat(xs, 0), arange=torch.arange,
        atan=torch.atan, stop_gradient=lambda x: x.detach(),
        cumsum=lambda x, axis: torch.cumsum(x, dim=axis),
        sort_desc=lambda x, axis: torch.sort(x, dim=axis, descending=True, stable=True),
        gather=lambda x, idx, axis: torch.gather(x, axis, idx),
        one_hot=lambda t, c, like: F.one_hot(t.long(), c).movedim(-1, 1).to(like.dtype),
        swapaxes=lambda x, a, b: x.transpose(a, b),
        concat=lambda xs, axis: torch.cat(xs, dim=axis))


def _jax_ops(jax):
    import jax.scipy.special
    jnp = jax.numpy
    softplus = jax.nn.softplus

    def smooth_l1(p, t, beta):
        r = p - t
        a = jnp.abs(r)
        if beta == 0:   # no 0.5 r^2 / 0 branch: jnp.where would carry its nan gradient
            return a
        return jnp.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)

    def sort_desc(x, axis):
        perm = jnp.argsort(-x, axis=axis, stable=True)
        return jnp.take_along_axis(x, perm, axis=axis), perm

    return SimpleNamespace(
        exp=jnp.exp, log=jnp.log, log1p=jnp.log1p, abs=jnp.abs, sqrt=jnp.sqrt,
        where=jnp.where, maximum=jnp.maximum, minimum=jnp.minimum,
        logaddexp=jnp.logaddexp, xlogy=jax.scipy.special.xlogy, relu=jax.nn.relu,
        sigmoid=jax.nn.sigmoid, softplus=softplus, sum=jnp.sum, mean=jnp.mean,
        amax=lambda x, axis: jnp.max(x, axis=axis),
        softmax=lambda x, axis: jax.nn.softmax(x, axis=axis),
        log_softmax=lambda x, axis: jax.nn.log_softmax(x, axis=axis),
        clip_min=jnp.maximum,
        take1=lambda x, idx: jnp.take_along_axis(x, idx[:, None], axis=1)[:, 0],
        bce_logits=lambda x, t: (1 - t) * x + softplus(-x),
        smooth_l1=smooth_l1, cat=lambda xs: jnp.concatenate(xs, 0), arange=jnp.arange,
        atan=jnp.arctan, stop_gradient=jax.lax.stop_gradient,
        cumsum=lambda x, axis: jnp.cumsum(x, axis=axis),
        sort_desc=sort_desc,
        gather=lambda x, idx, axis: jnp.take_along_axis(x, idx, axis=axis),
        one_hot=lambda t, c, like: jnp.moveaxis(jax.nn.one_hot(t, c, dtype=like.dtype), -1, 1),
        swapaxes=jnp.swapaxes,
        concat=lambda xs, axis: jnp.concatenate(xs, axis=axis))


# ------------------------------------------ formulas (building blocks, then per loss)

def _class_logp(ns, x, t, ignore_index):
    """log softmax over axis 1, the log-probability of each target class, and
    the mask of targets that are not ignored (ignored ones gather class 0)."""
    logp = ns.log_softmax(x, 1)
    valid = t != ignore_index
    return logp, ns.take1(logp, ns.where(valid, t, 0)), valid


def _masked_mean(ns, l, valid):
    return ns.sum(ns.where(valid, l, 0.0)) / ns.sum(valid)


def _sigmoid_focal_terms(ns, x, t, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss, reduction "none"."""
    p = ns.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    l = ns.bce_logits(x, t) * (1 - p_t) ** gamma
    if alpha >= 0:
        l = (alpha * t + (1 - alpha) * (1 - t)) * l
    return l


def _pdist(ns, x, y, p, eps):
    """torch.pairwise_distance: ||x - y + eps||_p over the last axis."""
    v = x - y + eps
    if p == 2:
        return ns.sqrt(ns.sum(v * v, -1))
    if p == 1:
        return ns.sum(ns.abs(v), -1)
    return ns.sum(ns.abs(v) ** p, -1) ** (1.0 / p)


def _kl_gaussian_rows(ns, mu, logvar):
    return -0.5 * ns.sum(1 + logvar - mu * mu - ns.exp(logvar), -1)


def _gan_terms(ns, kind):
    """(real term, fake term) of the discriminator (SPEC 3)."""
    return {"bce": (lambda r: ns.softplus(-r), ns.softplus),
            "hinge": (lambda r: ns.relu(1 - r), lambda f: ns.relu(1 + f)),
            "wasserstein": (lambda r: -r, lambda f: f),
            "lsgan": (lambda r: 0.5 * (r - 1) ** 2, lambda f: 0.5 * f * f)}[kind]


_ACTIVATIONS = {None: lambda ns, x: x, "sigmoid": lambda ns, x: ns.sigmoid(x),
                "softmax": lambda ns, x: ns.softmax(x, 1)}


def _region_sums(ns, p, t, squared=False, batch=False):
    """Per (sample, class) sums over the spatial axes: sum(p t), sum(p), sum(t)
    (sum(p^2), sum(t^2) when squared); per class over the batch too when batch."""
    axes = ((0,) if batch else ()) + tuple(range(2, p.ndim))
    if squared:
        p2, t2 = p * p, t * t
    else:
        p2, t2 = p, t
    return ns.sum(p * t, axes), ns.sum(p2, axes), ns.sum(t2, axes)


def _dice_nc(ns, p, t, smooth, squared=False, batch=False):
    inter, sp, st = _region_sums(ns, p, t, squared, batch)
    return 1 - (2 * inter + smooth) / (sp + st + smooth)


def _f_mse(ns, o):
    return lambda p, t: ns.mean((p - t) ** 2)


def _f_mae(ns, o):
    return lambda p, t: ns.mean(ns.abs(p - t))


def _f_huber(ns, o):
    dl = o["delta"]

    def f(p, t):
        r = p - t
        a = ns.abs(r)
        return ns.mean(ns.where(a <= dl, 0.5 * r * r, dl * (a - 0.5 * dl)))
    return f


def _f_smooth_l1(ns, o):
    return lambda p, t: ns.mean(ns.smooth_l1(p, t, o["beta"]))


def _f_log_cosh(ns, o):
    ln2 = math.log(2.0)

    def f(p, t):
        r = p - t
        return ns.mean(ns.logaddexp(r, -r) - ln2)
    return f


def _f_quantile(ns, o):
    q = o["q"]

    def f(p, t):
        u = t - p
        return ns.mean(ns.maximum(q * u, (q - 1) * u))
    return f


def _f_cross_entropy(ns, o):
    eps = o["label_smoothing"]

    def f(x, t):
        logp, lp_t, valid = _class_logp(ns, x, t, o["ignore_index"])
        l = -lp_t
        if eps:   # PyTorch: (1 - eps) * nll + eps * mean over classes of -log p
            l = (1 - eps) * l - eps * ns.mean(logp, 1)
        return _masked_mean(ns, l, valid)
    return f


def _f_softmax_focal(ns, o):
    alpha, gamma = o["alpha"], o["gamma"]

    def f(x, t):
        _, lp_t, valid = _class_logp(ns, x, t, o["ignore_index"])
        l = -(1 - ns.exp(lp_t)) ** gamma * lp_t
        return _masked_mean(ns, l if alpha is None else alpha * l, valid)
    return f


def _f_binary_cross_entropy(ns, o):
    return lambda p, t: -ns.mean(t * ns.clip_min(ns.log(p), -100.0)
                                 + (1 - t) * ns.clip_min(ns.log1p(-p), -100.0))


def _f_binary_cross_entropy_with_logits(ns, o):
    return lambda x, t: ns.mean(ns.bce_logits(x, t))


def _f_sigmoid_focal(ns, o):
    return lambda x, t: ns.mean(_sigmoid_focal_terms(ns, x, t, o["alpha"], o["gamma"]))


def _f_triplet(ns, o):
    margin, p, eps, swap = o["margin"], o["p"], o["eps"], o["swap"]

    def f(a, pos, neg):
        d_neg = _pdist(ns, a, neg, p, eps)
        if swap:
            d_neg = ns.minimum(d_neg, _pdist(ns, pos, neg, p, eps))
        return ns.mean(ns.relu(_pdist(ns, a, pos, p, eps) - d_neg + margin))
    return f


def _f_contrastive(ns, o):
    margin = o["margin"]

    def f(x1, x2, s):
        d2 = ns.sum((x1 - x2) ** 2, -1)
        return ns.mean(s * d2 + (1 - s) * ns.relu(margin - ns.sqrt(d2)) ** 2)
    return f


def _f_kl_gaussian(ns, o):
    return lambda mu, logvar: ns.mean(_kl_gaussian_rows(ns, mu, logvar))


def _f_kl_div(ns, o):
    if o["log_target"]:
        return lambda log_q, p: ns.mean(ns.exp(p) * (p - log_q))
    return lambda log_q, p: ns.mean(ns.xlogy(p, p) - p * log_q)


def _f_vae(ns, o):
    beta, mse = o["beta"], o["recon_loss"] == "mse"

    def f(recon, x, mu, logvar):
        n = recon.shape[0]
        rec = (recon - x) ** 2 if mse else ns.bce_logits(recon, x)
        kl = _kl_gaussian_rows(ns, mu.reshape(n, -1), logvar.reshape(n, -1))
        return ns.mean(ns.sum(rec.reshape(n, -1), 1) + beta * kl)
    return f


def _f_gan_discriminator(ns, o):
    real, fake = _gan_terms(ns, o["kind"])
    return lambda r, f: ns.mean(real(r)) + ns.mean(fake(f))


def _f_gan_generator(ns, o):
    # the generator's term is the discriminator's real term (-f for hinge)
    term = _gan_terms(ns, "wasserstein" if o["kind"] == "hinge" else o["kind"])[0]
    return lambda f: ns.mean(term(f))


def _region_pt(ns, o):
    """x, t -> (p, t): the activation, then class 0 dropped without the
    background (SPEC 6.4; the softmax spans every class)."""
    act = _ACTIVATIONS[o["from_logits"]]
    c0 = 0 if o.get("include_background", True) else 1
    return lambda x, t: (act(ns, x)[:, c0:], t[:, c0:])


def _f_dice(ns, o):
    pt, batch = _region_pt(ns, o), o.get("batch", False)
    return lambda x, t: ns.mean(_dice_nc(ns, *pt(x, t), o["smooth"], o["squared"], batch))


def _f_iou(ns, o):
    pt, s, batch = _region_pt(ns, o), o["smooth"], o.get("batch", False)

    def f(x, t):
        inter, sp, st = _region_sums(ns, *pt(x, t), batch=batch)
        return ns.mean(1 - (inter + s) / (sp + st - inter + s))
    return f


def _f_tversky(ns, o):
    pt, s, batch = _region_pt(ns, o), o["smooth"], o.get("batch", False)
    a, b, g = o["alpha"], o["beta"], o["gamma"]

    def f(x, t):
        inter, sp, st = _region_sums(ns, *pt(x, t), batch=batch)
        base = 1 - (inter + s) / (inter + a * (sp - inter) + b * (st - inter) + s)
        return ns.mean(base if g == 1 else base ** g)
    return f


def _f_generalized_dice(ns, o):
    pt, s, wt = _region_pt(ns, o), o["smooth"], o["weight_type"]

    def f(x, t):
        p, t = pt(x, t)
        inter, sp, st = _region_sums(ns, p, t)
        if wt == "uniform":
            w = st * 0 + 1
        else:
            # 1/T^2 (1/T); a class absent from the sample (T = 0, infinite
            # weight) takes the sample's largest finite weight (for T >= 0)
            pos = st > 0
            safe = ns.where(pos, st, 1.0)
            w = ns.where(pos, 1 / (safe * safe) if wt == "square" else 1 / safe, 0.0)
            w = ns.where(pos, w, ns.amax(w, 1)[:, None])
        return ns.mean(1 - (2 * ns.sum(w * inter, 1) + s) / (ns.sum(w * (sp + st), 1) + s))
    return f


def _f_dice_bce(ns, o):
    dw, bw, s = o["dice_weight"], o["bce_weight"], o["smooth"]
    return lambda x, t: (dw * ns.mean(_dice_nc(ns, ns.sigmoid(x), t, s))
                         + bw * ns.mean(ns.bce_logits(x, t)))


def _f_focal_smooth_l1(ns, o):
    def f(x, t, box_pred, box_target):
        pos = ns.amax(t, 1) > 0   # anchors with any positive class target
        box = ns.sum(ns.smooth_l1(box_pred, box_target, o["beta"]), 1)
        total = (ns.sum(_sigmoid_focal_terms(ns, x, t, o["alpha"], o["gamma"]))
                 + ns.sum(ns.where(pos, box, 0.0)))
        return total / ns.clip_min(ns.sum(pos), 1)
    return f


def _f_poisson(ns, o):
    dev = o["deviance"]

    def f(x, y):
        mu = ns.exp(x)
        if dev:
            return ns.mean(2 * (ns.xlogy(y, y) - y * x - y + mu))
        return ns.mean(mu - y * x)
    return f


def _f_gamma(ns, o):
    dev = o["deviance"]

    def f(x, y):
        ye = y * ns.exp(-x)
        if dev:
            return ns.mean(2 * (x - ns.log(y) + ye - 1))
        return ns.mean(x + ye)
    return f


def _f_tweedie(ns, o):
    p, dev = o["power"], o["deviance"]

    def f(x, y):
        if p == 0:
            l, c = 0.5 * (ns.exp(x) - y) ** 2, 0.0
        elif p == 1:
            l, c = ns.exp(x) - y * x, ns.xlogy(y, y) - y
        elif p == 2:
            l, c = x + y * ns.exp(-x), -ns.log(y) - 1
        else:
            l = ns.exp((2 - p) * x) / (2 - p) - y * ns.exp((1 - p) * x) / (1 - p)
            c = ns.relu(y) ** (2 - p) / ((1 - p) * (2 - p))
        return ns.mean(2 * (l + c) if dev else l)
    return f


def _f_exponential(ns, o):
    return lambda x, y: ns.mean(y * ns.exp(-x) + (1 - y) * ns.exp(x))


def _f_pseudo_huber(ns, o):
    d = o["delta"]
    return lambda p, t: ns.mean(d * d * (ns.sqrt(1 + ((p - t) / d) ** 2) - 1))


def _f_fair(ns, o):
    c = o["c"]

    def f(p, t):
        x = ns.abs(p - t) / c
        return ns.mean(c * c * (x - ns.log1p(x)))
    return f


def _f_expectile(ns, o):
    tau = o["tau"]

    def f(p, t):
        u = t - p
        return ns.mean(ns.where(u < 0, 1 - tau, tau) * u * u)
# metric learning (SPEC 6.3): the N x N matrix written as a PyTorch / JAX user would

def _l2n(ns, x):
    """F.normalize: x / max(||x||, 1e-12) per row."""
    return x / ns.clip_min(ns.sqrt(ns.sum(x * x, -1)), 1e-12)[:, None]


def _f_info_nce(ns, o):
    t, norm, sym = o["temperature"], o["normalize"], o["symmetric"]

    def f(q, k):
        if norm:
            q, k = _l2n(ns, q), _l2n(ns, k)
        s = (q @ k.T) / t
        idx = ns.arange(s.shape[0])
        l = -ns.mean(ns.take1(ns.log_softmax(s, 1), idx))
        if sym:
            l = 0.5 * (l - ns.mean(ns.take1(ns.log_softmax(s.T, 1), idx)))
        return l
    return f


def _f_nt_xent(ns, o):
    t = o["temperature"]

    def f(z1, z2):
        z = _l2n(ns, ns.cat([z1, z2]))
        m = z.shape[0]
        idx = ns.arange(m)
        s = ns.where(idx[:, None] == idx[None, :], -float("inf"), (z @ z.T) / t)
        return -ns.mean(ns.take1(ns.log_softmax(s, 1), (idx + m // 2) % m))
    return f


def _f_supcon(ns, o):
    t = o["temperature"]

    def f(x, y):
        z = _l2n(ns, x)
        idx = ns.arange(z.shape[0])
        eye = idx[:, None] == idx[None, :]
        logp = ns.log_softmax(ns.where(eye, -float("inf"), (z @ z.T) / t), 1)
        pos = (y[:, None] == y[None, :]) & ~eye
        npos = ns.sum(pos, 1)
        per = -ns.sum(ns.where(pos, logp, 0.0), 1) / ns.clip_min(npos, 1)
        return ns.sum(ns.where(npos > 0, per, 0.0)) / ns.clip_min(ns.sum(npos > 0), 1)
    return f


def _f_batch_triplet(ns, o):
    margin, mining, squared = o["margin"], o["mining"], o["squared"]

    def f(x, y):
        sq = ns.sum(x * x, -1)
        d2 = ns.clip_min(sq[:, None] + sq[None, :] - 2 * (x @ x.T), 0.0)
        # sqrt with a zero gradient at 0 (SPEC 3a) and no nan from the diagonal
        d = d2 if squared else ns.where(d2 > 0, ns.sqrt(ns.where(d2 > 0, d2, 1.0)), 0.0)
        idx = ns.arange(x.shape[0])
        same = y[:, None] == y[None, :]
        pos = same & (idx[:, None] != idx[None, :])
        neg = ~same
        if mining == "batch_hard":
            valid = (ns.sum(pos, 1) > 0) & (ns.sum(neg, 1) > 0)
            dap = ns.amax(ns.where(pos, d, -float("inf")), 1)
            dan = -ns.amax(ns.where(neg, -d, -float("inf")), 1)
            l = ns.where(valid, ns.relu(dap - dan + margin), 0.0)
            return ns.sum(l) / ns.clip_min(ns.sum(valid), 1)
        # batch_all: an N x N x N tensor (what the one-liner costs)
        h = d[:, :, None] - d[:, None, :] + margin
        ok = pos[:, :, None] & neg[:, None, :] & (h > 0)
        return ns.sum(ns.where(ok, h, 0.0)) / ns.clip_min(ns.sum(ok), 1)
    return f


def _f_margin_ranking(ns, o):
    m = o["margin"]
    return lambda x1, x2, y: ns.mean(ns.relu(-y * (x1 - x2) + m))


def _f_cosine_embedding(ns, o):
    m = o["margin"]

    def f(x1, x2, y):
        cos = ns.sum(x1 * x2, -1) / ns.sqrt((ns.sum(x1 * x1, -1) + 1e-12) * (ns.sum(x2 * x2, -1) + 1e-12))
        return ns.mean(ns.where(y > 0, 1 - cos, ns.relu(cos - m)))


def _lovasz_groups(ns, p, lab, all_classes):
    """Berman's lovasz_softmax_flat for groups g: p (g, C, M) probabilities,
    lab (g, M) labels -> per-group losses (g,) (mean over counted classes, 0
    when none is).  Stable decreasing sort, as pyloss."""
    C = p.shape[1]
    fg = ns.one_hot(lab, C, p)
    errors = ns.abs(fg - p)
    errors_sorted, perm = ns.sort_desc(errors, 2)
    fg_sorted = ns.gather(fg, perm, 2)
    gts = ns.sum(fg_sorted, 2)[..., None]
    jac = 1 - (gts - ns.cumsum(fg_sorted, 2)) / (gts + ns.cumsum(1 - fg_sorted, 2))
    g = ns.concat([jac[..., :1], jac[..., 1:] - jac[..., :-1]], 2)
    per_class = ns.sum(errors_sorted * g, 2)
    counted = ns.where(gts[..., 0] > 0, 1.0, 1.0 if all_classes else 0.0)
    k = ns.sum(counted, 1)
    return ns.sum(per_class * counted, 1) / ns.clip_min(k, 1.0)


def _f_lovasz_softmax(ns, o):
    act = _ACTIVATIONS[o["from_logits"]]
    all_classes = o["classes"] == "all"

    def f(x, lab):
        p = act(ns, x)
        N, C = p.shape[0], p.shape[1]
        if o["per_image"]:
            return ns.mean(_lovasz_groups(ns, p.reshape(N, C, -1), lab.reshape(N, -1),
                                          all_classes))
        pc = ns.swapaxes(p.reshape(N, C, -1), 0, 1).reshape(1, C, -1)
        return ns.sum(_lovasz_groups(ns, pc, lab.reshape(1, -1), all_classes))
    return f


def _box_terms(ns, b1, b2, eps):
    """torchvision's _loss_inter_union and enclosing box (torchvision/ops/_utils.py,
    giou_loss.py): iou, union, enclosing width/height, the boxes' sides."""
    x1, y1, x2, y2 = b1[..., 0], b1[..., 1], b1[..., 2], b1[..., 3]
    x1g, y1g, x2g, y2g = b2[..., 0], b2[..., 1], b2[..., 2], b2[..., 3]
    iw = ns.minimum(x2, x2g) - ns.maximum(x1, x1g)
    ih = ns.minimum(y2, y2g) - ns.maximum(y1, y1g)
    inter = ns.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    cw = ns.maximum(x2, x2g) - ns.minimum(x1, x1g)
    ch = ns.maximum(y2, y2g) - ns.minimum(y1, y1g)
    return inter / (union + eps), union, cw, ch, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g)


def _diou_terms(ns, b1, b2, eps):
    iou, _, cw, ch, (x1, y1, x2, y2), (x1g, y1g, x2g, y2g) = _box_terms(ns, b1, b2, eps)
    dist = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + dist / (cw ** 2 + ch ** 2 + eps), iou


def _f_giou(ns, o):
    def f(b1, b2):
        iou, union, cw, ch, _, _ = _box_terms(ns, b1, b2, o["eps"])
        area_c = cw * ch
        return ns.mean(1 - iou + (area_c - union) / (area_c + o["eps"]))
    return f


def _f_diou(ns, o):
    return lambda b1, b2: ns.mean(_diou_terms(ns, b1, b2, o["eps"])[0])


def _f_ciou(ns, o):
    eps = o["eps"]

    def f(b1, b2):
        d, iou = _diou_terms(ns, b1, b2, eps)
        w, h = b1[..., 2] - b1[..., 0], b1[..., 3] - b1[..., 1]
        wg, hg = b2[..., 2] - b2[..., 0], b2[..., 3] - b2[..., 1]
        v = (4 / math.pi ** 2) * (ns.atan(wg / hg) - ns.atan(w / h)) ** 2
        alpha = ns.stop_gradient(v / (1 - iou + v + eps))
        return ns.mean(d + alpha * v)
    return f


_FORMULAS = {
    "poisson": _f_poisson, "gamma": _f_gamma, "tweedie": _f_tweedie,
    "exponential": _f_exponential, "pseudo_huber": _f_pseudo_huber, "fair": _f_fair,
    "expectile": _f_expectile,
    "mse": _f_mse, "mae": _f_mae, "huber": _f_huber, "smooth_l1": _f_smooth_l1,
    "log_cosh": _f_log_cosh, "quantile": _f_quantile, "cross_entropy": _f_cross_entropy,
    "softmax_focal": _f_softmax_focal, "binary_cross_entropy": _f_binary_cross_entropy,
    "binary_cross_entropy_with_logits": _f_binary_cross_entropy_with_logits,
    "sigmoid_focal": _f_sigmoid_focal, "triplet": _f_triplet, "contrastive": _f_contrastive,
    "kl_gaussian": _f_kl_gaussian, "kl_div": _f_kl_div, "vae": _f_vae,
    "gan_discriminator": _f_gan_discriminator, "gan_generator": _f_gan_generator, "dice": _f_dice,
    "iou": _f_iou, "dice_bce": _f_dice_bce, "focal_smooth_l1": _f_focal_smooth_l1,
    "tversky": _f_tversky, "generalized_dice": _f_generalized_dice,
    "info_nce": _f_info_nce, "nt_xent": _f_nt_xent, "supcon": _f_supcon,
    "batch_triplet": _f_batch_triplet, "margin_ranking": _f_margin_ranking,
    "cosine_embedding": _f_cosine_embedding,
    "lovasz_softmax": _f_lovasz_softmax, "giou": _f_giou, "diou": _f_diou, "ciou": _f_ciou}


def _applies(name, arrays, o):
    """Whether the peers' formulas are pyloss's for these inputs and options
    (no weights, class-index targets, one-hot segmentation targets...)."""
    if o.get("weight") is not None or o.get("pos_weight") is not None \
            or o.get("reduction", "mean") != "mean":
        return False
    arrays = [np.asarray(a) for a in arrays]
    if name in ("cross_entropy", "softmax_focal"):
        x, t = arrays
        return (x.ndim >= 2 and t.dtype.kind in "iu" and t.shape == x.shape[:1] + x.shape[2:]
                and np.ndim(o.get("alpha")) == 0)
    if name in ("dice", "iou", "dice_bce", "tversky", "generalized_dice"):
        return (arrays[0].ndim >= 2 and arrays[1].shape == arrays[0].shape
                and o.get("ignore_index") is None)
    if name == "lovasz_softmax":
        return o.get("ignore_index") is None
    return True


def _formula(name, ns, o):
    make = _FORMULAS.get(name)
    return make(ns, o) if make is not None else None


def _diff_positions(loss):
    """Positions in `loss.inputs` of the differentiable inputs (`loss.diff`)."""
    return tuple(loss.inputs.index(d) for d in loss.diff if d in loss.inputs)


def _diff_of(name, diff):
    if diff is not None:
        return tuple(diff)
    import pyloss as pl
    return _diff_positions(pl.get(name))


def _torch_native(torch, name, o):
    """PyTorch's own function for the loss (what a PyTorch user calls), or None."""
    F = torch.nn.functional
    if name == "mse":
        return lambda p, t: F.mse_loss(p, t)
    if name == "mae":
        return lambda p, t: F.l1_loss(p, t)
    if name == "huber":
        return lambda p, t: F.huber_loss(p, t, delta=o["delta"])
    if name == "smooth_l1":
        return lambda p, t: F.smooth_l1_loss(p, t, beta=o["beta"])
    if name == "log_cosh":
        ln2 = math.log(2.0)
        return lambda p, t: torch.mean((p - t).abs() + F.softplus(-2 * (p - t).abs()) - ln2)
    if name == "quantile":
        q = o["q"]
        return lambda p, t: torch.mean(torch.maximum(q * (t - p), (q - 1) * (t - p)))
    if name == "cross_entropy":
        return lambda x, t: F.cross_entropy(x, t.long(), ignore_index=o["ignore_index"],
                                            label_smoothing=o["label_smoothing"])
    if name == "binary_cross_entropy_with_logits":
        return lambda x, t: F.binary_cross_entropy_with_logits(x, t)
    if name == "binary_cross_entropy":
        return lambda p, t: F.binary_cross_entropy(p, t)
    if name == "kl_div":
        # reduction="mean" is this mean, but warns of a future change
        return lambda log_q, p: F.kl_div(log_q, p, reduction="none",
                                         log_target=o["log_target"]).mean()
    if name == "margin_ranking":
        return lambda x1, x2, y: F.margin_ranking_loss(x1, x2, y, margin=o["margin"])
    if name == "cosine_embedding":
        return lambda x1, x2, y: F.cosine_embedding_loss(x1, x2, y, margin=o["margin"])
    if name == "triplet":
        return lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=o["margin"], p=o["p"],
                                                     eps=o["eps"], swap=o["swap"])
    return None


def _torch_fn(torch, name, o):
    """A function of the input tensors (loss.inputs order) giving the mean loss, or None."""
    return _torch_native(torch, name, o) or _formula(name, _torch_ops(torch), o)


def _torch_peer(name, arrays, o, threads, diff=None):
    """(forward, forward+backward) in PyTorch; backward to every input in
    `diff` (positions, default the loss's differentiable inputs)."""
    try:
        import torch
    except ImportError:
        return None
    if not _applies(name, arrays, o):
        return None
    f = _torch_fn(torch, name, o)
    if f is None:
        return None
    torch.set_num_threads(threads)
    diff = _diff_of(name, diff)
    X = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    leaves = [X[i].clone().requires_grad_(True) for i in diff]
    Xg = list(X)
    for i, leaf in zip(diff, leaves):
        Xg[i] = leaf

    def v():
        with torch.no_grad():
            return f(*X)

    def vg():
        for leaf in leaves:
            leaf.grad = None
        y = f(*Xg)
        y.backward()
        g = tuple(leaf.grad for leaf in leaves)
        return y, (g[0] if len(g) == 1 else g)
    return v, vg


def _jax_peer(name, arrays, o, diff=None):
    """(jit(f), jit(value_and_grad(f, argnums=diff))) in JAX."""
    try:
        import jax
    except ImportError:
        return None
    if not _applies(name, arrays, o):
        return None
    if any(np.asarray(a).dtype == np.float64 for a in arrays):
        jax.config.update("jax_enable_x64", True)
    f = _formula(name, _jax_ops(jax), o)
    if f is None:
        return None
    diff = _diff_of(name, diff)
    args = [jax.device_put(np.asarray(a)) for a in arrays]
    jv = jax.jit(f)
    jvg = jax.jit(jax.value_and_grad(f, argnums=diff[0] if len(diff) == 1 else diff))

    def v():
        return jv(*args).block_until_ready()

    def vg():
        return jax.block_until_ready(jvg(*args))
    return v, vg


def _sklearn_peer(name, arrays, o, threads):
    try:
        from sklearn._loss import loss as skl
    except ImportError:
        return None
    if o.get("weight") is not None or len(arrays) != 2:
        return None
    p, t = arrays
    if name == "mse":
        L = skl.HalfSquaredError()
    elif name == "mae":
        L = skl.AbsoluteError()
    elif name == "quantile":
        L = skl.PinballLoss(quantile=o["q"])
    elif name == "binary_cross_entropy_with_logits" and o.get("pos_weight") is None:
        L = skl.HalfBinomialLoss()
    elif name in ("poisson", "gamma", "tweedie", "exponential") and not o.get("deviance"):
        L = {"poisson": skl.HalfPoissonLoss, "gamma": skl.HalfGammaLoss,
             "exponential": skl.ExponentialLoss}.get(name)
        L = L() if L is not None else skl.HalfTweedieLoss(power=o["power"])
    elif name == "cross_entropy" and p.ndim == 2 and t.dtype.kind in "iu" \
            and o.get("label_smoothing", 0.0) == 0.0 and (t >= 0).all():
        L = skl.HalfMultinomialLoss(n_classes=p.shape[1])
        t = t.astype(p.dtype)
    else:
        return None
    yt = np.ascontiguousarray(t, dtype=p.dtype)
    raw = np.ascontiguousarray(p)
    lo = np.empty(yt.shape, p.dtype)
    go = np.empty_like(raw)

    def v():
        return L.loss(yt, raw, loss_out=lo, n_threads=threads).mean()

    def vg():
        l, g = L.loss_gradient(yt, raw, loss_out=lo, gradient_out=go, n_threads=threads)
        return l.mean(), g
    return v, vg


def _versions():
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("numba", "torch", "jax", "jaxlib", "sklearn", "cffi"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except Exception:
                continue
        out[mod if mod != "sklearn" else "scikit-learn"] = getattr(m, "__version__", "?")
    return out


def _loadavg():
    try:
        return round(os.getloadavg()[0], 1)
    except (OSError, AttributeError):
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------- timing

class Impl:
    def __init__(self, label, kind, fn):
        self.label, self.kind, self.fn = label, kind, fn
        self.number = 1
        self.samples = []
        self.error = None


def _calibrate(impl, sample_s):
    fn = impl.fn
    try:
        fn()  # warm-up: JIT compiles, first-touch, caches
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
    except Exception as exc:  # a peer that cannot run this case
        impl.error = f"{type(exc).__name__}: {exc}"
        return
    impl.number = max(1, min(100_000, int(sample_s / max(dt, 1e-7))))


def _time_group(impls, repeat, sample_s, settle_s):
    """Interleaved samples.  Before each sample: a pause of `settle_s`, so that
    the previous implementation's thread pool (PyTorch, scikit-learn and pyloss
    each bring an OpenMP runtime, whose idle threads spin for a while) has gone
    to sleep and does not steal the cores, then one untimed call to wake this
    implementation's own pool."""
    live = [i for i in impls if i.error is None]
    for i in live:
        _calibrate(i, sample_s)
    live = [i for i in live if i.error is None]
    perf = time.perf_counter
    for r in range(repeat):
        k = r % len(live) if live else 0
        for impl in live[k:] + live[:k]:   # rotate the order each round
            fn, num = impl.fn, impl.number
            if settle_s:
                time.sleep(settle_s)
            fn()
            t = perf()
            for _ in range(num):
                fn()
            impl.samples.append((perf() - t) / num)


# ---------------------------------------------------------------- the run

def _diff_bytes(loss, arrays):
    return sum(np.asarray(arrays[i]).size * np.dtype(np.asarray(arrays[0]).dtype).itemsize
               for i in _diff_positions(loss))


def _in_bytes(arrays):
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def _pyloss_impls(loss, arrays, opts, op, backends, with_out):
    out = []
    for b in backends:
        if op == "value":
            fn = (lambda b=b: loss(*arrays, backend=b, **opts))
        else:
            fn = (lambda b=b: loss.value_and_grad(*arrays, backend=b, **opts))
        label = "pyloss " + b if b != "numpy" else "numpy-ref"
        out.append(Impl(label, PYLOSS_KIND if b != "numpy" else "peer", fn))
    if with_out and op == "vg" and len(loss.diff) == 1:
        buf = np.empty_like(np.asarray(arrays[0]),
                            dtype=np.float32 if arrays[0].dtype == np.float16 else arrays[0].dtype)
        out.append(Impl("pyloss auto out=", PYLOSS_KIND,
                        lambda: loss.value_and_grad(*arrays, out=buf, **opts)))
    return out


def _peer_impls(name, loss, arrays, opts, op, threads, no_peers):
    o = _opts_of(loss, opts)
    rows = []
    diff = _diff_positions(loss)
    makers = [("numpy", lambda: _numpy_peer(name, arrays, o))]
    if not no_peers:
        makers += [("torch", lambda: _torch_peer(name, arrays, o, threads, diff)),
                   ("jax", lambda: _jax_peer(name, arrays, o, diff)),
                   ("sklearn", lambda: _sklearn_peer(name, arrays, o, threads))]
    for label, make in makers:
        try:
            fns = make()
        except Exception:
            fns = None
        if fns is None:
            continue
        v, vg = fns
        if label == "torch":
            label = "torch fwd" if op == "value" else "torch fwd+bwd"
        elif label == "jax":
            label = "jax jit" if op == "value" else "jax jit v&g"
        rows.append(Impl(label, "peer", v if op == "value" else vg))
    return rows


def run(args):
    import pyloss as pl

    quick = args.quick
    threads = args.threads or (os.cpu_count() or 1)
    pl.set_num_threads(threads)
    repeat = args.repeat or (5 if quick else 7)
    sample_s = (args.sample_ms or (2.0 if quick else 10.0)) / 1e3
    settle_s = args.settle_ms / 1e3
    dtype = np.dtype(args.dtype)
    ops = tuple(o.strip() for o in args.ops.split(",") if o.strip())
    for o in ops:
        if o not in OPS:
            raise SystemExit(f"pyloss bench: --ops: expected value or vg, got {o!r}")

    have = [n for n in pl.losses() if pl.get(n).example is not None]
    if args.losses:
        names = [s.strip() for s in args.losses.split(",") if s.strip()]
        unknown = [n for n in names if n not in pl.losses()]
        if unknown:
            raise SystemExit(f"pyloss bench: unknown loss(es) {unknown}; known: {', '.join(pl.losses())}")
        names = [n for n in names if n in have]
    elif quick:
        names = [n for n in QUICK_LOSSES if n in have]
    else:
        names = have
    sizes = _parse_sizes(args.sizes) if args.sizes else (QUICK_SIZES if quick else FULL_SIZES)
    backends = ["auto"] + [b for b in pl.backends()]
    if args.backends:
        want = [b.strip() for b in args.backends.split(",") if b.strip()]
        backends = [b for b in want if b == "auto" or b in pl.backends()]

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit("pyloss bench: --plot needs matplotlib (pip install \"pyloss[plot]\")")

    sys.stderr.write("pyloss bench: measuring memory bandwidth and exp/log cost...\n")
    bw0 = measure_bandwidth()
    el0 = measure_explog(dtype)
    results = []
    prog = _Progress(len(names) * len(sizes) * len(ops))
    rng = np.random.default_rng(args.seed)
    for name in names:
        loss = pl.get(name)
        for n in sizes:
            try:
                if args.classes and "C" in inspect.signature(loss.example).parameters:
                    arrays, opts = loss.example(rng, n, dtype, C=args.classes)
                else:
                    arrays, opts = loss.example(rng, n, dtype)
            except Exception as exc:
                for op in ops:
                    prog.step(f"{name} n={_fmt_n(n)} {op}: example failed ({exc})")
                continue
            arrays = tuple(arrays)
            nel = int(np.asarray(arrays[0]).size)
            for op in ops:
                impls = _pyloss_impls(loss, arrays, opts, op, backends, args.out)
                peers = _peer_impls(name, loss, arrays, opts, op, threads, args.no_peers)
                if quick and any(i.label == "numpy" for i in peers):
                    # the float64 reference is slow and not what users write
                    impls = [i for i in impls if i.label != "numpy-ref"]
                impls += peers
                _time_group(impls, repeat, sample_s, settle_s)
                rin = _in_bytes(arrays)
                n_exp, n_log = explog_counts(name, arrays, opts)
                rout = _diff_bytes(loss, arrays) if op == "vg" else 0
                for i in impls:
                    s = sorted(i.samples)
                    results.append({
                        "loss": name, "n": n, "elements": nel, "dtype": dtype.name, "op": op,
                        "impl": i.label, "kind": i.kind, "error": i.error,
                        "median": float(np.median(s)) if s else None,
                        "min": s[0] if s else None, "max": s[-1] if s else None,
                        "samples": s, "number": i.number,
                        "bytes_in": rin, "bytes_out": rout, "n_exp": n_exp, "n_log": n_log})
                prog.step(f"{name} n={_fmt_n(n)} {op}")
    prog.close()
    bw1 = measure_bandwidth()
    bw = {"read": max(bw0["read"], bw1["read"]), "copy": max(bw0["copy"], bw1["copy"]),
          "threads": bw0["threads"], "nbytes": bw0["nbytes"]}
    el1 = measure_explog(dtype)
    explog = {k: min(el0[k], el1[k]) for k in el0}
    for r in results:
        # The floor: the inputs read once at read bandwidth, the gradient
        # written once (read+write counted as by the copy bandwidth).
        r["floor"] = r["bytes_in"] / bw["read"] + (r["bytes_out"] / (bw["copy"] / 2)
                                                   if r["bytes_out"] else 0.0)
        # The exp/log compute floor: NumPy's SIMD cost per exp and per log,
        # spread over the run's threads (None where the loss needs neither).
        r["floor_explog"] = ((r["n_exp"] * explog["exp"] + r["n_log"] * explog["log"])
                             / max(1, threads)) if r["n_exp"] or r["n_log"] else None
    header = _header(pl, threads, dtype, repeat, sample_s, bw)
    header["explog_s_per_element"] = explog
    text = _render(header, results)
    sys.stdout.write(text)
    if args.compare:
        sys.stdout.write(_compare(results, args.compare))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)
        sys.stderr.write(f"pyloss bench: wrote {args.json}\n")
    if args.plot:
        _plot(results, args.plot)
        sys.stderr.write(f"pyloss bench: wrote {args.plot}\n")
    return 0


def _header(pl, threads, dtype, repeat, sample_s, bw):
    try:
        from pyloss import _c
        flags = _c.ffi.string(_c.lib.PL_BUILD_FLAGS).decode() if _c.lib is not None else "(no C build)"
    except Exception:
        flags = "?"
    return {"pyloss": pl.__version__, "backends": list(pl.backends()), "threads": threads,
            "cpus": os.cpu_count(), "cpu": _cpu_model(), "platform": platform.platform(),
            "dtype": dtype.name, "repeat": repeat, "sample_s": sample_s, "c_flags": flags,
            "versions": _versions(), "bandwidth": bw, "loadavg": _loadavg(),
            "command": "pyloss bench " + " ".join(sys.argv[2:] if len(sys.argv) > 1
                                                   and sys.argv[1] == "bench" else sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _groups(results):
    groups = {}
    for r in results:
        groups.setdefault((r["loss"], r["n"], r["op"]), []).append(r)
    return groups


def _baselines(rows):
    ok = [r for r in rows if r["median"] is not None]
    numpy_row = next((r for r in ok if r["impl"] == "numpy"), None) or \
        next((r for r in ok if r["impl"] == "numpy-ref"), None)
    peers = [r for r in ok if r["kind"] == "peer"]
    best = min(peers, key=lambda r: r["median"]) if peers else None
    return numpy_row, best


def _render(h, results):
    bw = h["bandwidth"]
    v = ", ".join(f"{k} {x}" for k, x in h["versions"].items())
    lines = [
        f"pyloss {h['pyloss']} bench  {h['date']}",
        f"machine: {h['cpu']}, {h['cpus']} CPUs, {h['platform']}, load average "
        f"{h.get('loadavg')} at the end (other work competing for the CPUs)",
        f"versions: {v}",
        f"backends: {', '.join(h['backends'])}; threads {h['threads']}; dtype {h['dtype']}; "
        f"C flags: {h['c_flags']}",
        f"memory bandwidth (same run, best of 1 and {bw['threads']} threads, start and end): read "
        f"{bw['read'] / 1e9:.1f} GB/s, copy {bw['copy'] / 1e9:.1f} GB/s (read+write bytes)",
        f"timing: median of {h['repeat']} interleaved samples of ~{h['sample_s'] * 1e3:g} ms each; "
        "x-numpy/x-peer = speed-up (time of NumPy / of the fastest peer divided by this row's); "
        "/floor = time / (bytes a fused kernel must move / bandwidth), shown from 1e6 elements",
    ]
    el = h.get("explog_s_per_element")
    if el:
        lines.append(
            f"exp/log cost (same run, NumPy SIMD, cache-resident, 1 thread): exp "
            f"{el['exp'] * 1e9:.3f} ns, log {el['log'] * 1e9:.3f} ns per element; /explog = time / "
            f"(the loss's exps and logs at that cost / {h['threads']} threads), from 1e6 elements")
    lines.append("")
    cols = ("impl", "median", "min - max", "x-numpy", "x-peer", "/floor", "/explog")
    for (name, n, op), rows in _groups(results).items():
        nrow, best = _baselines(rows)
        opname = "value" if op == "value" else "value_and_grad"
        lines.append(f"## {name}  n={_fmt_n(n)} ({rows[0]['elements']} elements)  {opname}"
                     f"  floor {_fmt_time(rows[0]['floor'])}"
                     + (f", exp/log floor {_fmt_time(rows[0]['floor_explog'])}"
                        if rows[0].get("floor_explog") else "")
                     + (f"  fastest peer: {best['impl']}" if best else ""))
        table = [cols]
        for r in rows:
            if r["median"] is None:
                table.append((r["impl"], "error", (r["error"] or "")[:40], "", "", "", ""))
                continue
            m = r["median"]
            table.append((
                r["impl"], _fmt_time(m), f"{_fmt_time(r['min'])} - {_fmt_time(r['max'])}",
                f"{nrow['median'] / m:.2f}x" if nrow else "-",
                f"{best['median'] / m:.2f}x" if best else "-",
                f"{m / r['floor']:.2f}" if r["elements"] >= 10 ** 6 and r["floor"] else "",
                f"{m / r['floor_explog']:.2f}" if r["elements"] >= 10 ** 6
                and r.get("floor_explog") else ""))
        widths = [max(len(str(row[c])) for row in table) for c in range(len(cols))]
        for k, row in enumerate(table):
            lines.append("  " + "  ".join(str(x).ljust(w) if c == 0 else str(x).rjust(w)
                                          for c, (x, w) in enumerate(zip(row, widths))))
            if k == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines.append("")
    return "\n".join(lines) + "\n"


def _compare(results, path, threshold=1.10):
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError) as exc:
        return f"pyloss bench: --compare: cannot read {path}: {exc}\n"
    idx = {(r["loss"], r["n"], r["dtype"], r["op"], r["impl"]): r for r in old.get("results", [])}
    lines = [f"## compared with {path} ({old.get('header', {}).get('date', '?')}): new/old median; "
             f"'REGRESSION' when slower by more than {int((threshold - 1) * 100)}% and outside the "
             "old min-max", ""]
    n_reg = 0
    for r in results:
        o = idx.get((r["loss"], r["n"], r["dtype"], r["op"], r["impl"]))
        if o is None or r["median"] is None or o.get("median") is None:
            continue
        ratio = r["median"] / o["median"]
        flag = ""
        if ratio > threshold and r["median"] > o["max"]:
            flag = "  REGRESSION"
            n_reg += 1
        elif ratio < 1 / threshold and r["median"] < o["min"]:
            flag = "  faster"
        lines.append(f"  {r['loss']:<14} n={_fmt_n(r['n']):<6} {r['op']:<5} {r['impl']:<18} "
                     f"{_fmt_time(o['median']):>9} -> {_fmt_time(r['median']):>9}  {ratio:5.2f}x{flag}")
    lines.append(f"\n{n_reg} regression(s)\n")
    return "\n".join(lines) + "\n"


def _plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(results)
    ops = sorted({k[2] for k in groups}, key=OPS.index)
    fig, axes = plt.subplots(len(ops), 1, figsize=(max(8, 0.6 * len(groups) / len(ops) + 4),
                                                    4 * len(ops)), squeeze=False)
    for ax, op in zip(axes[:, 0], ops):
        keys = [k for k in groups if k[2] == op]
        impls = []
        for k in keys:
            for r in groups[k]:
                if r["impl"] not in impls and r["median"] is not None:
                    impls.append(r["impl"])
        width = 0.8 / max(1, len(impls))
        for j, impl in enumerate(impls):
            ys = []
            for k in keys:
                nrow, _ = _baselines(groups[k])
                r = next((r for r in groups[k] if r["impl"] == impl and r["median"]), None)
                ys.append(nrow["median"] / r["median"] if r and nrow else 0)
            ax.bar([x + j * width for x in range(len(keys))], ys, width, label=impl)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(keys))])
        ax.set_xticklabels([f"{k[0]}\n{_fmt_n(k[1])}" for k in keys], fontsize=7)
        ax.set_yscale("log")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_ylabel("speed-up vs NumPy")
        ax.set_title("value" if op == "value" else "value_and_grad")
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
