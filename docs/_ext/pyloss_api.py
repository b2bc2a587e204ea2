"""Sphinx extension: one API page per registered loss, written at build time.

For every name in ``pyloss.losses()`` this writes ``docs/api/<name>.rst``
(and ``docs/api/index.rst``, grouped by ``loss.family``) from the registry
alone: the signature (``loss.inputs`` and ``loss.options``), a summary table
(``diff``, ``has_hessian``, ``reductions``), the docstring rendered by
numpydoc, and a picture of the loss and its derivatives drawn with
matplotlib.  Nothing is written by hand per loss.

Two checks make a loss without proper documentation fail the build (as
Sphinx warnings, which ``-W`` turns into errors):

* every registered loss must end up with a page in the build
  (``docs/api/<name>.rst`` read by Sphinx and listed in ``api/index``);
* every key of ``loss.options`` and every name in ``loss.inputs`` must be
  documented in the Parameters section of the loss's docstring, and the
  docstring must parse as numpydoc without warnings.
"""
import inspect
import os
import warnings

import numpy as np

from sphinx.util import logging

logger = logging.getLogger(__name__)

_FAMILY_TITLES = {
    "regression": "Regression", "classification": "Classification", "embedding": "Embedding",
    "generative": "Generative", "segmentation": "Segmentation", "combination": "Combinations",
    "glm": "GLM and boosting", "metric": "Metric learning", "lovasz": "Lovász",
    "boxes": "Bounding boxes",
}

_OPS_NOTE = (
    "Every loss is a :class:`pyloss.Loss`: ``pl.{n}(...)`` is the value, and "
    "``pl.{n}.grad``, ``pl.{n}.value_and_grad``{h} and ``pl.{n}.reference`` take the "
    "same arguments (``out=`` too, except the value). See :doc:`../guide/contract`.")


def _params_of(doc):
    """(names documented under Parameters, numpydoc warnings, parsed doc)."""
    from numpydoc.docscrape import NumpyDocString
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed = NumpyDocString(inspect.cleandoc(doc or ""))
    names = set()
    for p in parsed["Parameters"]:
        for part in p.name.split(","):
            part = part.strip().lstrip("*")
            if part:
                names.add(part)
    return names, [str(w.message) for w in caught], parsed


def check_loss_doc(loss):
    """Problems with ``loss.__doc__`` as a list of messages (empty: fine)."""
    if not (loss.__doc__ or "").strip():
        return [f"pyloss.{loss.name} has no docstring"]
    names, warns, _ = _params_of(loss.__doc__)
    problems = [f"pyloss.{loss.name}: numpydoc: {w}" for w in warns]
    for opt in loss.options:
        if opt not in names:
            problems.append(
                f"pyloss.{loss.name}: option {opt!r} (in loss.options, default "
                f"{loss.options[opt]!r}) is missing from the Parameters section of its "
                f"docstring; document it as '{opt} : type' with its range and default")
    for arg in loss.inputs:
        if arg not in names:
            problems.append(f"pyloss.{loss.name}: input {arg!r} (in loss.inputs) is missing "
                            f"from the Parameters section of its docstring")
    return problems


def _signature(loss):
    # the loss's own signature (loss.inputs, then loss.options, keyword-only)
    return f"pyloss.{loss.name}{inspect.signature(loss)}"


def _render_doc(loss):
    from numpydoc.docscrape_sphinx import SphinxDocString
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = SphinxDocString(inspect.cleandoc(loss.__doc__ or ""),
                              config={"use_plots": False, "show_class_members": False})
        # numpydoc writes a parameter's type as plain text: a shape such as
        # "(N, C, *spatial)" would open an rst emphasis.  Escape the stars.
        for section in ("Parameters", "Other Parameters", "Returns", "Yields", "Raises"):
            doc[section] = [p._replace(type=p.type.replace("*", r"\*")) for p in doc[section]]
        return str(doc)


