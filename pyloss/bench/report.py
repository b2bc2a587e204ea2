"""The report of ``pyloss bench``: the progress line, the run's header
(machine, versions, bandwidth), the text tables, ``--compare`` against a saved
``--json`` run and the ``--plot`` bar chart."""
import json
import math
import os
import platform
import sys
import time

import numpy as np

OPS = ("value", "vg")


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
        first = [f"{r['impl'][len('pyloss '):]} {_fmt_time(r['first_call'])}" for r in rows
                 if r["impl"].startswith("pyloss") and r.get("first_call") is not None]
        if first:
            lines.append("  first call (JIT compile or cache load; not in the timings): "
                         + ", ".join(first))
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
