"""Measure where running a kernel on several threads starts to pay.

    python bench/crossover.py [--threads 2] [--repeat 9] [--max-log2 24] [--json PATH]

Compares, interleaved in one run, for sizes 2^10 .. 2^24 (float32,
value_and_grad into a reused buffer) of a memory-bound loss (mse) and a
transcendental one (log_cosh):

* ``C 1T``     -- the C kernel on one thread;
* ``C nT``     -- the same kernel with OpenMP on `--threads` threads, from a
  variant built here with ``-DPL_PAR_MIN=1`` so that it goes parallel at every
  size (the installed build stays serial below ``PL_PAR_MIN``);
* ``numba 1T`` / ``numba nT`` -- the Numba serial twin and its prange version.

The crossover is the smallest size from which ``nT`` beats ``1T`` by more than
10% at every larger size.  It is printed from the medians (what a user on
this machine gets now) and from the minima (the machine without contention).
The chosen value is written to csrc/common.h ``PL_PAR_MIN``,
pyloss/_numba/__init__.py ``PARALLEL_MIN`` and the comment in
pyloss/_dispatch.py -- by hand, after reading this output.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def build_always_parallel():
    """The regression kernels compiled with PL_PAR_MIN=1, loaded as a module."""
    import importlib.util
    import re
    import sysconfig

    from cffi import FFI

    spec = importlib.util.spec_from_file_location("_pl_build", os.path.join(ROOT, "csrc", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    header = open(os.path.join(ROOT, "csrc", "regression.h")).read()
    cdef = "\n".join(l for l in header.splitlines() if not l.lstrip().startswith("#"))
    tmp = os.path.join(tempfile.gettempdir(), f"pyloss_crossover_{os.getuid()}")
    os.makedirs(tmp, exist_ok=True)
    ffi = FFI()
    ffi.cdef(cdef)
    csrc = os.path.join(ROOT, "csrc")
    ffi.set_source("_pl_par_always", '#include "pyloss.h"\n',
                   sources=[os.path.join(csrc, "regression.c")], include_dirs=[csrc],
                   extra_compile_args=build.CFLAGS + ["-DPL_PAR_MIN=1"],
                   extra_link_args=build.LDFLAGS)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    so = os.path.join(tmp, "_pl_par_always" + suffix)
    if not os.path.exists(so) or os.path.getmtime(so) < max(
            os.path.getmtime(os.path.join(csrc, f)) for f in os.listdir(csrc)):
        sys.stderr.write("building the always-parallel C variant (once)...\n")
        so = ffi.compile(tmpdir=tmp)
    spec = importlib.util.spec_from_file_location("_pl_par_always", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    del re
    return mod


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--min-log2", type=int, default=10)
    ap.add_argument("--max-log2", type=int, default=24)
    ap.add_argument("--losses", default="mse,log_cosh")
    ap.add_argument("--sample-ms", type=float, default=5.0)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    import pyloss as pl
    from pyloss import _c
    from pyloss import _numba as plnb
    from pyloss._numba import regression as nbreg

    par = build_always_parallel()
    ffi = _c.ffi
    nt = args.threads
    plnb._apply_threads(nt)
    rng = np.random.default_rng(0)
    results = []
    sizes = [1 << k for k in range(args.min_log2, args.max_log2 + 1)]
    print(f"# crossover: float32 value_and_grad with out=, threads {nt}, "
          f"repeat {args.repeat}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# installed PL_PAR_MIN / PARALLEL_MIN = {plnb.PARALLEL_MIN}; CPUs {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for name in args.losses.split(","):
        c1 = getattr(_c.lib, f"pl_{name}_f32")
        cn = getattr(par.lib, f"pl_{name}_f32")
        nser = getattr(nbreg, f"{name}_ser")
        npar = getattr(nbreg, f"{name}_par")
        print(f"\n## {name}\n")
        print(f"| n | C 1T | C {nt}T | C {nt}T/1T (median) | (min) | numba 1T | numba {nt}T "
              f"| numba {nt}T/1T (median) | (min) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            p = rng.standard_normal(n).astype(np.float32)
            t = rng.standard_normal(n).astype(np.float32)
            g = np.empty_like(p)
            pp, pt, pg = (ffi.from_buffer("float[]", a) for a in (p, t, g))
            pp2, pt2, pg2 = (par.ffi.from_buffer("float[]", a) for a in (p, t, g))
            s = np.float32(1.0 / n)
            z = np.float32(0)
            fns = {
                "C 1T": lambda: c1(n, pp, pt, ffi.NULL, ffi.NULL, 0.0, 0.0, 1.0 / n, ffi.NULL, pg,
                                   ffi.NULL, 1),
                f"C {nt}T": lambda: cn(n, pp2, pt2, par.ffi.NULL, par.ffi.NULL, 0.0, 0.0, 1.0 / n,
                                       par.ffi.NULL, pg2, par.ffi.NULL, nt),
                "numba 1T": lambda: nser(p, t, None, None, z, z, s, None, g, None),
                f"numba {nt}T": lambda: npar(p, t, None, None, z, z, s, None, g, None),
            }
            num = {}
            for k, f in fns.items():
                f()
                t0 = time.perf_counter()
                f()
                num[k] = max(1, int(args.sample_ms / 1e3 / max(time.perf_counter() - t0, 1e-7)))
            samples = {k: [] for k in fns}
            keys = list(fns)
            for r in range(args.repeat):
                for k in keys[r % 4:] + keys[:r % 4]:
                    time.sleep(0.002)
                    f = fns[k]
                    f()
                    t0 = time.perf_counter()
                    for _ in range(num[k]):
                        f()
                    samples[k].append((time.perf_counter() - t0) / num[k])
            med = {k: float(np.median(v)) for k, v in samples.items()}
            mn = {k: float(np.min(v)) for k, v in samples.items()}
            results.append({"loss": name, "n": n, "median": med, "min": mn, "samples": samples})

            def us(x):
                return f"{x * 1e6:.1f}"
            k1, kn, m1, mn_ = "C 1T", f"C {nt}T", "numba 1T", f"numba {nt}T"
            print(f"| 2^{n.bit_length() - 1} | {us(med[k1])} | {us(med[kn])} | "
                  f"{med[k1] / med[kn]:.2f}x | {mn[k1] / mn[kn]:.2f}x | {us(med[m1])} | "
                  f"{us(med[mn_])} | {med[m1] / med[mn_]:.2f}x | {mn[m1] / mn[mn_]:.2f}x |",
                  flush=True)
        print("\n(times in microseconds; ratios are speed-ups of the threaded kernel)")
        for stat in ("median", "min"):
            for impl in ("C", "numba"):
                rows = [r for r in results if r["loss"] == name]
                one, many = f"{impl} 1T", f"{impl} {nt}T"
                cross = None
                for i in range(len(rows)):
                    if all(r[stat][one] / r[stat][many] > 1.10 for r in rows[i:]):
                        cross = rows[i]["n"]
                        break
                where = f"2^{cross.bit_length() - 1}" if cross else "none in range"
                print(f"- {impl} crossover by {stat}: {where}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": nt, "results": results}, f)
    del pl
    return 0


if __name__ == "__main__":
    sys.exit(main())
