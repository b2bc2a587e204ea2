"""Shared test machinery.

Per-loss test content lives in ``tests/cases_<family>.py`` as a ``CASES``
dict ``name -> Case``; the generic tests (test_contract.py, test_zoo.py and
friends) iterate over ``pyloss.losses()`` and fail for a loss without a case.
Everything a generic test needs to know about a loss comes from its ``Loss``
attributes (``inputs``, ``diff``, ``options``, ``has_hessian``,
``reductions``) and from its ``Case``; no test special-cases a loss name.
"""
import dataclasses
import glob
import importlib.util
import os
from typing import Callable

import numpy as np
import pytest

HERE = os.path.dirname(__file__)

try:  # the test extra; without it the property-based tests skip (tests/_no_hypothesis.py)
    import hypothesis  # noqa: F401
except ImportError:
    import sys
    sys.path.insert(0, HERE)
    import _no_hypothesis
    _no_hypothesis.install()

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
FLOAT_DTYPES = (F16, F32, F64)


@dataclasses.dataclass
class Case:
    """How to exercise one loss in the generic tests.

    make(rng, shape, dtype) -> (arrays, opts)
        Valid random inputs; ``shape`` is the leading (batch) shape the loss
        should see -- an elementwise loss uses it as the prediction shape, a
        classification loss as (N,) or (N, d1) with its own class axis, etc.
        The generic tests call it with 1-d shapes of every zoo size (0, 1,
        7, 8, 9, ..., 2**17 + 5), with (7, 5), and with () when
        ``scalar_ok``.
    option_sets
        Option dicts that the generic tests run on top of ``make``'s opts.
    fd_ok(arrays, opts) -> bool array of the first diff input's shape, optional
        Where a central finite difference is meaningful (away from kinks).
        May also return a tuple with one mask per differentiable input.
    hand
        (arrays, opts, reduction, expected, why) tuples: values derived by hand
        or from an independent source cited in ``why``.
    reductions
        Reductions to test (the loss's own ``reductions`` are used when this
        is left at the default).

    Optional fields (sensible defaults for most losses):

    weight(rng, arrays, opts) -> array, optional
        A valid ``weight=`` for these inputs.  Default: positive random values
        of the ``reduction="none"`` output's shape (SPEC 3a: weight multiplies
        each per-element or per-sample loss).  Losses whose weight has another
        shape (per-class weights) must give one.
    int_castable
        Indices of inputs that also accept integer arrays, cast to the compute
        dtype (regression targets): an integer copy of ``make``'s values must
        give the same result as the float one.
    scalar_ok
        Whether 0-d inputs are meaningful (``make(rng, (), dtype)``).
        ``None``: true for elementwise losses.
    rtol
        {dtype name: relative tolerance} against the float64 reference,
        overriding ``DEFAULT_RTOL``.
    fd_step, fd_rtol
        Central-difference step (relative to max(1, |x|)) and tolerance.
    empty_mean
        The ``mean`` of zero-size inputs: NaN (NumPy's mean of nothing, SPEC 2)
        unless the loss's own formula says otherwise (a ``max(1, count)``
        normaliser gives 0).
    shape_free
        Indices of inputs whose batch size may differ from the first input's
        (GAN real/fake batches); the others must raise a ValueError on a
        batch-size mismatch.
    hyp_bounds
        {input index: (lo, hi)}: float inputs that hypothesis may fill with
        any finite value in that range (magnitudes above ``1e15`` are clipped
        for float16/float32 runs).  Inputs not listed come from ``make``.
    """
    make: Callable
    option_sets: list = dataclasses.field(default_factory=lambda: [{}])
    fd_ok: Callable = None
    hand: list = dataclasses.field(default_factory=list)
    reductions: tuple = ("mean", "sum", "none")
    weight: Callable = None
    int_castable: tuple = ()
    scalar_ok: bool = None
    rtol: dict = None
    fd_step: float = 1e-6
    fd_rtol: float = 1e-6
    hyp_bounds: dict = None
    shape_free: tuple = ()
    empty_mean: float = float("nan")


def _collect():
    cases = {}
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases.update(mod.CASES)
    return cases


CASES = _collect()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def restore_threads():
    import pyloss as pl
    n = pl.get_num_threads()
    yield
    pl.set_num_threads(n)


