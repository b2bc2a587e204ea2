"""Input rules of SPEC section 2 for every loss: dtypes and promotion,
integer targets, rejected prediction dtypes, array-likes (lists, __array__,
CPU torch tensors without a copy) and NaN propagation."""
import numpy as np
import pytest

import pyloss as pl
from conftest import (F16, F32, F64, as_tuple, call, case_of, diff_index, make, ops_of,
                      reductions_of, split)

NAMES = pl.losses()
BACKENDS = pl.backends()


def results(loss, arrays, opts, backend, reductions=None):
    """Every (reduction, op) result as a flat list of arrays."""
    case = case_of(loss.name)
    out = []
    for red in reductions or reductions_of(loss, case):
        for op in ops_of(loss):
            v, d = split(op, call(loss, op, arrays, opts, red, backend))
            out += ([] if v is None else [np.asarray(v)]) + ([] if d is None else list(d))
    return out


def assert_same(a, b, what, exact=True, rtol=0):
    assert len(a) == len(b), what
    for x, y in zip(a, b):
        if exact:
            np.testing.assert_array_equal(x, y, err_msg=what, strict=True)
        else:
            np.testing.assert_allclose(x, y, rtol=rtol, err_msg=what)


@pytest.mark.parametrize("dtype", (F16,), ids=lambda d: d.name)   # for conftest's slow rule
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_float16_is_computed_and_answered_in_float32(name, backend, dtype):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(0), (7, 5), dtype)
    a32 = tuple(a.astype(F32) if a.dtype == F16 else a for a in arrays)
    got = results(loss, arrays, opts, backend)
    for r in got:
        assert r.dtype == F32, (name, r.dtype)
    assert_same(got, results(loss, a32, opts, backend), f"{name} {backend} float16")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_mixed_float32_float64_promotes_to_float64(name, backend):
    """One float64 input among float32 ones: the value is float64 (computed as
    if every input were float64); each gradient keeps its own input's dtype."""
    loss, case = pl.get(name), case_of(name)
    arrays, opts = make(name, np.random.default_rng(1), (7, 5), F32)
    floats = [j for j, a in enumerate(arrays) if a.dtype.kind == "f"]
    all64 = tuple(a.astype(F64) if a.dtype.kind == "f" else a for a in arrays)
    for j in floats:
        mixed = tuple(a.astype(F64) if k == j else a for k, a in enumerate(arrays))
        for red in reductions_of(loss, case):
            v = loss(*mixed, reduction=red, backend=backend, **opts)
            v64 = loss(*all64, reduction=red, backend=backend, **opts)
            assert np.asarray(v).dtype == F64, (name, j, red)
            np.testing.assert_allclose(v, v64, rtol=1e-15, err_msg=f"{name} input {j} {red}")
            for op in ops_of(loss)[1:]:
                _, d = split(op, call(loss, op, mixed, opts, red, backend))
                _, d64 = split(op, call(loss, op, all64, opts, red, backend))
                for g, g64, i in zip(d, d64, diff_index(loss)):
                    assert g.dtype == mixed[i].dtype, (name, op, g.dtype, mixed[i].dtype)
                    np.testing.assert_allclose(g, g64.astype(g.dtype), rtol=2e-7, atol=1e-37,
                                               err_msg=f"{name} input {j} {red} {op}")
                # out= takes buffers of each input's own dtype and gets the same bits
                bufs = [np.full(g.shape, np.nan, g.dtype) for g in d]
                _, d2 = split(op, call(loss, op, mixed, opts, red, backend,
                                       out=tuple(bufs) if len(bufs) > 1 else bufs[0]))
                for g, g2, b in zip(d, d2, bufs):
                    assert g2 is b
                    np.testing.assert_array_equal(g2, g, strict=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_integer_targets_are_cast(name, backend):
    loss, case = pl.get(name), case_of(name)
    if not case.int_castable:
        pytest.skip(f"{name}: no input takes integers in place of floats")
    arrays, opts = make(name, np.random.default_rng(2), (7, 5), F64)
    arrays = tuple(np.rint(3 * a) if j in case.int_castable else a for j, a in enumerate(arrays))
    for dtype in (F32, F64):
        base = tuple(a.astype(dtype) for a in arrays)
        want = results(loss, base, opts, backend)
        for idt in (np.int64, np.int32, np.int8, np.uint8, bool):
            ints = list(base)
            for j in case.int_castable:
                v = np.abs(arrays[j]) if idt in (np.uint8,) else arrays[j]
                v = (v != 0) if idt is bool else v
                ints[j] = v.astype(idt)
                base2 = list(base)
                base2[j] = ints[j].astype(dtype)
            got = results(loss, tuple(ints), opts, backend)
            assert_same(got, results(loss, tuple(base2), opts, backend),
                        f"{name} {backend} {dtype} {idt}")
        assert want  # the float run itself worked


BAD_PRED = {
    "int64": lambda a: np.zeros(a.shape, np.int64),
    "int32": lambda a: np.zeros(a.shape, np.int32),
    "uint8": lambda a: np.zeros(a.shape, np.uint8),
    "bool": lambda a: np.zeros(a.shape, bool),
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "str": lambda a: a.astype(str),
    "longdouble": lambda a: a.astype(np.longdouble),
}


@pytest.mark.parametrize("kind", BAD_PRED)
@pytest.mark.parametrize("name", NAMES)
def test_non_float_predictions_are_type_errors(name, kind):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(3), (7, 5), F64)
    if kind == "longdouble" and np.dtype(np.longdouble) == F64:
        pytest.skip("longdouble is float64 here")
    for i in diff_index(loss):
        bad = list(arrays)
        bad[i] = BAD_PRED[kind](arrays[i])
        for backend in BACKENDS:
            for op in ops_of(loss):
                with pytest.raises(pl.PylossTypeError) as ei:
                    call(loss, op, bad, opts, "mean", backend)
                assert loss.inputs[i] in str(ei.value), str(ei.value)


