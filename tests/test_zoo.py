"""Every loss x backend x dtype x reduction x option set against the NumPy
reference over a generated zoo of awkward arrays (bottleneck-style).

Sizes: 0, 1, odd, SIMD width +- 1, more than one PL_BLOCK, and (slow) more
than the parallel cut-off; layouts: strided, Fortran order, negative strides,
read-only, 0-d.  Every call also checks that its inputs are unchanged, and
the `out=` path (plain, aliasing an input, wrong buffers).  A hypothesis test
draws shapes and values for every loss (PYLOSS_HYPOTHESIS_EXAMPLES=500 for a
longer hunt; 25 per loss by default).
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pyloss as pl
from conftest import (FLOAT_DTYPES, F16, F64, as_tuple, assert_close, assert_unchanged, call,
                      case_of, copies, diff_index, make, ops_of, option_variants, reductions_of,
                      reference, rtol_of, scalar_ok, split, to64, value_scale)

NAMES = pl.losses()
BACKENDS = pl.backends()
SIZES = (0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 4096 * 2 + 3)
BIG = (1 << 17) + 5
FEW_SHAPES = [(0,), (1,), (17,), (33,), (7, 5), ()]


def compute_dtype(arrays):
    fl = [a.dtype for a in arrays if a.dtype.kind == "f"]
    return np.dtype(np.float64) if any(d == F64 for d in fl) else np.dtype(np.float32)


def grad_dtypes(loss, arrays):
    return [np.dtype(np.float32) if arrays[i].dtype == F16 else arrays[i].dtype
            for i in diff_index(loss)]


class RefCache:
    """The float64 reference of one (arrays, opts): each (reduction, op) and
    each reduced value's rounding scale computed once, shared by every op."""

    def __init__(self, loss, arrays, opts):
        self.loss, self.arrays, self.opts = loss, arrays, opts
        self._r, self._s = {}, {}

    def __call__(self, reduction, op):
        base = "hess" if op == "hess" else "vg"
        key = (reduction, base)
        if key not in self._r:
            self._r[key] = reference(self.loss, self.arrays, self.opts, reduction, base)
        v, d = split(base, self._r[key])
        return v if op == "value" else (d if op == "grad" else ((v, d) if op == "vg" else d))

    def scale(self, reduction, rv):
        if reduction not in self._s:
            self._s[reduction] = value_scale(self.loss, self.arrays, self.opts, reduction, rv)
        return self._s[reduction]


def check_against_reference(loss, case, arrays, opts, reduction, op, backend, what, refs=None):
    """One call: dtypes/shapes per SPEC, values within rounding of the
    reference, inputs unchanged.  Returns the result."""
    refs = refs or RefCache(loss, arrays, opts)
    before = copies((arrays, opts))
    got = call(loss, op, arrays, opts, reduction, backend)
    assert_unchanged(before, (arrays, opts))
    gv, gd = split(op, got)
    ref = refs(reduction, op)
    rv, rd = (ref, None) if op == "value" else ((ref[0], as_tuple(ref[1])) if op == "vg"
                                                 else (None, as_tuple(ref)))
    cdt = compute_dtype(arrays)
    floor = 16 * float(np.finfo(cdt).tiny)
    rtol = rtol_of(case, max((a.dtype for a in arrays if a.dtype.kind == "f"),
                             key=lambda d: d.itemsize))
    if gv is not None:
        if reduction == "none":
            assert isinstance(gv, np.ndarray) and gv.dtype == cdt, (what, type(gv), getattr(gv, "dtype", None))
        else:
            assert isinstance(gv, np.floating) and gv.dtype == cdt, (what, type(gv), getattr(gv, "dtype", None))
        assert_close(gv, rv, rtol, refs.scale(reduction, rv), what=f"{what} value", floor=floor)
    if gd is not None:
        assert len(gd) == len(loss.diff), what
        for k, (g, r, i, gdt) in enumerate(zip(gd, rd, diff_index(loss), grad_dtypes(loss, arrays))):
            assert isinstance(g, np.ndarray), what
            assert g.shape == arrays[i].shape, (what, g.shape, arrays[i].shape)
            assert g.dtype == gdt, (what, g.dtype, gdt)
            assert_close(g, r, rtol, what=f"{what} {op}[{k}]", floor=floor)
    return got


# ------------------------------------------------------------------ the zoo

