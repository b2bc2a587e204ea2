"""``pyloss bench --contended``: single calls on an idle machine and next to
busy processes, one thread against the default thread count.

A loss is called the way a training loop calls it: one call, then a pause
(``--gap-ms``, the rest of the loop's step), again and again.  Each workload
is timed with ``pl.set_num_threads(1)`` and with the run's thread count, first
on an idle machine, then with one busy process (``while True: pass``) per
other CPU.  The table gives the medians and the 90th percentile of the
threaded calls as multiples of the one-thread median *in the same state*:
what a user whose machine is shared pays or saves by leaving threads on.
The busy processes are killed when the run ends, however it ends."""
import os
import subprocess
import sys
import time

import numpy as np

# (label, loss, op, make(rng, dtype) -> arrays); the workloads of issue 12 item 3
_WORKLOADS = (
    ("mse 1e6 value", "mse", "value", lambda r, d: _two(r, d, 10**6)),
    ("mse 1e6 vg", "mse", "vg", lambda r, d: _two(r, d, 10**6)),
    ("mse 1e7 value", "mse", "value", lambda r, d: _two(r, d, 10**7)),
    ("mse 1e7 vg", "mse", "vg", lambda r, d: _two(r, d, 10**7)),
    ("cross_entropy 1e5x100 vg", "cross_entropy", "vg",
     lambda r, d: (r.standard_normal((10**5, 100)).astype(d), r.integers(0, 100, 10**5))),
    ("log_cosh 1e6 value", "log_cosh", "value", lambda r, d: _two(r, d, 10**6)),
)


def _two(rng, dtype, n):
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


def _calls(fn, reps, gap_s):
    fn()
    fn()
    out = []
    perf = time.perf_counter
    for _ in range(reps):
        t = perf()
        fn()
        out.append(perf() - t)
        time.sleep(gap_s)
    return np.array(out)


def _state(pl, work, threads, reps, gap_s):
    rows = []
    for label, fn in work:
        pl.set_num_threads(1)
        one = _calls(fn, reps, gap_s)
        pl.set_num_threads(threads)
        many = _calls(fn, reps, gap_s)
        rows.append((label, float(np.median(one)), float(np.percentile(one, 90)),
                     float(np.median(many)), float(np.percentile(many, 90))))
    return rows


def _busy(n):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run_contended(args, pl):
    threads = args.threads or (os.cpu_count() or 1)
    reps = args.repeat or 30
    gap_s = args.gap_ms / 1e3
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    work = []
    for label, name, op, make in _WORKLOADS:
        loss, arrays = pl.get(name), make(rng, dtype)
        fn = ((lambda loss=loss, a=arrays: loss(*a)) if op == "value"
              else (lambda loss=loss, a=arrays: loss.value_and_grad(*a)))
        work.append((label, fn))
    nbusy = max(1, (os.cpu_count() or 2) - 1)
    sys.stderr.write(f"pyloss bench --contended: {reps} calls per row, {args.gap_ms:g} ms apart; "
                     f"idle, then {nbusy} busy process(es)\n")
    idle = _state(pl, work, threads, reps, gap_s)
    procs = _busy(nbusy)
    try:
        time.sleep(0.5)
        busy = _state(pl, work, threads, reps, gap_s)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    text = [f"# pyloss bench --contended: backend auto, {dtype.name}, {threads} threads against 1, "
            f"{reps} single calls {args.gap_ms:g} ms apart; x = multiple of the 1-thread median "
            f"in the same state",
            "",
            "| workload | idle 1t median | idle median | idle p90 | busy 1t median | busy 1t p90 "
            "| busy median | busy p90 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (label, m1, _, m, p90), (_, b1, b1p, bm, bp90) in zip(idle, busy):
        text.append(f"| {label} | {m1 * 1e3:.3f} ms | {m / m1:.2f}x | {p90 / m1:.2f}x "
                    f"| {b1 * 1e3:.3f} ms | {b1p / b1:.2f}x | {bm / b1:.2f}x | {bp90 / b1:.2f}x |")
    sys.stdout.write("\n".join(text) + "\n")
    if args.json:
        import json
        keys = ("workload", "one_median", "one_p90", "median", "p90")
        with open(args.json, "w") as f:
            json.dump({"threads": threads, "repeat": reps, "gap_ms": args.gap_ms,
                       "dtype": dtype.name, "busy_processes": nbusy,
                       "idle": [dict(zip(keys, r)) for r in idle],
                       "busy": [dict(zip(keys, r)) for r in busy]}, f, indent=1)
        sys.stderr.write(f"pyloss bench: wrote {args.json}\n")
    return 0
