"""Differential fuzzing: every backend against the NumPy reference.

Hypothesis draws, per registered loss: a batch shape (empty, odd, SIMD width
+- 1, occasionally above the parallel cut-off), a dtype (float16/32/64), a
memory layout per input (Fortran, negative strides, strided, read-only,
unaligned, byte-swapped), an option set of the loss's Case, weights (negative
allowed), a magnitude scale and injected special values (NaN, +-inf, +-0,
subnormals, huge), a reduction and an operation.  Every backend must agree
with the reference -- the same error, or the same numbers to within a
tolerance that depends on the compute dtype.

Bounded by default (``PYLOSS_FUZZ_EXAMPLES`` examples per loss, default 15,
derandomized so CI is reproducible).  Marked slow: the layouts and shapes it
draws compile kernel variants no other quick test needs (over a minute of a
first quick run); CI runs it with ``-m slow`` and under the sanitizers.  A
long exploratory run::

    PYLOSS_FUZZ_EXAMPLES=2000 PYLOSS_FUZZ_RANDOM=1 python -m pytest -q -m slow tests/test_fuzz.py
"""
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import pyloss as pl
from conftest import CASES
from reliability_util import call, flat, ops_of, outcome, valid_weight

NAMES = pl.losses()
FAST = tuple(b for b in pl.backends() if b != "numpy")
EXAMPLES = int(os.environ.get("PYLOSS_FUZZ_EXAMPLES", "15"))
RANDOM = os.environ.get("PYLOSS_FUZZ_RANDOM", "") not in ("", "0")
STATS = {"examples": 0, "calls": 0, "errors_agreed": 0, "seconds": 0.0}

LAYOUTS = ("c", "c", "c", "fortran", "reversed", "strided", "readonly", "unaligned", "byteswap")
# Mostly small shapes; 1 in 8 a SIMD/block boundary; 1 in 40 above the
# parallel cut-off (2^17 elements), where the OpenMP/prange kernels run.
SHAPES = st.integers(0, 39).flatmap(lambda k: (
    st.sampled_from([((1 << 17) + 3,), (3, 50001)]) if k == 0 else
    st.sampled_from([(1,), (7,), (8,), (9,), (15,), (16,), (17,), (4095,), (4097,), (2, 33)])
    if k <= 5 else
    st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple)))
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1e-40, 1e30, -1e30, 3e38, 1e300]


def relayout(a, how):
    a = np.asarray(a)
    if a.ndim == 0 or a.size == 0 or how == "c":
        return a
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "reversed":
        return np.flip(np.flip(a, 0).copy(), 0)
    if how == "strided":
        buf = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        buf[..., ::2] = a
        return buf[..., ::2]
    if how == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b
    if how == "unaligned":
        raw = np.frombuffer(bytearray(a.nbytes + 1), np.uint8)[1:]
        b = raw.view(a.dtype).reshape(a.shape)
        b[...] = a
        return b
    if how == "byteswap":
        return a.astype(a.dtype.newbyteorder("S"))
    raise AssertionError(how)


def tol(dtype, op):
    """(rtol, atol relative to the data's magnitude) for a compute dtype."""
    if np.dtype(dtype) == np.float64:
        return 1e-8, 1e-11
    return 3e-3, 3e-5


def overflow_regime(arrays, opts, dtype):
    """float32/16 compute with finite inputs near the top of the float32 range:
    the kernels overflow to inf in float32 (r*r, w*l) where the float64
    reference does not, so inf/nan may differ there (SPEC 2: float32 is
    computed in float32)."""
    if np.dtype(dtype) == np.float64:
        return False
    vals = [np.asarray(a) for a in arrays] + [np.asarray(v) for v in opts.values()
                                             if isinstance(v, np.ndarray)]
    for a in vals:
        if a.dtype.kind == "f" and a.size:
            a64 = np.abs(a.astype(np.float64))
            if (a64[np.isfinite(a64)] > 1e18).any():
                return True
    return False


def compare(got, expect, dtype, op, where, overflow=False):
    rtol, atol = tol(dtype, op)
    g, e = flat(got), flat(expect)
    assert len(g) == len(e), where
    for a, b in zip(g, e):
        assert a.shape == b.shape, f"{where}: shape {a.shape} vs reference {b.shape}"
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} vs reference {b.dtype}"
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        if overflow:
            both = np.isfinite(a64) & np.isfinite(b64)
            a64, b64 = np.where(both, a64, 0.0), np.where(both, b64, 0.0)
        fin = np.isfinite(b64)
        mag = float(np.max(np.abs(b64[fin]))) if fin.any() else 1.0
        np.testing.assert_allclose(a64, b64, rtol=rtol, atol=atol * max(mag, 1.0),
                                   equal_nan=True, err_msg=where)