def zoo_shapes(loss, case, big=False):
    shapes = [(n,) for n in SIZES] + [(7, 5)]
    if scalar_ok(loss, case):
        shapes.append(())
    return [(BIG,)] if big else shapes


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_zoo_sizes_against_reference(name, backend, dtype):
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(1)
    variants = option_variants(loss, case)
    for shape in zoo_shapes(loss, case):
        # every size for the default options and the weighted run; the other
        # option sets (they change the math, not the memory walk) on a few
        for k, (label, extra, weighted) in enumerate(variants):
            if k and not weighted and shape not in FEW_SHAPES:
                continue
            arrays, opts = make(name, rng, shape, dtype, extra, weighted)
            refs = RefCache(loss, arrays, opts)
            for reduction in reductions_of(loss, case):
                for op in ops_of(loss):
                    what = f"{name} {backend} {dtype} shape={shape} {label} {reduction} {op}"
                    check_against_reference(loss, case, arrays, opts, reduction, op, backend, what,
                                            refs)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", FLOAT_DTYPES[1:], ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS[:-1] or BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_zoo_above_parallel_cutoff(name, backend, dtype, restore_threads):
    """2**17 + 5 elements: the parallel paths of C and Numba (2 threads)."""
    loss, case = pl.get(name), case_of(name)
    pl.set_num_threads(2)
    rng = np.random.default_rng(2)
    # one run: the weighted variant where there is one (it covers the most code)
    label, extra, weighted = option_variants(loss, case)[-1]
    arrays, opts = make(name, rng, (BIG,), dtype, extra, weighted)
    refs = RefCache(loss, arrays, opts)
    for reduction in [r for r in ("mean", "none") if r in reductions_of(loss, case)]:
        for op in ("vg", "hess") if loss.has_hessian else ("vg",):
            what = f"{name} {backend} {dtype} BIG {label} {reduction} {op}"
            check_against_reference(loss, case, arrays, opts, reduction, op, backend, what, refs)


# ------------------------------------------------------------------ layouts

def layout(a, kind):
    """The same values as `a` in another memory layout."""
    if kind == "strided":            # every other element of a bigger buffer
        big = np.empty(a.shape[:-1] + (2 * a.shape[-1],) if a.ndim else (2,), a.dtype)
        if a.ndim == 0:
            return a.copy()
        big[..., ::2] = a
        v = big[..., ::2]
        assert not v.flags.c_contiguous or a.size <= 1
        return v
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "negative":           # reversed view of a reversed copy
        if a.ndim == 0:
            return a.copy()
        return np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    if kind == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if kind == "unaligned":          # contiguous, but at an odd byte address
        if a.dtype.itemsize == 1:
            return a.copy()
        buf = np.zeros(a.nbytes + a.dtype.itemsize, np.uint8)
        v = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
        v[...] = a
        assert not v.flags.aligned
        return v
    if kind == "byteswapped":        # non-native byte order, same values
        return a.astype(a.dtype.newbyteorder())
    if kind == "broadcast":          # stride-0 axis (a view of one row)
        if a.ndim == 0 or a.shape[0] == 0:
            return a.copy()
        b = np.broadcast_to(a[:1], a.shape)
        return b if np.array_equal(b, a) else a.copy()
    raise AssertionError(kind)


def _layout_variants(loss, case):
    """The default option set and the weighted run: memory layout and out=
    handling do not depend on the other options."""
    v = option_variants(loss, case)
    return v[:1] + [x for x in v[1:] if x[2]]


LAYOUTS = ("strided", "fortran", "negative", "readonly", "unaligned", "byteswapped")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_layouts_give_identical_results(name, backend, dtype):
    """Strided / Fortran / negatively strided / read-only / unaligned /
    byte-swapped inputs (and weights) give bit-identical results to
    contiguous native ones, in native dtypes."""
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(3)
    for shape in [(7, 5), (33,)]:
        for label, extra, weighted in _layout_variants(loss, case):
            arrays, opts = make(name, rng, shape, dtype, extra, weighted)
            wants = {(r, op): call(loss, op, arrays, opts, r, backend)
                     for r in reductions_of(loss, case) for op in ops_of(loss)}
            for kind in LAYOUTS:
                arrays2 = tuple(layout(a, kind) for a in arrays)
                opts2 = dict(opts)
                if isinstance(opts.get("weight"), np.ndarray):
                    opts2["weight"] = layout(opts["weight"], kind)
                for a, b in zip(arrays, arrays2):
                    np.testing.assert_array_equal(a, b)
                for reduction in reductions_of(loss, case):
                    for op in ops_of(loss):
                        what = f"{name} {backend} {dtype} {shape} {label} {kind} {reduction} {op}"
                        before = copies((arrays2, opts2))
                        want = wants[reduction, op]
                        got = call(loss, op, arrays2, opts2, reduction, backend)
                        assert_unchanged(before, (arrays2, opts2))
                        wv, wd = split(op, want)
                        gv, gd = split(op, got)
                        if wv is not None:
                            np.testing.assert_array_equal(gv, wv, err_msg=what, strict=True)
                        if wd is not None:
                            for g, w in zip(gd, wd):
                                np.testing.assert_array_equal(g, w, err_msg=what, strict=True)


