"""The softmax losses' option combinations, side by side over build trees.

    python bench/softmax_options.py --rounds 3 old=/path/to/old/tree new=.

`pyloss bench` (and bench/compare_builds.py) times each loss's `example`, which
for cross_entropy is plain class targets: the C kernels have separate bodies for
other combinations (class weights, label smoothing, probability targets) and
layouts (narrow rows C < 32, wide rows, (N, C, d) inputs).  This times
cross_entropy with each of seven option sets and softmax_focal, at 10^5-10^6
logits of six shapes, both dtypes, value and value_and_grad, C backend, one
thread, in alternating rounds over the trees (each a checkout built in place:
python csrc/build.py), and prints each cell's minimum over the rounds of the
per-round median, with each tree's ratio to the first.  Treat a single cell
within 0.85-1.3 as noise on a shared machine; quote the geometric mean.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SHAPES = [(100000, 5), (100000, 10), (50000, 20), (10000, 100), (1000, 1000), (100, 10, 1000)]


def measure(out, repeat):
    """One round in this process (the tree on PYTHONPATH): {cell: median s}."""
    import numpy as np
    import pyloss as pl
    pl.set_num_threads(1)
    rng = np.random.default_rng(0)
    res = {}
    for dt in (np.float32, np.float64):
        for shape in SHAPES:
            n, c = shape[0], shape[1]
            z = (rng.normal(size=shape) * 3).astype(dt)
            y = rng.integers(0, c, size=(n,) + shape[2:])
            tp = rng.random(shape).astype(dt)
            tp /= tp.sum(axis=1, keepdims=True)
            w = (rng.random(c) + 0.5).astype(dt)
            combos = {"plain": (pl.cross_entropy, (z, y), {}),
                      "ls": (pl.cross_entropy, (z, y), {"label_smoothing": 0.1}),
                      "w": (pl.cross_entropy, (z, y), {"weight": w}),
                      "w+ls": (pl.cross_entropy, (z, y), {"weight": w, "label_smoothing": 0.1}),
                      "prob": (pl.cross_entropy, (z, tp), {}),
                      "prob+ls": (pl.cross_entropy, (z, tp), {"label_smoothing": 0.1}),
                      "focal": (pl.softmax_focal, (z, y), {})}
            for name, (loss, args, kw) in combos.items():
                for op, fn in (("value", loss), ("vg", loss.value_and_grad)):
                    fn(*args, backend="c", **kw)
                    ts = []
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        fn(*args, backend="c", **kw)
                        ts.append(time.perf_counter() - t0)
                    res[f"{np.dtype(dt).name} {shape} {name} {op}"] = statistics.median(ts)
    with open(out, "w") as f:
        json.dump(res, f)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("builds", nargs="*", help="NAME=TREE; the first is the base")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--_one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:
        return measure(args._one, args.repeat)
    builds = []
    for spec in args.builds:
        name, _, tree = spec.partition("=")
        if not name or not os.path.isdir(tree):
            raise SystemExit(f"build {spec!r}: expected NAME=TREE with TREE a directory")
        builds.append((name, os.path.abspath(tree)))
    if not builds:
        raise SystemExit("give at least one NAME=TREE")
    best = {}
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "round.json")
        for r in range(args.rounds):
            for name, tree in builds:
                subprocess.run([sys.executable, os.path.abspath(__file__), "--_one", out,
                                "--repeat", str(args.repeat)], check=True, cwd=tree,
                               env=dict(os.environ, PYTHONPATH=tree))
                for cell, t in json.load(open(out)).items():
                    best[(name, cell)] = min(t, best.get((name, cell), float("inf")))
            print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)
    from compare_builds import print_table   # bench/ is sys.path[0] when run as a script
    names = [b[0] for b in builds]
    cells = [c for (n, c) in best if n == names[0]]
    print_table(names, f"{'cell':44s}",
                [(f"{c:44s}", [best[(n, c)] * 1e3 for n in names]) for c in cells])

if __name__ == "__main__":
    main()
