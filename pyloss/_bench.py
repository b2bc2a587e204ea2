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
run).

Peers (each optional, imported only when present): PyTorch CPU (forward, and
forward+backward), JAX (``jit(value_and_grad)``) and scikit-learn's
``sklearn._loss`` module.  "numpy" is the loss written as a NumPy user would
(one-liners below); "numpy-ref" is pyloss's own NumPy reference backend.
"""
import inspect
import json
import math
import os
import platform
import sys
import time

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


def _torch_fn(torch, name, o, T):
    """A function of the torch tensors computing the mean loss, or None."""
    F = torch.nn.functional
    if o.get("weight") is not None:
        return None
    if name == "mse":
        return lambda P: F.mse_loss(P, T[0])
    if name == "mae":
        return lambda P: F.l1_loss(P, T[0])
    if name == "huber":
        return lambda P: F.huber_loss(P, T[0], delta=o["delta"])
    if name == "smooth_l1":
        return lambda P: F.smooth_l1_loss(P, T[0], beta=o["beta"])
    if name == "log_cosh":
        ln2 = math.log(2.0)
        return lambda P: torch.mean((P - T[0]).abs() + F.softplus(-2 * (P - T[0]).abs()) - ln2)
    if name == "quantile":
        q = o["q"]
        return lambda P: torch.mean(torch.maximum(q * (T[0] - P), (q - 1) * (T[0] - P)))
    if name == "cross_entropy" and T[0].dtype in (torch.int64, torch.int32):
        return lambda P: F.cross_entropy(P, T[0].long(), ignore_index=o.get("ignore_index", -100),
                                         label_smoothing=o.get("label_smoothing", 0.0))
    if name == "binary_cross_entropy_with_logits" and o.get("pos_weight") is None:
        return lambda P: F.binary_cross_entropy_with_logits(P, T[0])
    if name == "binary_cross_entropy":
        return lambda P: F.binary_cross_entropy(P, T[0])
    if name == "kl_div":
        return lambda P: F.kl_div(P, T[0], reduction="mean", log_target=o.get("log_target", False))
    if name == "triplet" and len(T) == 2:
        return lambda P: F.triplet_margin_loss(P, T[0], T[1], margin=o.get("margin", 1.0),
                                               p=o.get("p", 2.0), eps=o.get("eps", 1e-6),
                                               swap=o.get("swap", False))
    return None


def _torch_peer(name, arrays, o, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    P = torch.from_numpy(np.ascontiguousarray(arrays[0]))
    T = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays[1:]]
    f = _torch_fn(torch, name, o, T)
    if f is None:
        return None
    Pg = P.clone().requires_grad_(True)

    def v():
        with torch.no_grad():
            return f(P)

    def vg():
        Pg.grad = None
        y = f(Pg)
        y.backward()
        return y, Pg.grad
    return v, vg


def _jax_peer(name, arrays, o):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    if len(arrays) != 2 or o.get("weight") is not None:
        return None
    if arrays[0].dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    if name == "mse":
        def f(p, t):
            return jnp.mean((p - t) ** 2)
    elif name == "mae":
        def f(p, t):
            return jnp.mean(jnp.abs(p - t))
    elif name == "huber":
        dl = o["delta"]

        def f(p, t):
            r = p - t
            a = jnp.abs(r)
            return jnp.mean(jnp.where(a <= dl, 0.5 * r * r, dl * (a - 0.5 * dl)))
    elif name == "smooth_l1" and o["beta"] > 0:
        b = o["beta"]

        def f(p, t):
            r = p - t
            a = jnp.abs(r)
            return jnp.mean(jnp.where(a < b, 0.5 * r * r / b, a - 0.5 * b))
    elif name == "log_cosh":
        def f(p, t):
            r = p - t
            return jnp.mean(jnp.logaddexp(r, -r) - jnp.log(2.0))
    elif name == "quantile":
        q = o["q"]

        def f(p, t):
            u = t - p
            return jnp.mean(jnp.maximum(q * u, (q - 1) * u))
    else:
        return None
    p, t = (jax.device_put(a) for a in arrays)
    jv = jax.jit(f)
    jvg = jax.jit(jax.value_and_grad(f))

    def v():
        return jv(p, t).block_until_ready()

    def vg():
        r = jvg(p, t)
        r[1].block_until_ready()
        return r
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
    idx = [loss.inputs.index(d) for d in loss.diff if d in loss.inputs]
    return sum(np.asarray(arrays[i]).size * np.dtype(np.asarray(arrays[0]).dtype).itemsize
               for i in idx)


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
    makers = [("numpy", lambda: _numpy_peer(name, arrays, o))]
    if not no_peers:
        makers += [("torch", lambda: _torch_peer(name, arrays, o, threads)),
                   ("jax", lambda: _jax_peer(name, arrays, o)),
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

    sys.stderr.write("pyloss bench: measuring memory bandwidth...\n")
    bw0 = measure_bandwidth()
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
                rout = _diff_bytes(loss, arrays) if op == "vg" else 0
                for i in impls:
                    s = sorted(i.samples)
                    results.append({
                        "loss": name, "n": n, "elements": nel, "dtype": dtype.name, "op": op,
                        "impl": i.label, "kind": i.kind, "error": i.error,
                        "median": float(np.median(s)) if s else None,
                        "min": s[0] if s else None, "max": s[-1] if s else None,
                        "samples": s, "number": i.number,
                        "bytes_in": rin, "bytes_out": rout})
                prog.step(f"{name} n={_fmt_n(n)} {op}")
    prog.close()
    bw1 = measure_bandwidth()
    bw = {"read": max(bw0["read"], bw1["read"]), "copy": max(bw0["copy"], bw1["copy"]),
          "threads": bw0["threads"], "nbytes": bw0["nbytes"]}
    for r in results:
        # The floor: the inputs read once at read bandwidth, the gradient
        # written once (read+write counted as by the copy bandwidth).
        r["floor"] = r["bytes_in"] / bw["read"] + (r["bytes_out"] / (bw["copy"] / 2)
                                                   if r["bytes_out"] else 0.0)
    header = _header(pl, threads, dtype, repeat, sample_s, bw)
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
        "",
    ]
    cols = ("impl", "median", "min - max", "x-numpy", "x-peer", "/floor")
    for (name, n, op), rows in _groups(results).items():
        nrow, best = _baselines(rows)
        opname = "value" if op == "value" else "value_and_grad"
        lines.append(f"## {name}  n={_fmt_n(n)} ({rows[0]['elements']} elements)  {opname}"
                     f"  floor {_fmt_time(rows[0]['floor'])}"
                     + (f"  fastest peer: {best['impl']}" if best else ""))
        table = [cols]
        for r in rows:
            if r["median"] is None:
                table.append((r["impl"], "error", (r["error"] or "")[:40], "", "", ""))
                continue
            m = r["median"]
            table.append((
                r["impl"], _fmt_time(m), f"{_fmt_time(r['min'])} - {_fmt_time(r['max'])}",
                f"{nrow['median'] / m:.2f}x" if nrow else "-",
                f"{best['median'] / m:.2f}x" if best else "-",
                f"{m / r['floor']:.2f}" if r["elements"] >= 10 ** 6 and r["floor"] else ""))
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