def _indent(text, n=3):
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


# ------------------------------------------------------------------ pictures
def _generic_curves(loss, rng):
    """Vary one coordinate of the first differentiable input of the loss's
    example inputs (the rest fixed).  Returns the loss of the element/sample
    holding that coordinate (``reduction="none"``; the total where ``"none"``
    is not available for these inputs), and the first and second derivatives
    of the summed loss with respect to the coordinate."""
    arrays, opts = loss.example(rng, 64, np.float64)
    arrays = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in arrays]
    opts = {k: v for k, v in opts.items() if not isinstance(v, np.ndarray)}
    which = loss.inputs.index(loss.diff[0])
    base = np.array(arrays[which], dtype=np.float64, copy=True)
    x0 = float(base.flat[0])
    xs = x0 + np.linspace(-3.0, 3.0, 121)
    red = "sum" if "sum" in loss.reductions else loss.reductions[0]
    per = "none" in loss.reductions
    vals, grads, hess = (np.full(xs.size, np.nan) for _ in range(3))
    for i, x in enumerate(xs):
        a = base.copy()
        a.flat[0] = x
        args = list(arrays)
        args[which] = a
        try:
            if per:
                try:
                    vals[i] = float(np.asarray(loss(*args, reduction="none", **opts)).flat[0])
                except Exception:
                    per = False
            if not per:
                vals[i] = float(loss(*args, reduction=red, **opts))
            g = loss.grad(*args, reduction=red, **opts)
            g = g[0] if isinstance(g, tuple) else g
            grads[i] = float(np.asarray(g).flat[0])
            if loss.has_hessian:
                hess[i] = float(np.asarray(loss.hessian(*args, reduction=red, **opts)).flat[0])
        except Exception:  # outside the loss's domain: leave a gap
            pass
    what = "loss of the element/sample holding it" if per else f"loss ({red})"
    return xs, vals, grads, (hess if loss.has_hessian else None), opts, what