@st.composite
def scenarios(draw, name):
    loss = pl.get(name)
    case = CASES[name]
    shape = draw(SHAPES)
    dtype = np.dtype(draw(st.sampled_from(["float64", "float32", "float16"])))
    seed = draw(st.integers(0, 2**32 - 1))
    try:
        arrays, opts = case.make(np.random.default_rng(seed), shape, dtype)
    except Exception:
        assume(False)  # the Case does not make this shape (e.g. rank-0 for a classifier)
    opts = dict(opts)
    opts.update(draw(st.sampled_from(case.option_sets)))
    rng = np.random.default_rng(seed)
    arrays = [np.array(a) for a in arrays]
    # Magnitude and special values, only in float inputs.
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, 1e-3, 1e3, 1e-20, 1e15]))
    n_special = draw(st.sampled_from([0, 0, 0, 1, 3]))
    for i, a in enumerate(arrays):
        if a.dtype.kind != "f" or a.size == 0:
            continue
        if loss.inputs[i] in loss.diff and scale != 1.0:
            with np.errstate(over="ignore"):
                arrays[i] = a = (a.astype(np.float64) * scale).astype(a.dtype)
        for _ in range(n_special if loss.inputs[i] in loss.diff else 0):
            with np.errstate(over="ignore"):
                a.flat[rng.integers(a.size)] = draw(st.sampled_from(SPECIALS))
    if "weight" in loss.options and opts.get("weight") is None and draw(st.booleans()):
        try:
            kind, w = outcome(lambda: valid_weight(loss, arrays, opts, "numpy", rng))
        except AssertionError:   # no call succeeds (probabilities scaled out of [0, 1])
            kind = "err"
        if kind == "ok":
            w = w * np.where(rng.random(w.shape) < 0.2, -1.0, 1.0)
            opts["weight"] = w
    layouts = [draw(st.sampled_from(LAYOUTS)) for _ in arrays]
    arrays = tuple(relayout(a, how) for a, how in zip(arrays, layouts))
    reduction = draw(st.sampled_from(loss.reductions))
    op = draw(st.sampled_from(ops_of(loss)))
    note(f"shape={shape} dtype={dtype} seed={seed} scale={scale} specials={n_special} "
         f"layouts={layouts} reduction={reduction} op={op} opts={ {k: (v if np.ndim(v) == 0 else np.shape(v)) for k, v in opts.items()} }")
    return arrays, opts, reduction, op


def _fuzz(name):
    loss = pl.get(name)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(st.data())
    def run(data):
        arrays, opts, reduction, op = data.draw(scenarios(name))
        t0 = time.perf_counter()
        kind, ref = outcome(lambda: call(loss, op, arrays, opts, "numpy", reduction))
        cdt = np.result_type(*[np.asarray(a).dtype for a in arrays if np.asarray(a).dtype.kind == "f"]
                             or [np.float64]).newbyteorder("=")
        for backend in FAST:
            got_kind, got = outcome(lambda: call(loss, op, arrays, opts, backend, reduction))
            where = f"{name}.{op} backend={backend} reduction={reduction}"
            assert got_kind == kind, f"{where}: {got_kind} {got!r}, reference {kind} {ref!r}"
            if kind == "err":
                assert type(got) is type(ref) and str(got) == str(ref), f"{where}: {got!r} vs {ref!r}"
                STATS["errors_agreed"] += 1
            else:
                compare(got, ref, cdt, op, where, overflow_regime(arrays, opts, cdt))
            STATS["calls"] += 1
        STATS["examples"] += 1
        STATS["seconds"] += time.perf_counter() - t0

    run()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_fuzz_backends_agree_with_reference(name):
    _fuzz(name)


@pytest.mark.slow
def test_fuzz_report():
    """Not a check: prints what the fuzz run covered (visible with -s / -rA)."""
    print(f"\nfuzz: {STATS['examples']} examples, {STATS['calls']} backend calls "
          f"({STATS['errors_agreed']} identical errors), {STATS['seconds']:.1f} s in calls, "
          f"{EXAMPLES} examples/loss requested, random={RANDOM}")
