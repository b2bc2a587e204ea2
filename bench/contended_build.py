"""``pyloss bench --contended`` for another build of pyloss, with this tree's
protocol (pyloss/bench/contended.py), e.g. the OpenMP build it replaced:

    git worktree add /tmp/old 53bef0c && (cd /tmp/old && python csrc/build.py)
    PYTHONPATH=/tmp/old python bench/contended_build.py --repeat 100 --json old.json

The pyloss imported is whichever PYTHONPATH gives; the protocol is always
this tree's, so the two tables are comparable row by row (bench/RESULTS.md,
"A busy machine")."""
import argparse
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--gap-ms", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    import pyloss as pl
    spec = importlib.util.spec_from_file_location(
        "pyloss_contended", os.path.join(HERE, "..", "pyloss", "bench", "contended.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.stderr.write(f"timing the pyloss at {os.path.dirname(pl.__file__)}\n")
    return mod.run_contended(args, pl)


if __name__ == "__main__":
    sys.exit(main())