def draw_loss(loss, path):
    """PNG of the loss and its derivatives; pyloss/_plot.py's axes where it has one."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pyloss import _plot
    if loss.name in _plot.AXES:
        _plot.draw(loss.name, path=path)
        return
    xs, v, g, h, opts, what = _generic_curves(loss, np.random.default_rng(0))
    ncol = 3 if h is not None else 2
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 3.4), constrained_layout=True)
    coord = f"{loss.diff[0]}[0]"
    for ax, y, title in zip(axes, (v, g, h), (what, f"d (summed loss) / d {coord}",
                                               f"d² (summed loss) / d {coord}²")):
        ax.plot(xs, y, lw=1.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"{coord} (other inputs fixed)", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.axhline(0.0, color="0.6", lw=0.6)
    shown = ", ".join(f"{k}={val!r}" for k, val in opts.items())
    fig.suptitle(f"pyloss.{loss.name}({shown}) on its example inputs", fontsize=11)
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ------------------------------------------------------------------ pages
def _page(loss):
    n = loss.name
    h = ", ``pl.{}.hessian``".format(n) if loss.has_hessian else ""
    opts = ", ".join(f"``{k}={v!r}``" for k, v in loss.options.items()) or "none"
    rows = [
        ("family", loss.family),
        ("inputs", ", ".join(f"``{a}``" for a in loss.inputs)),
        ("gradient with respect to", ", ".join(f"``{a}``" for a in loss.diff)
         + (" (a tuple, in this order)" if len(loss.diff) > 1 else "")),
        ("Hessian (diagonal)", "yes" if loss.has_hessian else "no"),
        ("reductions", ", ".join(f'``"{r}"``' for r in loss.reductions)),
        ("options (defaults)", opts),
    ]
    table = [".. list-table::", "   :widths: 30 70", ""]
    for k, v in rows:
        table += [f"   * - {k}", f"     - {v}"]
    lines = [
        f".. Generated from the pyloss registry by docs/_ext/pyloss_api.py; do not edit.",
        "",
        f".. _api-{n}:",
        "",
        n,
        "=" * len(n),
        "",
        f".. py:function:: {_signature(loss)}",
        "",
        _indent(_render_doc(loss)),
        "",
        "Summary",
        "-------",
        "",
        *table,
        "",
        _OPS_NOTE.format(n=n, h=h),
        "",
        "Picture",
        "-------",
        "",
        "The loss and its derivatives, computed by pyloss at build time"
        + (" against the variable of ``pyloss plot``." if _has_axis(n) else
           ": one coordinate of the first differentiable input is varied, every other input "
           "stays at the loss's example inputs (``loss.example``)."),
        "",
        f".. image:: img/{n}.png",
        f"   :alt: {n}, its gradient" + (" and Hessian" if loss.has_hessian else ""),
        "",
    ]
    return "\n".join(lines)


def _has_axis(name):
    from pyloss import _plot
    return name in _plot.AXES


def _index(names_by_family):
    lines = [".. Generated from the pyloss registry by docs/_ext/pyloss_api.py; do not edit.",
             "", ".. _api-losses:", "", "Losses", "======", "",
             "One page per registered loss (``pyloss.losses()``), generated from the registry "
             "when the documentation is built.", ""]
    import pyloss as pl
    for fam, names in names_by_family.items():
        title = _FAMILY_TITLES.get(fam, fam.replace("_", " ").capitalize())
        lines += [title, "-" * len(title), "", ".. list-table::", "   :widths: 30 70", ""]
        for n in names:
            summary = inspect.cleandoc(pl.get(n).__doc__ or "").split("\n")[0]
            lines += [f"   * - :doc:`{n}`", f"     - {summary}"]
        lines += ["", ".. toctree::", "   :hidden:", ""] + [f"   {n}" for n in names] + [""]
    return "\n".join(lines)


def _write_if_changed(path, text):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def generate(app):
    import pyloss as pl
    outdir = os.path.join(app.srcdir, "api")
    imgdir = os.path.join(outdir, "img")
    os.makedirs(imgdir, exist_ok=True)
    names = pl.losses()
    by_family = {}
    for n in names:
        loss = pl.get(n)
        by_family.setdefault(loss.family, []).append(n)
        for problem in check_loss_doc(loss):
            logger.warning(problem, type="pyloss", subtype="docstring")
        _write_if_changed(os.path.join(outdir, f"{n}.rst"), _page(loss))
        img = os.path.join(imgdir, f"{n}.png")
        if not os.path.exists(img) or app.config.pyloss_redraw:
            try:
                draw_loss(loss, img)
            except Exception as exc:
                logger.warning(f"pyloss.{n}: could not draw its picture: {exc!r}",
                               type="pyloss", subtype="picture")
    _write_if_changed(os.path.join(outdir, "index.rst"), _index(by_family))
    # Pages of losses no longer registered would be orphans: remove them.
    for f in os.listdir(outdir):
        if f.endswith(".rst") and f != "index.rst" and f[:-4] not in names:
            os.remove(os.path.join(outdir, f))
    app.env_pyloss_names = names


def check_pages(app, env):
    """Every registered loss has a page that Sphinx read and that api/index lists."""
    import pyloss as pl
    included = set()
    for docs in env.toctree_includes.values():
        included.update(docs)
    for n in pl.losses():
        doc = f"api/{n}"
        if doc not in env.found_docs:
            logger.warning(f"pyloss.{n} is registered but has no API page ({doc}.rst)",
                           type="pyloss", subtype="page")
        elif doc not in included:
            logger.warning(f"pyloss.{n} has a page ({doc}.rst) that no toctree lists",
                           type="pyloss", subtype="page")
    return []


def setup(app):
    app.add_config_value("pyloss_redraw", True, "env")
    app.connect("builder-inited", generate)
    app.connect("env-check-consistency", check_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