def available_backends():
    import pyloss as pl
    return pl.backends()


# ------------------------------------------------------------------ helpers
# Generic machinery used by every registry-driven test.

DEFAULT_RTOL = {"float16": 2e-5, "float32": 2e-5, "float64": 1e-11}
OPS = ("value", "grad", "vg", "hess")


def case_of(name):
    try:
        return CASES[name]
    except KeyError:
        raise AssertionError(f"loss {name!r} is registered but has no Case in tests/cases_*.py") from None


def reductions_of(loss, case):
    if case.reductions == Case.__dataclass_fields__["reductions"].default:
        return tuple(loss.reductions)
    return tuple(r for r in case.reductions if r in loss.reductions)


def ops_of(loss):
    return OPS if loss.has_hessian else OPS[:3]


def scalar_ok(loss, case):
    if case.scalar_ok is not None:
        return case.scalar_ok
    from pyloss._loss import ElementwiseLoss
    return isinstance(loss, ElementwiseLoss)


def rtol_of(case, dtype):
    key = np.dtype(dtype).name
    if case.rtol and key in case.rtol:
        return case.rtol[key]
    return DEFAULT_RTOL[key]


def diff_index(loss):
    return [loss.inputs.index(d) for d in loss.diff]


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def map_arrays(fn, x):
    """Apply fn to every ndarray in x (a tuple/list/dict of arrays and scalars)."""
    if isinstance(x, np.ndarray):
        return fn(x)
    if isinstance(x, dict):
        return {k: map_arrays(fn, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(map_arrays(fn, v) for v in x)
    return x


def to64(x):
    """Float arrays (any float dtype) as float64; other arrays and scalars unchanged."""
    return map_arrays(lambda a: a.astype(np.float64) if a.dtype.kind == "f" else a, x)


def copies(x):
    return map_arrays(lambda a: a.copy(), x)


def assert_unchanged(before, after):
    """Every array in `after` still equals its copy in `before` bit for bit."""
    def walk(b, a):
        if isinstance(a, np.ndarray):
            # bytes compare: fast, and exact to the bit (NaN payloads too)
            if not (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()):
                np.testing.assert_array_equal(a, b, strict=True, err_msg="an input was modified")
                raise AssertionError("an input was modified (bit pattern changed)")
        elif isinstance(a, dict):
            for k in a:
                walk(b[k], a[k])
        elif isinstance(a, (list, tuple)):
            for x, y in zip(b, a):
                walk(x, y)
    walk(before, after)


def call(loss, op, arrays, opts, reduction, backend, out=None):
    """Run one public operation: op in OPS."""
    kw = dict(opts)
    if out is not None:
        kw["out"] = out
    if op == "value":
        return loss(*arrays, reduction=reduction, backend=backend, **kw)
    fn = {"grad": loss.grad, "vg": loss.value_and_grad, "hess": loss.hessian}[op]
    return fn(*arrays, reduction=reduction, backend=backend, **kw)


def split(op, result):
    """(value or None, tuple of derivative arrays or None)."""
    if op == "value":
        return result, None
    if op == "vg":
        return result[0], as_tuple(result[1])
    return None, as_tuple(result)


def reference(loss, arrays, opts, reduction, op):
    """The NumPy reference of `op` computed from float64 copies of the inputs."""
    return call(loss, op, to64(arrays), to64(opts), reduction, "numpy")


def value_scale(loss, arrays, opts, reduction, ref_value):
    """Magnitude against which a reduced value's rounding is judged: the
    reduction of |per-element losses| (so sums with cancellation get an
    absolute tolerance of the size of their terms)."""
    if reduction in ("mean", "sum") and "none" in loss.reductions:
        none = np.abs(reference(loss, arrays, opts, "none", "value"))
        if none.size:
            none = none[np.isfinite(none)]
            if none.size:
                return float(none.sum() if reduction == "sum" else none.mean())
    r = np.abs(np.asarray(ref_value, np.float64))
    r = r[np.isfinite(r)]
    return float(r.max()) if r.size else 0.0


def assert_close(got, ref, rtol, scale=0.0, what="", floor=None):
    """|got - ref| <= rtol * (|ref| + scale) + floor, NaN/inf equal where both
    are.  `floor` (default: 16 smallest normals of float64) absorbs the
    subnormal range of the dtype computed in."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}"
    if got.size == 0:
        return
    if scale == 0.0:
        finite = np.isfinite(ref)
        scale = float(np.max(np.abs(ref[finite]))) if finite.any() else 0.0
    if floor is None:
        floor = 16 * np.finfo(np.float64).tiny
    with np.errstate(all="ignore"):
        ok = (np.abs(got - ref) <= rtol * np.abs(ref) + (rtol * scale + floor)) | (got == ref) \
            | (np.isnan(got) & np.isnan(ref))
    if ok.all():
        return
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale + floor, equal_nan=True,
                               err_msg=what)


def weight_for(loss, case, rng, arrays, opts):
    """A valid positive weight (Case.weight, or the "none" output's shape)."""
    if case.weight is not None:
        return case.weight(rng, arrays, opts)
    shape = np.shape(loss(*arrays, reduction="none", backend="numpy", **opts))
    dt = np.result_type(*[a.dtype for a in arrays if a.dtype.kind == "f"])
    return rng.uniform(0.25, 2.0, shape).astype(dt)


def make(name, rng, shape, dtype, extra=None, weighted=False):
    """make() plus an option set (and a weight when asked)."""
    import pyloss as pl
    loss, case = pl.get(name), case_of(name)
    arrays, opts = case.make(rng, shape, np.dtype(dtype))
    arrays = tuple(arrays)
    opts = dict(opts)
    opts.update(extra or {})
    if weighted:
        opts["weight"] = weight_for(loss, case, rng, arrays, opts)
    return arrays, opts


def option_variants(loss, case):
    """(label, extra options, weighted) to run: every option set, plus a
    weighted run of the first where the loss takes ``weight``."""
    out = [(f"opts={o}", o, False) for o in case.option_sets]
    if "weight" in loss.options:
        out.append((f"opts={case.option_sets[0]} weighted", case.option_sets[0], True))
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Plain ``pytest`` runs on every CPU when pytest-xdist is installed (the
    test extra installs it): one worker per CPU, at most 8 and at most one per
    3 GB of memory (each worker compiles the Numba kernels its tests need).
    Most of a first run is Numba compiling, which is single-threaded, so two
    workers halve it on a 2-core machine.  Left alone when the command line
    chooses (``-n N``, ``-n 0``, ``--dist``, ``--tx``, ``-p no:xdist``), under
    ``--pdb`` or ``--collect-only``, and without pytest-xdist (serial, as
    before); ``PYTEST_XDIST_AUTO_NUM_WORKERS`` sets the count."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    opt = config.option
    if (getattr(opt, "numprocesses", 0) is not None or getattr(opt, "dist", "no") != "no"
            or getattr(opt, "tx", None) or getattr(opt, "distload", False)
            or opt.collectonly or opt.usepdb):
        return
    env = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if env:
        n = int(env)
    else:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        try:
            mem = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            mem = 1 << 40
        n = min(cpus or 1, 8, max(1, mem // (3 << 30)))
    if n >= 2:
        opt.numprocesses = n
        opt.dist = "load"
        opt.tx = ["popen"] * n


#: The dtypes whose Numba kernels the quick tests leave to ``-m slow``: float16
#: computes in float32, so both compile the float32 variants of every kernel,
#: about 45% of the Numba compilation of a first quick run (issue 16: the
#: newcomer's ``pytest`` within 10 minutes).  The quick run keeps Numba in
#: float64 and the C and NumPy backends in every dtype; CI runs both.
SLOW_NUMBA_DTYPES = (F16, F32)


def _slow_numba_dtype(params):
    if params.get("backend") != "numba" or "dtype" not in params:
        return False
    try:
        return np.dtype(params["dtype"]) in SLOW_NUMBA_DTYPES
    except TypeError:   # a torch dtype (tests/test_integrations_torch.py)
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and _slow_numba_dtype(callspec.params):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config):
    # hypothesis imports libcst to print a failing example as a patch, and
    # libcst's import warns (mypy_extensions.TypedDict); under
    # filterwarnings=error that turns every hypothesis failure into a pytest
    # INTERNALERROR that hides the falsifying example.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
