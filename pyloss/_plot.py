"""``pyloss plot``: pictures of a loss, its gradient and its Hessian.

::

    pyloss plot huber --param delta=0.5 -o huber.png   # one loss
    pyloss plot regression -o regression.png            # a preset: MSE vs MAE vs Huber vs log-cosh
    pyloss plot --gallery docs/img                      # every picture, and docs/img/gallery.md

A loss is drawn against the variable it is a function of (its ``plot_axis``
fact, collected in :data:`AXES`):
the residual ``r = pred - target`` for regression losses, the logit for
binary losses on logits (curves for target 1 and 0), the probability for
``binary_cross_entropy``, the true class's logit (other logits 0, 3 classes)
for ``cross_entropy``.  Values, gradients and Hessians come from pyloss
itself (``reduction="none"``), so the pictures are of the kernels, not of a
re-derivation.  Presets (:data:`PRESETS`, from the losses' ``plot_presets``
facts) overlay several losses.
Needs matplotlib (``pip install 'pyloss[plot]'``).
"""
import ast
import os
import sys

import numpy as np

import pyloss as pl

# loss name -> axis kind, from the registered losses' ``plot_axis`` facts.
AXES = {n: pl.get(n).plot_axis for n in pl.losses() if pl.get(n).plot_axis}


def _presets():
    """preset -> (axis kind, title, [(label, loss name, options)]), from the
    registered losses' ``plot_presets`` facts (curves in registry order)."""
    out = {}
    for name in pl.losses():
        for preset, kind, title, curves in pl.get(name).plot_presets:
            entry = out.setdefault(preset, (kind, title, []))
            entry[2].extend((label, name, opts) for label, opts in curves)
    return out


PRESETS = _presets()

_XLABEL = {"residual": "residual r = pred − target", "logit": "logit x",
           "prob": "predicted probability p", "class_logit": "logit of the true class (others 0)",
           "p_true": "probability of the true class p_t"}


