"""Two or more builds of the C kernels side by side: `pyloss bench` run in
each build's tree in alternating rounds, and the median of each cell over the
rounds, with each build's ratio to the first.

    python bench/compare_builds.py --rounds 3 old=/path/to/old/tree new=.
    python bench/compare_builds.py v3=.:PYLOSS_ISA=x86-64-v3 base=.:PYLOSS_ISA=baseline

A build is NAME=TREE[:VAR=VALUE,...]: a checkout with its extension built in
place (python csrc/build.py), and environment settings for its runs (e.g.
PYLOSS_ISA, to compare the per-CPU bodies of one build).  Each run is every
loss's example at --size elements, C backend, --threads threads,
value_and_grad, per dtype; the rounds alternate the builds so that a slow
minute of a shared machine falls on all of them.  Quote the geometric mean of
the ratios, and treat a single cell within 0.85-1.3 as noise (the spread of
one build against itself here).
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile


def parse_build(spec):
    name, _, rest = spec.partition("=")
    tree, _, envs = rest.partition(":")
    env = dict(kv.split("=", 1) for kv in envs.split(",") if kv)
    if not name or not os.path.isdir(tree):
        raise SystemExit(f"build {spec!r}: expected NAME=TREE[:VAR=VALUE,...] with TREE a directory")
    return name, os.path.abspath(tree), env


def run(tree, env, dtype, args, out):
    cmd = [sys.executable, "-m", "pyloss.cli", "bench", "--sizes", args.size, "--threads",
           str(args.threads), "--backends", "c", "--no-peers", "--ops", args.ops, "--dtype", dtype,
           "--repeat", str(args.repeat), "--sample-ms", "20", "--json", out]
    if args.losses:
        cmd += ["--losses", args.losses]
    e = dict(os.environ, PYTHONPATH=tree, **env)
    r = subprocess.run(cmd, cwd=tree, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} in {tree} failed:\n{r.stderr}")
    return json.load(open(out))["results"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("builds", nargs="+", help="NAME=TREE[:VAR=VALUE,...]; the first is the base")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--losses", default="")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--size", default="1e6")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ops", default="vg")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    builds = [parse_build(b) for b in args.builds]
    med = collections.defaultdict(list)   # (build, loss, dtype, op) -> medians over rounds
    with tempfile.TemporaryDirectory() as d:
        for r in range(args.rounds):
            for name, tree, env in builds:
                for dtype in args.dtypes.split(","):
                    for row in run(tree, env, dtype, args, os.path.join(d, "run.json")):
                        if row["impl"] == "pyloss c" and row["median"]:
                            med[(name, row["loss"], row["dtype"], row["op"])].append(row["median"])
            print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)
    names = [b[0] for b in builds]
    cells = sorted({k[1:] for k in med})
    print_table(names, f"{'loss':26s} {'dtype':8s} {'op':5s}",
                [(f"{c[0]:26s} {c[1]:8s} {c[2]:5s}",
                  [statistics.median(med[(n,) + c]) * 1e3 if med.get((n,) + c) else float("nan")
                   for n in names]) for c in cells])


def print_table(names, head, rows):
    """rows: (label, [ms per build]); prints each build's ms and ratio to the first,
    then the geometric mean, median and range of each ratio (bench/softmax_options.py
    prints its table with it too)."""
    print(head + "".join(f"{n + ' ms':>12s}" for n in names)
          + "".join(f"{n + '/' + names[0]:>14s}" for n in names[1:]))
    ratios = collections.defaultdict(list)
    for label, ms in rows:
        row = label + "".join(f"{m:12.3f}" for m in ms)
        for i, n in enumerate(names[1:], 1):
            ratios[n].append(ms[i] / ms[0])
            row += f"{ms[i] / ms[0]:14.2f}"
        print(row)
    for n, rs in ratios.items():
        rs = [x for x in rs if x == x]
        if rs:
            print(f"{n}/{names[0]}: geometric mean {statistics.geometric_mean(rs):.3f}, median "
                  f"{statistics.median(rs):.3f}, min {min(rs):.2f}, max {max(rs):.2f} "
                  f"({len(rs)} cells)")

if __name__ == "__main__":
    main()
