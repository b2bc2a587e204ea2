"""The ``pyloss`` command.  Subcommands live in their own modules and are
imported only when used, so ``pyloss --help`` stays fast."""
import argparse
import importlib
import sys

# name -> (module, help).  Each module has add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "bench": ("pyloss.bench", "time pyloss backends against NumPy and installed peers"),
    "info": ("pyloss._info", "version, backends, threads, build flags, CPU features"),
    "plot": ("pyloss._plot", "draw a loss and its gradient to a PNG (needs matplotlib)"),
    "warmup": ("pyloss._warmup", "compile the Numba kernels now (one first call per loss and dtype)"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pyloss", description="Fused CPU loss kernels.")
    sub = parser.add_subparsers(dest="command", required=True)
    mods = {}
    for name, (modname, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        mod.add_arguments(p)
        mods[name] = mod
    args = parser.parse_args(argv)
    if args.command not in mods:
        parser.error(f"'{args.command}' is not available in this installation")
    return mods[args.command].run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