# ------------------------------------------------------------------ out=

def _grad_buffers(loss, arrays, fill=np.nan):
    out = []
    for i in diff_index(loss):
        dt = np.dtype(np.float32) if arrays[i].dtype == F16 else arrays[i].dtype
        out.append(np.full(arrays[i].shape, fill, dt))
    return out


def _pack(loss, bufs):
    return tuple(bufs) if len(loss.diff) > 1 else bufs[0]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_out_is_filled_and_returned(name, backend, dtype):
    """out= returns the buffer itself, filled with exactly the no-out result."""
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(4)
    ops = [op for op in ops_of(loss) if op != "value"]
    for shape in [(0,), (1,), (17,), (7, 5)]:
        for label, extra, weighted in _layout_variants(loss, case):
            arrays, opts = make(name, rng, shape, dtype, extra, weighted)
            for reduction in reductions_of(loss, case):
                for op in ops:
                    what = f"{name} {backend} {dtype} {shape} {label} {reduction} {op}"
                    want = call(loss, op, arrays, opts, reduction, backend)
                    bufs = _grad_buffers(loss, arrays)
                    before = copies((arrays, opts))
                    got = call(loss, op, arrays, opts, reduction, backend, out=_pack(loss, bufs))
                    assert_unchanged(before, (arrays, opts))
                    wv, wd = split(op, want)
                    gv, gd = split(op, got)
                    if wv is not None:
                        np.testing.assert_array_equal(gv, wv, err_msg=what, strict=True)
                    for g, w, b in zip(gd, wd, bufs):
                        assert g is b, what
                        np.testing.assert_array_equal(g, w, err_msg=what, strict=True)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES[1:], ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_out_aliasing_an_input(name, backend, dtype):
    """SPEC 3a: out= sharing memory with an input gives the no-out result.

    Each derivative buffer is made the very array passed as an input of the
    same shape and dtype (its own input first, then any other)."""
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(5)
    ops = [op for op in ops_of(loss) if op != "value"]
    tried = 0
    for shape in [(17,), (7, 5)]:
        arrays, opts = make(name, rng, shape, dtype)
        didx = diff_index(loss)
        for k, i in enumerate(didx):
            for j in [i] + [j for j in range(len(arrays)) if j != i]:
                a = arrays[j]
                gshape, gdt = arrays[i].shape, arrays[i].dtype
                if a.shape != gshape or a.dtype != gdt or not a.flags.c_contiguous:
                    continue
                for reduction in reductions_of(loss, case):
                    for op in ops:
                        want = call(loss, op, arrays, opts, reduction, backend)
                        arrays2 = list(copies(arrays))
                        bufs = _grad_buffers(loss, arrays, 0.0)
                        bufs[k] = arrays2[j]
                        got = call(loss, op, tuple(arrays2), opts, reduction, backend,
                                   out=_pack(loss, bufs))
                        what = f"{name} {backend} {dtype} {shape} out[{k}] is input {j} {reduction} {op}"
                        wv, wd = split(op, want)
                        gv, gd = split(op, got)
                        if wv is not None:
                            np.testing.assert_array_equal(gv, wv, err_msg=what, strict=True)
                        for g, w in zip(gd, wd):
                            np.testing.assert_array_equal(g, w, err_msg=what, strict=True)
                        tried += 1
    assert tried, f"{name}: no input could serve as an aliasing out= buffer"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES[1:], ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_out_partially_overlapping_an_input(name, backend, dtype):
    """SPEC 3a: out= sharing memory with an input -- here shifted by one
    element inside one buffer, so a kernel that writes element i before it
    reads element i + 1 would corrupt its own input."""
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(15)
    ops = [op for op in ops_of(loss) if op != "value"]
    arrays, opts = make(name, rng, (7, 5), dtype)
    for k, i in enumerate(diff_index(loss)):
        x = arrays[i]
        for shift in (1, -1):
            for reduction in reductions_of(loss, case):
                for op in ops:
                    want = call(loss, op, arrays, opts, reduction, backend)
                    buf = np.zeros(x.size + 1, x.dtype)
                    xin = (buf[1:] if shift > 0 else buf[:-1]).reshape(x.shape)
                    out = (buf[:-1] if shift > 0 else buf[1:]).reshape(x.shape)
                    xin[...] = x
                    arrays2 = list(arrays)
                    arrays2[i] = xin
                    bufs = _grad_buffers(loss, arrays, 0.0)
                    bufs[k] = out
                    got = call(loss, op, tuple(arrays2), opts, reduction, backend,
                               out=_pack(loss, bufs))
                    what = f"{name} {backend} {dtype} out[{k}] overlaps input {i} shifted {shift} {reduction} {op}"
                    wv, wd = split(op, want)
                    gv, gd = split(op, got)
                    if wv is not None:
                        np.testing.assert_array_equal(gv, wv, err_msg=what, strict=True)
                    for g, w in zip(gd, wd):
                        np.testing.assert_array_equal(g, w, err_msg=what, strict=True)


