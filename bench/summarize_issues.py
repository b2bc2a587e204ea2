"""Markdown summary of `bench/issue_workloads.sh` runs: pyloss against the
fastest peer of the same run, per workload and op.

    python bench/summarize_issues.py [DIR]     (default bench/results_issues)

ratio = median time of `pyloss auto` / median time of the fastest non-pyloss
row (NumPy, pyloss's NumPy reference, PyTorch, JAX, scikit-learn) measured in
the same run; /floor = pyloss time / the bytes a fused kernel must move at the
run's measured bandwidth; /explog = pyloss time / the exps and logs the loss
needs at NumPy's SIMD per-element cost (same run) spread over the threads.
"""
import glob
import json
import os
import sys


def _ms(s):
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} us"


def summarize(directory):
    rows = []
    header = None
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as f:
            d = json.load(f)
        header = header or d["header"]
        groups = {}
        for r in d["results"]:
            if r.get("error") or r.get("median") is None:
                continue
            groups.setdefault((r["loss"], r["n"], r["op"]), []).append(r)
        for (loss, n, op), rs in groups.items():
            ours = [r for r in rs if r["impl"] == "pyloss auto"]
            peers = [r for r in rs if r["kind"] != "pyloss"]
            if not ours or not peers:
                continue
            me, best = ours[0], min(peers, key=lambda r: r["median"])
            floor = me.get("floor")
            fe = me.get("floor_explog")
            rows.append((os.path.basename(path)[:-5], loss, me["elements"], op, _ms(me["median"]),
                         f"{best['impl']} {_ms(best['median'])}",
                         f"{me['median'] / best['median']:.2f}x",
                         f"{me['median'] / floor:.1f}" if floor else "",
                         f"{me['median'] / fe:.1f}" if fe else ""))
    out = []
    if header:
        out.append(f"threads {header['threads']}, {header['dtype']}, load average {header.get('loadavg')}, "
                   f"{header.get('date')}; versions: "
                   + ", ".join(f"{k} {v}" for k, v in header["versions"].items()))
        out.append("")
    out.append("| workload | loss | elements | op | pyloss | fastest peer (same run) | ratio | /floor "
               "| /explog |")
    out.append("|---|---|---:|---|---:|---|---:|---:|---:|")
    for r in rows:
        out.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize(sys.argv[1] if len(sys.argv) > 1 else "bench/results_issues"))