@pytest.mark.parametrize("name", NAMES)
def test_complex_and_string_inputs_are_rejected(name):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(3), (7, 5), F64)
    for j in range(len(arrays)):
        for conv in (lambda a: a.astype(np.complex128), lambda a: a.astype(str)):
            bad = list(arrays)
            bad[j] = conv(arrays[j])
            with pytest.raises(pl.PylossError) as ei:
                loss(*bad, **opts)
            assert isinstance(ei.value, (TypeError, ValueError))


class ArrayLike:
    """An object that is only an array through __array__."""

    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_lists_and_array_protocol_objects(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(4), (7, 5), F64)
    want = results(loss, arrays, opts, backend)
    assert_same(results(loss, tuple(a.tolist() for a in arrays), opts, backend), want,
                f"{name} {backend} lists")
    assert_same(results(loss, tuple(ArrayLike(a) for a in arrays), opts, backend), want,
                f"{name} {backend} __array__")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", (F32, F64), ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_torch_cpu_tensors_are_taken_without_a_copy(name, backend, dtype, monkeypatch):
    torch = pytest.importorskip("torch")
    import pyloss._dispatch as D
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(5), (7, 5), dtype)
    want = results(loss, arrays, opts, backend)
    tensors = tuple(torch.from_numpy(a.copy()) for a in arrays)
    seen = []
    real = D._asarray

    def spy(x, name):
        a = real(x, name)
        seen.append(a)
        return a
    monkeypatch.setattr(D, "_asarray", spy)
    got = results(loss, tensors, opts, backend)
    assert_same(got, want, f"{name} {backend} torch")
    for t in tensors:
        mem = t.numpy()
        assert any(isinstance(a, np.ndarray) and np.shares_memory(a, mem) for a in seen), \
            f"{name}: a torch tensor was copied on its way in"
    # tensors that require grad, and non-contiguous ones, are accepted too
    seen.clear()
    tg = tuple(t.clone().requires_grad_(True) if t.is_floating_point() else t for t in tensors)
    assert_same(results(loss, tg, opts, backend, ("mean",)),
                results(loss, arrays, opts, backend, ("mean",)), f"{name} requires_grad")
    tt = tuple(torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, 0, -1))).transpose(0, -1)
               if a.ndim > 1 else torch.from_numpy(a.copy()) for a in arrays)
    assert_same(results(loss, tt, opts, backend, ("sum",)),
                results(loss, arrays, opts, backend, ("sum",)), f"{name} transposed tensor")


@pytest.mark.parametrize("dtype", (F32, F64), ids=lambda d: d.name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_nan_and_inf_in_predictions_propagate_like_the_reference(name, backend, dtype):
    """NaN/inf in a prediction never crash; NaN lands where the reference has
    it.  A loss whose domain excludes the value (probabilities in [0, 1]) may
    reject it with a PylossValueError instead -- on every backend alike."""
    loss, case = pl.get(name), case_of(name)
    arrays, opts = make(name, np.random.default_rng(6), (7, 5), dtype)
    i = diff_index(loss)[0]
    for bad in (np.nan, np.inf, -np.inf):
        arr = list(arrays)
        arr[i] = arrays[i].copy()
        arr[i].flat[0] = bad
        ref64 = tuple(a.astype(F64) if a.dtype.kind == "f" else a for a in arr)
        for red in reductions_of(loss, case):
            with np.errstate(all="ignore"):
                try:
                    v = np.asarray(loss(*arr, reduction=red, backend=backend, **opts))
                except pl.PylossValueError:
                    with pytest.raises(pl.PylossValueError):
                        loss(*ref64, reduction=red, backend="numpy", **opts)
                    continue
                r = np.asarray(loss(*ref64, reduction=red, backend="numpy", **opts))
                np.testing.assert_array_equal(np.isnan(v), np.isnan(r),
                                              err_msg=f"{name} {backend} {bad} {red}")
                for op in ops_of(loss)[1:]:
                    call(loss, op, arr, opts, red, backend)    # must not crash


@pytest.mark.skipif("numba" not in pl.backends(), reason="numba not installed")
def test_numba_compiles_no_variant_for_read_only_or_unaligned_inputs():
    """Numba compiles a kernel once per argument type, and a read-only or an
    unaligned array is another type than a fresh one.  The call layer hands
    the kernels read-only, aligned inputs (pyloss._loss._read_only_inputs),
    so such an input gives the same result and compiles nothing new."""
    from pyloss._numba import regression as R
    rng = np.random.default_rng(7)
    p, t = rng.standard_normal(33), rng.standard_normal(33)
    want = pl.huber.value_and_grad(p, t, backend="numba")
    before = len(R.huber_ser.signatures)
    frozen = p.copy()
    frozen.flags.writeable = False
    raw = np.zeros(33 * 8 + 1, np.uint8)
    unaligned = raw[1:].view(np.float64)
    unaligned[:] = p
    assert not unaligned.flags.aligned
    for x in (frozen, unaligned, np.broadcast_to(p, p.shape)):
        got = pl.huber.value_and_grad(x, t, backend="numba")
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1], strict=True)
    assert len(R.huber_ser.signatures) == before, R.huber_ser.signatures
