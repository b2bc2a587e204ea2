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
it has one, else the loss written out once over torch or JAX operations; the
backward pass goes to every differentiable input, as pyloss's does.  A peer is
left out where its formula is not pyloss's (weights, ``pos_weight``, per-class
``alpha``, probability targets, label-map targets).  "numpy" is the loss
written as a NumPy user would; "numpy-ref" is pyloss's own NumPy reference
backend.  Which losses ``--quick`` times, each loss's exps and logs and its
peers are facts of the loss (``bench_quick``, ``bench_cost``, ``peers``,
``peers_apply``, ``sklearn_peer``), declared next to its definition in
``pyloss/_defs/``; this module only asks the registry.
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
    threads = _numba_threads()
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
            "nbytes": src.nbytes, "threads": threads}


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


def _fact(name, key):
    """Fact `key` (see Loss.declare) of the registered loss called `name`, or None."""
    import pyloss as pl
    return getattr(pl.get(name), key) if name in pl.losses() else None


def _peer_fact(name, key):
    """The loss's peer `key` ("formula", "torch", "numpy"; see Loss.peers), or None."""
    return (_fact(name, "peers") or {}).get(key)


def explog_counts(name, arrays, opts):
    """(exps, logs) a fused implementation of `name` must evaluate on these
    inputs: one per element where the loss needs it (softmax/sigmoid exps,
    softplus/log1p logs), per-row ones (a softmax row's log) left out, as the
    loss's ``bench_cost`` declares them.  (0, 0) for the losses whose floor is
    memory alone."""
    cost = _fact(name, "bench_cost")
    if cost is None:
        return 0, 0
    size = [int(np.asarray(a).size) for a in arrays]
    if callable(cost):
        return cost(size, opts)
    n_exp, n_log = cost
    return n_exp * size[0], n_log * size[0]


def _numba_threads():
    """Numba's thread count for this thread, set to pyloss's (pl.set_num_threads,
    capped at the threads Numba launched); 1 without Numba."""
    try:
        import numba
    except ImportError:
        return 1
    from ._config import get_num_threads
    numba.set_num_threads(max(1, min(get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    return numba.get_num_threads()


# ---------------------------------------------------------------- peers

def _opts_of(loss, opts):
    merged = dict(loss.options)
    merged.update(opts)
    return merged


def _numpy_peer(name, arrays, o):
    """The loss as a NumPy user writes it (its ``peers["numpy"]``): (value_fn, vg_fn) or None."""
    if len(arrays) != 2 or o.get("weight") is not None:
        return None
    make = _peer_fact(name, "numpy")
    return make(*arrays, o) if make is not None else None


# The peers' formulas (``loss.peers["formula"]``) are written once, over a
# small namespace of array operations (`ns`) that `_torch_ops` and `_jax_ops`
# fill for each framework; each function of the inputs, in `loss.inputs`
# order, returns the loss with the example's options and reduction "mean"
# exactly as pyloss defines it.  PyTorch uses its own function where it has
# one (``loss.peers["torch"]``, `_torch_native`).

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


def _applies(name, arrays, o):
    """Whether the peers' formulas are pyloss's for these inputs and options
    (no weights, then the loss's ``peers_apply``: class-index targets, one-hot
    segmentation targets...)."""
    if o.get("weight") is not None or o.get("pos_weight") is not None \
            or o.get("reduction", "mean") != "mean":
        return False
    check = _fact(name, "peers_apply")
    return True if check is None else check([np.asarray(a) for a in arrays], o)


def _formula(name, ns, o):
    make = _peer_fact(name, "formula")
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
    make = _peer_fact(name, "torch")
    return make(torch, o) if make is not None else None


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
    """(value, value_and_grad) with scikit-learn's loss object (the loss's
    ``sklearn_peer``), or None."""
    try:
        from sklearn._loss import loss as skl
    except ImportError:
        return None
    if o.get("weight") is not None or len(arrays) != 2:
        return None
    spec = _fact(name, "sklearn_peer")
    p, t = arrays
    if spec is None:
        return None
    if isinstance(spec, str):
        L = getattr(skl, spec)()
    else:
        found = spec(skl, p, t, o)
        if found is None:
            return None
        L, t = found
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
        names = [n for n in have if pl.get(n).bench_quick]
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
