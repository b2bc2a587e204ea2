"""``pyloss info``: what this installation is and can do.

Version, backends (and why one is missing), threads, the flags the C kernels
were compiled with, OpenMP, the CPU features the kernels care about, Numba and
its threading layer, and which optional integrations are importable.  Nothing
heavy is imported: integrations are only looked up (``importlib.util.find_spec``
and package metadata), never imported.
"""
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys

# CPU flags that matter for the kernels: the baseline build needs SSE2; the
# x86-64-v3 build (csrc/build.py, "Per-CPU builds") uses AVX2 and FMA
# (avx512f: the opt-in PYLOSS_AVX512=1 build).
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f")

# extra -> (distribution names to report, import name that must be findable)
INTEGRATIONS = {
    "torch": (("torch",), "torch"),
    "boosting": (("xgboost", "lightgbm"), None),
    "sklearn": (("scikit-learn",), "sklearn"),
    "dask": (("dask", "distributed"), "distributed"),
    "plot": (("matplotlib",), "matplotlib"),
}


# Environment variables that change what the kernels do.
_ENV = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "PYLOSS_CHECK",
        "PYLOSS_DISABLE", "PYLOSS_ISA")


def _dist_version(name):
    for n in (name, name + "-cpu"):
        try:
            return importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def cpu_features():
    """{flag: bool} for CPU_FLAGS from /proc/cpuinfo (None where unreadable)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return {k: k in have for k in CPU_FLAGS}
    except OSError:
        pass
    return {k: None for k in CPU_FLAGS}


def _c_facts():
    from . import _c
    if _c.lib is None:
        return {"built": False, "reason": _c.reason}
    facts = {"built": True, "file": getattr(sys.modules.get("pyloss._pyloss_c"), "__file__", None)}
    try:
        facts["flags"] = _c.ffi.string(_c.lib.PL_BUILD_FLAGS).decode()
    except Exception as exc:  # an extension built before the flags were recorded
        facts["flags"] = f"unknown ({exc})"
    try:
        facts["per_cpu_clones"] = bool(_c.lib.pl_have_clones())
    except AttributeError:
        facts["per_cpu_clones"] = None
    facts["isa"] = _c.isa()
    facts["note"] = _c.note
    try:
        facts["openmp"] = bool(_c.lib.pl_have_openmp())
        facts["cpus_seen_by_openmp"] = int(_c.lib.pl_max_threads())
    except AttributeError:
        facts["openmp"] = None
    try:   # pyloss's own worker threads (csrc/pool.c); -1: this build has none
        facts["pool_workers"] = int(_c.lib.pl_pool_workers())
    except AttributeError:
        facts["pool_workers"] = None
    return facts


def _numba_facts():
    if importlib.util.find_spec("numba") is None:
        return None
    import numba
    facts = {"version": numba.__version__,
             "threading_layer_config": numba.config.THREADING_LAYER,
             "num_threads": numba.config.NUMBA_NUM_THREADS}
    try:
        facts["threading_layer"] = numba.threading_layer()
    except ValueError:
        facts["threading_layer"] = "not chosen yet (no parallel kernel has run)"
    return facts


def collect():
    """Everything ``pyloss info`` reports, as a dict."""
    import numpy as np
    import pyloss as pl
    integrations = {}
    for extra, (dists, mod) in INTEGRATIONS.items():
        versions = {d: _dist_version(d) for d in dists}
        ok = all(v is not None for v in versions.values())
        if mod is not None:
            ok = ok and importlib.util.find_spec(mod) is not None
        integrations[extra] = {"available": ok, "versions": versions}
    return {
        "pyloss": pl.__version__,
        "location": os.path.dirname(pl.__file__),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "backends": pl.backends(verbose=True),
        "default_backend": pl.backends()[0],
        "threads": pl.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "c_extension": _c_facts(),
        "cpu_features": cpu_features(),
        "numba": _numba_facts(),
        "environment": {k: os.environ.get(k) for k in _ENV},
        "losses": list(pl.losses()),
        "integrations": integrations,
    }


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")


def _fmt(info):
    yes = {True: "yes", False: "no", None: "unknown"}
    lines = [f"pyloss {info['pyloss']}  ({info['location']})",
             f"python {info['python']}, numpy {info['numpy']}, {info['platform']}",
             "", "backends:"]
    for name, status in info["backends"].items():
        lines.append(f"  {name:6s} {status}")
    lines.append(f"  auto -> {info['default_backend']}")
    lines.append(f"threads: {info['threads']} (pl.set_num_threads; {info['cpu_count']} CPUs)")
    c = info["c_extension"]
    lines.append("C extension:")
    if c["built"]:
        lines.append(f"  flags:  {c['flags']}")
        lines.append(f"  OpenMP: {yes[c.get('openmp')]}")
        pw = c.get("pool_workers")
        if pw is not None:
            lines.append("  worker threads (csrc/pool.c): " + (
                "none in this build (OpenMP loops)" if pw < 0 else f"{pw} started so far"))
        lines.append(f"  per-CPU builds: {yes[c.get('per_cpu_clones')]}"
                     + (f" (in use: {c['isa']})" if c.get("isa") else "")
                     + (f" ({c['note']})" if c.get("note") else ""))
    else:
        lines.append(f"  not built: {c['reason']}")
    feats = info["cpu_features"]
    lines.append("CPU features: " + ", ".join(f"{k} {yes[v]}" for k, v in feats.items()))
    n = info["numba"]
    if n is None:
        lines.append("numba: not installed")
    else:
        lines.append(f"numba {n['version']}: threading layer {n['threading_layer']} "
                     f"(config {n['threading_layer_config']}), {n['num_threads']} threads")
    env = {k: v for k, v in info["environment"].items() if v is not None}
    lines.append("environment: " + (", ".join(f"{k}={v}" for k, v in env.items()) or "(none of "
                                    + ", ".join(_ENV) + " set)"))
    lines.append(f"losses ({len(info['losses'])}): " + ", ".join(info["losses"]))
    lines.append("integrations (pip install 'pyloss[EXTRA]'):")
    for extra, d in info["integrations"].items():
        vers = ", ".join(f"{k} {v or '-'}" for k, v in d["versions"].items())
        lines.append(f"  {extra:9s} {'yes' if d['available'] else 'no ':3s}  {vers}")
    return "\n".join(lines)


def run(args):
    info = collect()
    if getattr(args, "json", False):
        print(json.dumps(info, indent=2))
    else:
        print(_fmt(info))
    return 0