def _wrong_buffers(buf):
    """(label, bad buffer, expected exception) for a correct buffer `buf`."""
    wrong_dt = np.float64 if buf.dtype == np.float32 else np.float32
    nc = np.zeros(buf.shape[:-1] + (2 * buf.shape[-1],) if buf.ndim else (2,), buf.dtype)
    nc = nc[..., ::2] if buf.ndim else nc[:1]
    ro = np.zeros_like(buf)
    ro.flags.writeable = False
    yield "shape", np.zeros(buf.shape + (1,), buf.dtype), pl.PylossValueError
    yield "size", np.zeros((buf.size + 1,), buf.dtype), pl.PylossValueError
    yield "dtype", np.zeros(buf.shape, wrong_dt), pl.PylossValueError
    yield "int dtype", np.zeros(buf.shape, np.int32), pl.PylossValueError
    if buf.size > 1:
        yield "non-contiguous", nc, pl.PylossValueError
    yield "read-only", ro, pl.PylossValueError
    yield "list", buf.tolist(), (pl.PylossTypeError, pl.PylossValueError)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name", NAMES)
def test_wrong_out_raises_and_writes_nothing(name, dtype):
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(6)
    arrays, opts = make(name, rng, (7, 5), dtype)
    for backend in BACKENDS:
        for op in [op for op in ops_of(loss) if op != "value"]:
            for reduction in reductions_of(loss, case):
                good = _grad_buffers(loss, arrays, 7.0)
                for k in range(len(good)):
                    for label, bad, exc in _wrong_buffers(good[k]):
                        bufs = [b.copy() for b in good]
                        bufs[k] = bad
                        bad_before = np.array(bad, copy=True)
                        before = copies((arrays, opts))
                        with pytest.raises(exc) as ei:
                            call(loss, op, arrays, opts, reduction, backend, out=_pack(loss, bufs))
                        assert isinstance(ei.value, pl.PylossError)
                        assert "out" in str(ei.value), str(ei.value)
                        assert_unchanged(before, (arrays, opts))
                        for m, b in enumerate(bufs):
                            if m == k:
                                np.testing.assert_array_equal(np.asarray(b), bad_before)
                            else:
                                np.testing.assert_array_equal(b, good[m])
                # a non-tuple out for several inputs, a tuple of the wrong length
                if len(loss.diff) > 1:
                    with pytest.raises((pl.PylossTypeError, pl.PylossValueError)):
                        call(loss, op, arrays, opts, reduction, backend, out=good[0])
                    with pytest.raises((pl.PylossTypeError, pl.PylossValueError)):
                        call(loss, op, arrays, opts, reduction, backend, out=tuple(good[:-1]))
                with pytest.raises(pl.PylossTypeError):
                    call(loss, "value", arrays, opts, reduction, backend, out=_pack(loss, good))


# ------------------------------------------------------------------ hypothesis

