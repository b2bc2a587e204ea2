"""The arguments of ``pyloss bench`` and its run: for each loss, size and
operation (``value``, ``vg`` = value and gradient), the pyloss rows and the
peers are timed together, then the floors are set and the report written."""
import inspect
import json
import os
import sys

import numpy as np

from .floors import explog_counts, measure_bandwidth, measure_explog
from .peers import _diff_positions, _jax_peer, _numpy_peer, _opts_of, _sklearn_peer, _torch_peer
from .report import OPS, _compare, _fmt_n, _header, _plot, _Progress, _render
from .timing import Impl, _time_group

QUICK_SIZES = (1000, 100_000, 1_000_000)
FULL_SIZES = (1000, 10_000, 100_000, 1_000_000, 10_000_000)
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
    p.add_argument("--contended", action="store_true",
                   help="single calls, idle and next to one busy process per other CPU, "
                        "threads against one thread (issue 12's workloads; see "
                        "pyloss/bench/contended.py)")
    p.add_argument("--gap-ms", type=float, default=2.0,
                   help="--contended: pause between calls (default 2)")
    p.add_argument("--classes", type=int, default=None,
                   help="number of classes of the softmax losses' examples (default: their own, "
                        "1000 for cross_entropy); rows = size / classes")


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

    if args.contended:
        from .contended import run_contended
        return run_contended(args, pl)
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
                        "samples": s, "number": i.number, "first_call": i.first,
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