def _curve(kind, name, opts, target=1.0, n=801):
    """(x, value, grad, hess or None) of loss `name` along its axis."""
    loss = pl.get(name)
    if kind == "residual":
        x = np.linspace(-3.0, 3.0, n)
        arrays = (x, np.zeros_like(x))
    elif kind == "logit":
        x = np.linspace(-6.0, 6.0, n)
        arrays = (x, np.full_like(x, target))
    elif kind == "prob":
        x = np.linspace(0.005, 0.995, n)
        arrays = (x, np.full_like(x, target))
    elif kind == "p_true":
        x = np.linspace(0.0025, 0.9975, n)
        arrays = (np.log(x) - np.log1p(-x), np.ones_like(x))   # logit of p_t, target 1
    elif kind == "class_logit":
        x = np.linspace(-6.0, 6.0, n)
        logits = np.zeros((n, 3))
        logits[:, 0] = x
        arrays = (logits, np.zeros(n, dtype=np.int64))
    else:  # pragma: no cover - table error
        raise ValueError(kind)
    value = np.asarray(loss(*arrays, reduction="none", **opts), np.float64)
    grad = loss.grad(*arrays, reduction="none", **opts)
    grad = np.asarray(grad[0] if isinstance(grad, tuple) else grad, np.float64)
    hess = None
    if loss.has_hessian:
        try:
            hess = np.asarray(loss.hessian(*arrays, reduction="none", **opts), np.float64)
        except pl.PylossNotImplementedError:
            hess = None
    if kind == "class_logit":
        grad = grad[:, 0]
        hess = None if hess is None else hess[:, 0]
    return x, value, grad, hess


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("pyloss plot needs matplotlib: pip install 'pyloss[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _figure(plt, kind, title, curves, show_hess):
    ncol = 3 if show_hess else 2
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 3.6), constrained_layout=True)
    for label, (x, v, g, h) in curves:
        axes[0].plot(x, v, label=label, lw=1.8)
        axes[1].plot(x, g, label=label, lw=1.8)
        if show_hess and h is not None:
            axes[2].plot(x, h, label=label, lw=1.8)
    names = ["loss", "gradient d loss / d input", "Hessian (diagonal)"]
    if kind == "class_logit":
        names[1] = "gradient w.r.t. the true class's logit"
    elif kind == "p_true":
        names[1] = "gradient w.r.t. the logit"
    for ax, nm in zip(axes, names):
        ax.set_title(nm, fontsize=10)
        ax.set_xlabel(_XLABEL[kind], fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.axhline(0.0, color="0.6", lw=0.6)
    if kind in ("residual", "class_logit", "logit"):
        top = max(float(np.nanmax(v)) for _, (x, v, g, h) in curves)
        axes[0].set_ylim(-0.05 * top, min(top, 6.0) * 1.05)
    if kind == "prob":   # 1/p blow-ups at the ends would flatten everything else
        for ax in axes[1:]:
            ax.set_yscale("symlog", linthresh=1.0)
    if len(curves) > 1:
        axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    return fig


def draw(name, params=None, path=None):
    """Draw loss or preset `name` to the PNG `path`; returns the path."""
    plt = _pyplot()
    params = dict(params or {})
    if name in PRESETS:
        kind, title, spec = PRESETS[name]
        curves = [(label, _curve(kind, n, dict(o, **params))) for label, n, o in spec]
        show_hess = all(pl.get(n).has_hessian for _, n, _ in spec) and kind != "p_true"
    else:
        if name not in pl.losses():
            raise pl.PylossValueError(
                f"name: expected a loss ({', '.join(plottable())}) or a preset "
                f"({', '.join(PRESETS)}), got {name!r}")
        if name not in AXES:
            raise pl.PylossValueError(f"name: no picture is defined for {name!r}; "
                                      f"plottable: {', '.join(plottable())}")
        kind = AXES[name]
        shown = {k: v for k, v in pl.get(name).options.items() if v is not None and k != "weight"}
        shown.update(params)
        opt = ", ".join(f"{k}={v}" for k, v in shown.items())
        title = f"pyloss.{name}({opt})"
        if kind in ("logit", "prob"):
            curves = [(f"target {t:g}", _curve(kind, name, params, target=t)) for t in (1.0, 0.0)]
        else:
            curves = [(name, _curve(kind, name, params))]
        show_hess = pl.get(name).has_hessian
    fig = _figure(plt, kind, title, curves, show_hess)
    path = path or f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plottable():
    """Registered losses with a picture, then the usable presets."""
    return tuple(n for n in AXES if n in pl.losses())


def presets():
    """The presets (each drawn from registered losses only)."""
    return tuple(PRESETS)


def gallery(directory):
    """Every plottable loss and usable preset into `directory`, plus gallery.md."""
    os.makedirs(directory, exist_ok=True)
    made = []
    for name in presets() + plottable():
        made.append(draw(name, path=os.path.join(directory, f"{name}.png")))
    with open(os.path.join(directory, "gallery.md"), "w") as f:
        f.write("<!-- generated by `pyloss plot --gallery` -->\n")
        for p in made:
            base = os.path.basename(p)
            f.write(f"![{base[:-4]}]({base})\n")
    return made


def _parse_params(items):
    params = {}
    for item in items or ():
        if "=" not in item:
            raise pl.PylossValueError(f"--param: expected KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            params[k.strip()] = ast.literal_eval(v.strip())
        except (ValueError, SyntaxError):
            params[k.strip()] = v.strip()
    return params


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="a loss name or a preset (" + ", ".join(PRESETS) + ")")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="a loss option, e.g. --param delta=0.5 (repeatable)")
    parser.add_argument("-o", "--output", metavar="FILE.png", help="output file (default NAME.png)")
    parser.add_argument("--gallery", metavar="DIR",
                        help="draw every loss and preset into DIR (with DIR/gallery.md)")


def run(args):
    try:
        if args.gallery:
            for p in gallery(args.gallery):
                print(p)
            return 0
        if not args.name:
            print("pyloss plot: give a loss or preset name, or --gallery DIR", file=sys.stderr)
            return 2
        print(draw(args.name, _parse_params(args.param), args.output))
        return 0
    except pl.PylossError as exc:
        print(f"pyloss plot: {exc}", file=sys.stderr)
        return 2