def _hyp_arrays(draw, loss, case, dtype, shape, rng):
    arrays, opts = case.make(rng, shape, dtype)
    arrays = list(arrays)
    bounds = case.hyp_bounds or {}
    for i, (lo, hi) in bounds.items():
        a = arrays[i]
        if a.dtype.kind != "f":
            continue
        lim = 1e15 if a.dtype != F64 else np.inf
        if a.dtype == F16:
            lim = 6e4
        # bounds exactly representable in the array's dtype, inside the range
        lo = float(np.nextafter(a.dtype.type(max(lo, -lim)), a.dtype.type(0)))
        hi = float(np.nextafter(a.dtype.type(min(hi, lim)), a.dtype.type(0)))
        elems = st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                          width=8 * a.dtype.itemsize)
        arrays[i] = draw(hnp.arrays(a.dtype, a.shape, elements=elems))
    return tuple(arrays), dict(opts)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=int(os.environ.get("PYLOSS_HYPOTHESIS_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_shapes_and_values(name, data):
    loss, case = pl.get(name), case_of(name)
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    if scalar_ok(loss, case):
        shape = tuple(data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9),
                                label="shape"))
    else:
        shape = (data.draw(st.integers(0, 40), label="n"),)
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    arrays, opts = _hyp_arrays(data.draw, loss, case, dtype, shape, rng)
    opts.update(data.draw(st.sampled_from(case.option_sets), label="options"))
    if "weight" in loss.options and data.draw(st.booleans(), label="weighted"):
        from conftest import weight_for
        opts["weight"] = weight_for(loss, case, rng, arrays, opts)
    reduction = data.draw(st.sampled_from(reductions_of(loss, case)), label="reduction")
    backend = data.draw(st.sampled_from(BACKENDS), label="backend")
    op = data.draw(st.sampled_from(ops_of(loss)), label="op")
    check_against_reference(loss, case, arrays, opts, reduction, op, backend,
                            f"{name} {backend} {dtype} {shape} {reduction} {op}")


# ------------------------------------------------------------------ per-CPU builds

def _levels():
    """The per-CPU bodies of the C kernels built and runnable here, by level."""
    from pyloss import _c
    if "c" not in BACKENDS or not _c.lib.pl_have_clones():
        return []
    return list(range(len(_c.isa_levels())))


@pytest.fixture
def isa_level(request):
    """One per-CPU body of the C kernels for one test (csrc/build.py,
    "Per-CPU builds"; every other test runs the best body this CPU runs)."""
    from pyloss import _c
    level = request.param
    before = _c.lib.pl_isa()
    assert _c.lib.pl_set_isa(level) == level and _c.isa() == _c.ISA_NAMES[level]
    yield level
    assert _c.lib.pl_set_isa(before) == before


@pytest.mark.skipif(not _levels(), reason="one portable C build: one body")
def test_set_isa_refuses_what_the_cpu_cannot_run():
    from pyloss import _c
    before = _c.lib.pl_isa()
    try:
        best = _c.lib.pl_set_isa(-1)
        assert best == len(_c.isa_levels()) - 1 and _c.isa() == _c.ISA_NAMES[best]
        # one level above the best: refused, and the level in use is unchanged
        assert _c.lib.pl_set_isa(best + 1) == -1 and _c.lib.pl_isa() == best
        assert _c.lib.pl_set_isa(0) == 0 and _c.lib.pl_isa() == 0 and _c.isa() == "baseline"
    finally:
        _c.lib.pl_set_isa(before)


@pytest.mark.parametrize("isa_level", _levels(), indirect=True,
                         ids=lambda v: ("baseline", "x86-64-v3", "x86-64-v4")[v])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES[1:], ids=lambda d: d.name)
@pytest.mark.parametrize("name", NAMES)
def test_each_cpu_body_against_reference(name, dtype, isa_level):
    """Every per-CPU body of every C kernel (the baseline one is what a CPU
    without AVX2 runs; the rest of the suite runs only the best one here)
    against the reference: every option set on a size with a SIMD tail and
    more than one block, the default options on a 2-d shape."""
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(5)
    for k, (label, extra, weighted) in enumerate(option_variants(loss, case)):
        for shape in [(4096 * 2 + 3,)] + ([(7, 5)] if k == 0 else []):
            arrays, opts = make(name, rng, shape, dtype, extra, weighted)
            refs = RefCache(loss, arrays, opts)
            for reduction in reductions_of(loss, case):
                for op in ops_of(loss):
                    what = f"{name} c/isa{isa_level} {dtype} shape={shape} {label} {reduction} {op}"
                    check_against_reference(loss, case, arrays, opts, reduction, op, "c", what,
                                            refs)
