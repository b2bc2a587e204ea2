"""Numba backend against the C backend, loss by loss (issue 12, item 1).

    python bench/numba_vs_c.py [--losses a,b] [--sizes 1e6,1e7] [--threads 1,2]
                               [--dtypes float32,float64] [--repeat 5] [--json PATH]

For every registered loss with an ``example`` hook, both dtypes, ``value`` and
``value_and_grad``, each size and thread count, the two backends are timed
interleaved in one run (``pyloss bench``'s timing: samples alternate, the
median is quoted); compile time is excluded (each is called once before
timing).  Prints Numba/C per cell, and per loss the median and the worst
ratio.  Read the ratios, not the absolute times: the machine is shared.
"""
import argparse
import json
import sys

import numpy as np

import pyloss as pl
from pyloss.bench.cli import _parse_sizes, _pyloss_impls
from pyloss.bench.timing import _time_group


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--losses", default="")
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--ops", default="value,vg")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sample-ms", type=float, default=10.0)
    ap.add_argument("--json", default="")
    ap.add_argument("--markdown", default="",
                    help="print the table of a --json file as markdown (one row per loss and "
                         "size) instead of measuring")
    args = ap.parse_args(argv)
    if args.markdown:
        with open(args.markdown) as f:
            print(markdown(json.load(f)["rows"]))
        return
    if not {"c", "numba"} <= set(pl.backends()):
        raise SystemExit(f"numba_vs_c: needs the c and numba backends, have {pl.backends()}")
    have = [n for n in pl.losses() if pl.get(n).example is not None]
    names = [s for s in args.losses.split(",") if s] or have
    sizes = _parse_sizes(args.sizes)
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    rng = np.random.default_rng(0)
    for name in names:
        loss = pl.get(name)
        for dt in args.dtypes.split(","):
            for n in sizes:
                arrays, opts = loss.example(rng, n, np.dtype(dt))
                for op in args.ops.split(","):
                    for t in threads:
                        pl.set_num_threads(t)
                        impls = _pyloss_impls(loss, tuple(arrays), opts, op, ["c", "numba"], False)
                        _time_group(impls, args.repeat, args.sample_ms / 1e3, 0.003)
                        med = {i.label.split()[-1]: float(np.median(i.samples)) for i in impls}
                        r = med["numba"] / med["c"]
                        rows.append(dict(loss=name, dtype=dt, n=n, op=op, threads=t,
                                         c=med["c"], numba=med["numba"], ratio=r))
                        print(f"{name:34s} {dt:8s} {n:>9.0e} {op:5s} t={t}  C {med['c'] * 1e3:8.3f} ms"
                              f"  numba {med['numba'] * 1e3:8.3f} ms  {r:6.2f}x", flush=True)
    print("\nper loss: median and worst Numba/C ratio over its cells")
    for name in names:
        rs = [r["ratio"] for r in rows if r["loss"] == name]
        if rs:
            print(f"  {name:34s} median {np.median(rs):5.2f}x  worst {max(rs):5.2f}x  "
                  f"({sum(x <= 1.5 for x in rs)}/{len(rs)} cells within 1.5x)")
    allr = [r["ratio"] for r in rows]
    print(f"all: {sum(x <= 1.5 for x in allr)}/{len(allr)} cells within 1.5x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv[1:], "rows": rows}, f, indent=1)


def markdown(rows):
    """The rows of a --json run as a markdown table: one line per loss and
    size, one column per (dtype, op, threads) cell, the loss's median last."""
    cells = sorted({(r["dtype"], r["op"], r["threads"]) for r in rows},
                   key=lambda c: (c[0] != "float32", c[1] != "value", c[2]))
    short = {"float32": "f32", "float64": "f64"}
    head = ["loss", "n"] + [f"{short.get(d, d)} {o} {t}t" for d, o, t in cells] + ["median"]
    out = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(cells) + 1)]
    keys = []
    for r in rows:
        if (r["loss"], r["n"]) not in keys:
            keys.append((r["loss"], r["n"]))
    for name, n in keys:
        mine = {(r["dtype"], r["op"], r["threads"]): r["ratio"] for r in rows
                if r["loss"] == name and r["n"] == n}
        vals = [f"{mine[c]:.2f}" if c in mine else "" for c in cells]
        out.append(f"| {name} | {n:.0e} | " + " | ".join(vals)
                   + f" | {np.median(list(mine.values())):.2f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
