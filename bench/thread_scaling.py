"""1 vs N threads for the C and Numba backends, measured by `pyloss bench`.

    python bench/thread_scaling.py [--threads 2] [--sizes 1e7] [--losses a,b]
                                   [--json-dir bench/results_threads]

Runs `pyloss bench --no-peers` once per thread count (same losses, sizes,
float32) and prints, per loss and op, the median time of each backend at 1 and
at N threads and the speed-up t(1) / t(N).  Elementwise kernels are cut into
the same fixed blocks whatever the thread count, so the values are
bit-identical and only the time differs.
"""
import argparse
import json
import os
import subprocess
import sys

DEFAULT_LOSSES = ("mse,huber,log_cosh,binary_cross_entropy_with_logits,sigmoid_focal,"
                  "cross_entropy,kl_div,gan_generator,triplet,kl_gaussian,dice")


def run(threads, args, path):
    cmd = [sys.executable, "-m", "pyloss.cli", "bench", "--no-peers", "--dtype", "float32",
           "--backends", "c,numba", "--losses", args.losses, "--sizes", args.sizes,
           "--repeat", str(args.repeat), "--threads", str(threads), "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="1e7")
    ap.add_argument("--losses", default=DEFAULT_LOSSES)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json-dir", default="bench/results_threads")
    args = ap.parse_args(argv)
    os.makedirs(args.json_dir, exist_ok=True)
    runs = {k: run(k, args, os.path.join(args.json_dir, f"threads{k}.json"))
            for k in (1, args.threads)}
    idx = {}
    for k, d in runs.items():
        for r in d["results"]:
            if r.get("median") is not None:
                idx[(r["loss"], r["elements"], r["op"], r["impl"], k)] = r["median"]
    h = runs[args.threads]["header"]
    print(f"{h['date']}, {h['cpu']}, {h['cpus']} CPUs, load average {h.get('loadavg')}, float32; "
          f"speed-up = t(1 thread) / t({args.threads} threads), medians of {args.repeat}")
    print()
    print(f"| loss | elements | op | backend | 1 thread | {args.threads} threads | speed-up |")
    print("|---|---:|---|---|---:|---:|---:|")
    keys = sorted({k[:4] for k in idx}, key=lambda k: (k[0], k[1], k[2], k[3]))
    for loss, n, op, impl in keys:
        if impl not in ("pyloss c", "pyloss numba"):
            continue
        t1 = idx.get((loss, n, op, impl, 1))
        tn = idx.get((loss, n, op, impl, args.threads))
        if t1 and tn:
            print(f"| {loss} | {n} | {op} | {impl.split()[1]} | {t1 * 1e3:.3g} ms | "
                  f"{tn * 1e3:.3g} ms | {t1 / tn:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
