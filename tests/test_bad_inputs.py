"""The bad-input catalogue (SPEC sections 2 and 5), for every loss and backend.

Every class of malformed input either gives the documented result or raises a
``pl.PylossError`` subclass (``ValueError``/``TypeError``) whose message names
the argument; a call that raises leaves a sentinel-filled ``out=`` untouched.
Driven by the registry and the per-loss ``Case``: nothing here names a loss
except the documented exceptions in the tables below.
"""
import re
import warnings

import numpy as np
import pytest

import pyloss as pl
from conftest import CASES
from reliability_util import (assert_same, call, grad_like, int_inputs, make, ops_of, outcome,
                              sentinel_like, untouched, valid_weight)

NAMES = pl.losses()
BACKENDS = pl.backends()

# Options out of range (SPEC 3a), applied to every loss that has the option.
BAD_OPTION_VALUES = {
    "label_smoothing": [-0.1, 1.5, float("nan")],
    "delta": [0.0, -1.0, float("nan")],
    "gamma": [-0.5, float("nan")],
    "margin": [-1.0, float("nan")],
    "p": [0.0, -1.0, float("nan")],
    "q": [0.0, 1.0, -0.1, 1.5, float("nan")],
    "beta": [-0.5, float("nan")],
    "epsilon": [-0.1, 1.5],
}
# String choices: one value that no loss accepts.
BAD_CHOICES = {"kind": ["nope", ""], "from_logits": ["tanh", "nope"], "recon_loss": ["nope", ""]}
BAD_REDUCTIONS = ["avg", "MEAN", None, 1, ""]
BAD_BACKENDS = ["cuda", "C", None, "", "numpy "]
# Losses whose inputs may legitimately differ in batch size, and the
# reductions where they may (SPEC 3a, GAN losses).
BATCH_FREE = {"gan_discriminator": ("mean", "sum")}

SHAPE_RE = re.compile(r"\(\s*\d*\s*(,\s*\d+\s*)*,?\s*\)")


def _loss_filter(pred):
    out = []
    for n in NAMES:
        arrays, opts = make(n, (6,))
        if pred(pl.get(n), arrays, opts):
            out.append(n)
    return out


def class_inputs(loss, arrays):
    """Integer inputs that are class indices (a loss's ``label_inputs`` take
    any integer: labels compared for equality, no range)."""
    return [i for i in int_inputs(arrays) if loss.inputs[i] not in getattr(loss, "label_inputs", ())]


INT_TARGET = _loss_filter(lambda loss, a, o: bool(class_inputs(loss, a)))
IGNORE = _loss_filter(lambda loss, a, o: bool(int_inputs(a)) and "ignore_index" in loss.options)
WEIGHTED = [n for n in NAMES if "weight" in pl.get(n).options]


def _replace(arrays, i, value):
    a = list(arrays)
    a[i] = value
    return tuple(a)


def _templates(loss, arrays, opts, backend, reduction="mean"):
    """op -> gradient-shaped result of a valid call (for sentinel out=)."""
    return {op: grad_like(loss, arrays, opts, backend, op, reduction)
            for op in ops_of(loss) if op != "value"}


def _names_arg(exc, names):
    msg = str(exc)
    assert any(n in msg for n in names), f"message does not name any of {names}: {msg!r}"


def expect_error(loss, arrays, opts, backend, types, names, *, contains=(), reductions=("mean",),
                 templates=None):
    """Every op raises a PylossError of `types` naming one of `names`; with a
    sentinel out= the same call raises and leaves out untouched."""
    for op in ops_of(loss):
        for red in reductions:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with pytest.raises(types) as ei:
                    call(loss, op, arrays, opts, backend, red)
            assert isinstance(ei.value, pl.PylossError), repr(ei.value)
            _names_arg(ei.value, names)
            for c in contains:
                assert c in str(ei.value), f"{c!r} not in {str(ei.value)!r}"
            if op != "value" and templates is not None and red == "mean":
                out = sentinel_like(templates[op])
                with pytest.raises(pl.PylossError):
                    call(loss, op, arrays, opts, backend, red, out=out)
                assert untouched(out), f"{loss.name}.{op}: a failed call wrote into out="


def expect_consistent(loss, arrays, opts, backend, names, *, reductions=None, ops=None,
                      must_succeed=False, finite_only=False):
    """The call either fails the same way on this backend and on numpy (a
    PylossError naming an argument) or succeeds on both with equal results."""
    reductions = reductions or loss.reductions
    for op in ops or ops_of(loss):
        for red in reductions:
            kind, res = outcome(lambda: call(loss, op, arrays, opts, backend, red))
            rkind, ref = outcome(lambda: call(loss, op, arrays, opts, "numpy", red))
            where = f"{loss.name}.{op} reduction={red} backend={backend}"
            assert kind == rkind, f"{where}: {kind} {res!r} but numpy backend: {rkind} {ref!r}"
            if kind == "err":
                assert not must_succeed, f"{where}: raised {res!r}"
                assert type(res) is type(ref), f"{where}: {res!r} vs numpy {ref!r}"
                _names_arg(res, names)
            else:
                dt = np.result_type(*[np.asarray(a).dtype for a in arrays
                                      if np.asarray(a).dtype.kind == "f"] or [np.float64])
                assert_same(res, ref, dt, where, finite_only=finite_only)
    return True


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_shape_mismatch(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.ndim == 0:
            continue
        # One more sample: never compatible (except where documented).  A
        # loss of one array has nothing to mismatch with.
        bad = np.concatenate([a, a[:1]], axis=0)
        bad_arrays = _replace(arrays, i, bad)
        free = BATCH_FREE.get(name, ())
        strict = tuple(r for r in loss.reductions if r not in free) if len(arrays) > 1 else ()
        if free:
            expect_consistent(loss, bad_arrays, opts, backend, loss.inputs, reductions=free,
                              must_succeed=True)
        if strict:
            expect_error(loss, bad_arrays, opts, backend, pl.PylossValueError, loss.inputs,
                         reductions=strict, templates=templates)
            with pytest.raises(pl.PylossValueError) as ei:
                call(loss, "value", bad_arrays, opts, backend, strict[0])
            assert SHAPE_RE.search(str(ei.value)), f"no shape in {str(ei.value)!r}"
        # One more element on the last axis, one axis more, one axis less:
        # an error naming an input, or (where the loss allows it) the same
        # result as the reference.
        variants = [a[..., None], np.stack([a, a], axis=-1)]
        if a.ndim >= 1:
            variants.append(np.concatenate([a, a[..., :1]], axis=-1))
        if a.ndim >= 2:
            variants.append(a[..., 0])
        elif a.ndim == 1:
            variants.append(a[0])
        for v in variants:
            expect_consistent(loss, _replace(arrays, i, np.ascontiguousarray(v)), opts, backend,
                              loss.inputs, reductions=("mean", "none"))


# ---------------------------------------------------------------- dtypes

_DIFF_BAD = [np.int64, np.int32, np.uint8, np.bool_, np.complex128, np.complex64, object, str,
             np.longdouble]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_wrong_dtypes(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        arg = loss.inputs[i]
        if arg in loss.diff:
            for dt in _DIFF_BAD:
                if np.dtype(dt) == np.longdouble and np.dtype(np.longdouble).itemsize == 8:
                    continue  # longdouble is float64 on this platform
                bad = a.astype(dt)
                expect_error(loss, _replace(arrays, i, bad), opts, backend, pl.PylossTypeError,
                             [arg], contains=[str(bad.dtype)] if dt is not str else [],
                             templates=templates)
        else:
            for dt in (np.complex128, object, str):
                expect_error(loss, _replace(arrays, i, a.astype(dt)), opts, backend,
                             (pl.PylossTypeError, pl.PylossValueError), [arg], templates=templates)
            # Integer/boolean targets may be accepted (cast) or refused; the
            # backends agree either way.
            for dt in (np.int64, np.bool_, np.float16, np.float32):
                expect_consistent(loss, _replace(arrays, i, a.astype(dt)), opts, backend, [arg],
                                  reductions=("mean",))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_ragged_and_non_arrays(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    for i in range(len(arrays)):
        arg = loss.inputs[i]
        for bad in ([[1.0, 2.0], [3.0]], [[1, 2], [3, [4]]], "abc", None, {"a": 1}, object(),
                    [1.0, "x"], b"\x00\x01"):
            expect_error(loss, _replace(arrays, i, bad), opts, backend,
                         (pl.PylossTypeError, pl.PylossValueError), [arg], templates=templates)
    # Nested lists of the same numbers are a valid array-like.
    lists = tuple(np.asarray(a).tolist() for a in arrays)
    v = call(loss, "vg", lists, opts, backend)
    ref = call(loss, "vg", arrays, opts, backend)
    assert_same(v, ref, np.float64, f"{name} from lists")


# ---------------------------------------------------------------- class indices

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", INT_TARGET)
def test_class_index_out_of_range(name, backend):
    loss = pl.get(name)
    for shape in ((6,), (3, 4)):
        arrays, opts = make(name, shape)
        templates = _templates(loss, arrays, opts, backend)
        first = np.asarray(arrays[0])
        C = first.shape[1] if first.ndim >= 2 else None
        ignore = opts.get("ignore_index", loss.options.get("ignore_index"))
        for i in class_inputs(loss, arrays):
            arg = loss.inputs[i]
            t0 = arrays[i]
            for bad in ([C] if C is not None else []) + [C + 7 if C else 99, -2, -1, 2**40, -(2**40),
                                                        2**31, 2**63 - 1]:
                if bad == ignore:
                    continue
                for dt in (np.int64, np.int32, np.uint8, np.uint64):
                    info = np.iinfo(dt)
                    if not info.min <= bad <= info.max or (C is not None and dt == np.uint8 and C > 200):
                        continue
                    # negative (ignored) entries would wrap in an unsigned dtype
                    t = (np.where(t0 < 0, 0, t0) if info.min == 0 else t0).astype(dt)
                    pos = tuple(int(k) for k in np.unravel_index(t.size - 1, t.shape))
                    t[pos] = bad
                    with pytest.raises(pl.PylossValueError) as ei:
                        call(loss, "value", _replace(arrays, i, t), opts, backend)
                    msg = str(ei.value)
                    assert arg in msg and str(bad) in msg, msg
                    assert str(pos) in msg or f" {t.size - 1}" in msg, f"position {pos} not in {msg!r}"
                    expect_error(loss, _replace(arrays, i, t), opts, backend, pl.PylossValueError,
                                 [arg], templates=templates)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", IGNORE)
def test_ignore_index_everywhere(name, backend):
    """SPEC 3a: everything ignored -> mean nan, sum 0, none 0, grad/Hessian 0."""
    loss = pl.get(name)
    case = CASES[name]
    for option_set in case.option_sets:
        for shape in ((6,), (2, 3)):
            arrays, opts = make(name, shape)
            opts.update(option_set)
            first = np.asarray(arrays[0])
            C = first.shape[1] if first.ndim >= 2 else 2
            for ig in (loss.options["ignore_index"], -1, 0, C - 1):
                if ig is None:      # the default ignores nothing
                    continue
                o = dict(opts, ignore_index=ig)
                a = list(arrays)
                for i in int_inputs(arrays):
                    a[i] = np.full_like(arrays[i], ig)
                a = tuple(a)
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    for red in loss.reductions:
                        v = call(loss, "value", a, o, backend, red)
                        if red == "mean":   # nan, or the loss's documented mean of nothing
                            assert (np.isnan(v) if np.isnan(case.empty_mean)
                                    else v == case.empty_mean), (name, o, v)
                        elif red == "sum":
                            assert v == 0, (name, o, v)
                        elif red == "none":
                            assert np.all(np.asarray(v) == 0), (name, o, v)
                        for op in ops_of(loss)[1:]:
                            res = call(loss, op, a, o, backend, red)
                            g = res[1] if op == "vg" else res
                            for x in (g if isinstance(g, tuple) else (g,)):
                                assert np.all(x == 0), (name, op, red, o)


# ---------------------------------------------------------------- sizes

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_empty_inputs(name, backend):
    """Zero-size inputs follow NumPy: sum 0, mean nan (or the loss's documented
    value), gradients of the input's (empty) shape, and no warnings."""
    loss = pl.get(name)
    tried = 0
    for shape in ((0,), (0, 3), (3, 0)):
        try:
            arrays, opts = make(name, shape)
        except Exception:
            continue
        if not any(np.asarray(a).size == 0 for a in arrays):
            continue
        if "none" in loss.reductions and np.size(call(loss, "value", arrays, opts, "numpy", "none")):
            continue   # empty features of a non-empty batch (dice (3, C, 0)): defined per sample
        tried += 1
        expect_consistent(loss, arrays, opts, backend, loss.inputs, must_succeed=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for red in loss.reductions:
                v = call(loss, "value", arrays, opts, backend, red)
                if red == "sum":
                    assert v == 0, (name, shape, v)
                elif red == "none":
                    assert np.asarray(v).size == 0, (name, shape, v)
                elif red == "mean":
                    assert np.isnan(v) or v == 0, (name, shape, v)
                g = call(loss, "grad", arrays, opts, backend, red)
                for x, k in zip(g if isinstance(g, tuple) else (g,), loss.diff):
                    src = np.asarray(arrays[loss.inputs.index(k)])
                    assert x.shape == src.shape and x.size == 0, (name, k, x.shape)
    if not tried:
        pytest.skip(f"{name}: its Case cannot make an empty batch")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_zero_d_inputs(name, backend):
    """0-d inputs (NumPy scalars, Python floats): a result or an error naming
    the input, identical on every backend."""
    loss = pl.get(name)
    try:
        arrays, opts = make(name, ())
    except Exception:
        arrays, opts = make(name, (6,))
        arrays = tuple(np.asarray(a).flat[0] for a in arrays)
    expect_consistent(loss, arrays, opts, backend, loss.inputs)
    scalars = tuple(np.asarray(a).flat[0].item() for a in arrays)
    expect_consistent(loss, scalars, opts, backend, loss.inputs, reductions=("mean",))


# ---------------------------------------------------------------- NaN / Inf

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_nan_inf_propagate(name, backend, dtype):
    """NaN/Inf in any float input: no crash, the reference's result (an error
    only where the loss documents one, e.g. probabilities outside [0, 1])."""
    loss = pl.get(name)
    arrays, opts = make(name, (6,), dtype)
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind != "f":
            continue
        for special in (np.nan, np.inf, -np.inf):
            b = a.copy()
            b.flat[1] = special
            expect_consistent(loss, _replace(arrays, i, b), opts, backend, loss.inputs)
        # Finite inputs whose loss overflows the dtype: no warning, no
        # crash, the reference's finite results (what overflows, to inf
        # or to inf - inf = nan, depends on the order of operations).
        with np.errstate(over="ignore"):
            huge = (a.astype(np.float64) * 1e30 if dtype == np.float32 else a * 1e300)
            huge = np.clip(huge, -np.finfo(dtype).max, np.finfo(dtype).max).astype(dtype)
        expect_consistent(loss, _replace(arrays, i, huge), opts, backend, loss.inputs,
                          finite_only=True)
        if loss.inputs[i] in loss.diff:
            b = np.full_like(a, np.nan)
            kind, v = outcome(lambda: call(loss, "value", _replace(arrays, i, b), opts,
                                           backend, "sum"))
            if kind == "ok":
                assert np.isnan(v), f"{name}: all-NaN {loss.inputs[i]} gave {v}"


# ---------------------------------------------------------------- out=

def _bad_outs(g):
    """(label, bad buffer, expected error types) for one gradient template."""
    S = 12345.0
    other = np.float32 if g.dtype == np.float64 else np.float64
    bad = [
        ("shape+1", np.full(g.shape[:-1] + (g.shape[-1] + 1,), S, g.dtype) if g.ndim else
         np.full((1,), S, g.dtype), pl.PylossValueError),
        ("flat", np.full((g.size,), S, g.dtype) if g.ndim != 1 else np.full((g.size, 1), S, g.dtype),
         pl.PylossValueError),
        ("dtype", np.full(g.shape, S, other), pl.PylossValueError),
        ("int dtype", np.full(g.shape, 7, np.int64), pl.PylossValueError),
    ]
    if g.ndim >= 1 and g.size > 1:
        wide = np.full(g.shape[:-1] + (2 * g.shape[-1],), S, g.dtype)
        bad.append(("strided", wide[..., ::2], pl.PylossValueError))
        bad.append(("reversed", np.full(g.shape, S, g.dtype)[::-1], pl.PylossValueError))
    if g.ndim >= 2:
        bad.append(("fortran", np.asfortranarray(np.full(g.shape, S, g.dtype)), pl.PylossValueError))
    if g.size:
        raw = np.frombuffer(bytearray(g.nbytes + 1), np.uint8)[1:]
        unaligned = raw.view(g.dtype).reshape(g.shape)
        unaligned[...] = S
        bad.append(("unaligned", unaligned, pl.PylossValueError))
    ro = np.full(g.shape, S, g.dtype)
    ro.setflags(write=False)
    bad.append(("read-only", ro, pl.PylossValueError))
    bad.append(("list", np.full(g.shape, S, g.dtype).tolist(), (pl.PylossTypeError, pl.PylossValueError)))
    return bad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_bad_out(name, backend, dtype):
    loss = pl.get(name)
    arrays, opts = make(name, (4, 3) if dtype == np.float64 else (6,), dtype)
    for op in ops_of(loss):
        if op == "value":
            with pytest.raises(pl.PylossTypeError) as ei:
                loss(*arrays, backend=backend, out=np.empty(3), **opts)
            assert "out" in str(ei.value)
            continue
        for red in loss.reductions:
            g = grad_like(loss, arrays, opts, backend, op, red)
            members = g if isinstance(g, tuple) else (g,)
            for k, gk in enumerate(members):
                for label, b, types in _bad_outs(gk):
                    if isinstance(g, tuple):
                        out = list(sentinel_like(g))
                        out[k] = b
                        out = tuple(out)
                    else:
                        out = b
                    with warnings.catch_warnings():
                        warnings.simplefilter("error")
                        with pytest.raises(types) as ei:
                            call(loss, op, arrays, opts, backend, red, out=out)
                    assert "out" in str(ei.value), (label, str(ei.value))
                    assert isinstance(ei.value, pl.PylossError)
                    for o in (out if isinstance(out, tuple) else (out,)):
                        if isinstance(o, np.ndarray) and o.dtype.kind == "f":
                            assert untouched(o), f"{name}.{op} out={label}: buffer written"
                        elif isinstance(o, np.ndarray):
                            assert np.all(o == 7), f"{name}.{op} out={label}: buffer written"
            # A tuple where one array is expected and vice versa.
            if isinstance(g, tuple):
                wrong = [sentinel_like(g[0]), sentinel_like(g)[:-1], sentinel_like(g) + (sentinel_like(g[0]),)]
            else:
                wrong = [(sentinel_like(g),), (sentinel_like(g), sentinel_like(g))]
            for out in wrong:
                with pytest.raises((pl.PylossTypeError, pl.PylossValueError)) as ei:
                    call(loss, op, arrays, opts, backend, red, out=out)
                assert "out" in str(ei.value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_out_aliasing_an_input(name, backend, dtype):
    """SPEC 3a: out= sharing memory with an input gives the same result."""
    loss = pl.get(name)
    arrays, opts = make(name, (5, 4), dtype)
    arrays = tuple(np.ascontiguousarray(a) for a in arrays)
    for op in ops_of(loss)[1:]:
        for red in loss.reductions:
            expect = call(loss, op, tuple(a.copy() for a in arrays), opts, backend, red)
            g = expect[1] if op == "vg" else expect
            members = g if isinstance(g, tuple) else (g,)
            for k, gk in enumerate(members):
                for j, a in enumerate(arrays):
                    if a.shape != gk.shape or a.dtype != gk.dtype:
                        continue
                    work = [x.copy() for x in arrays]
                    out = [np.empty_like(m) for m in members]
                    out[k] = work[j]
                    out = tuple(out) if isinstance(g, tuple) else out[0]
                    res = call(loss, op, tuple(work), opts, backend, red, out=out)
                    where = f"{name}.{op} red={red} out[{k}] aliases {loss.inputs[j]}"
                    got = res[1] if op == "vg" else res
                    for x, y in zip(got if isinstance(got, tuple) else (got,), members):
                        np.testing.assert_array_equal(x, y, err_msg=where)
                    if op == "vg":
                        np.testing.assert_array_equal(res[0], expect[0], err_msg=where)
                    np.testing.assert_array_equal(work[j], members[k], err_msg=where)


# ---------------------------------------------------------------- weights

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", WEIGHTED)
def test_weights(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    w = valid_weight(loss, arrays, opts, backend)
    # Shapes that do not broadcast to the loss's shape.
    for bad in (np.ones((13, 11)), np.ones(w.shape + (2,)), np.ones(w.shape[:-1] + (w.shape[-1] + 1,))):
        expect_error(loss, arrays, dict(opts, weight=bad), backend, pl.PylossValueError, ["weight"],
                     templates=templates)
    for bad in (w.astype(np.complex128), w.astype(str), "abc", [[1.0], [1.0, 2.0]], object()):
        expect_error(loss, arrays, dict(opts, weight=bad), backend,
                     (pl.PylossTypeError, pl.PylossValueError), ["weight"], templates=templates)
    # Negative weights are allowed: weights are pure multipliers, so -w
    # negates sum and its gradient and leaves mean (sum(w l)/sum(w)) unchanged.
    pos = dict(opts, weight=w)
    neg = dict(opts, weight=-w)
    for op in ops_of(loss):
        s_pos = call(loss, op, arrays, pos, backend, "sum")
        s_neg = call(loss, op, arrays, neg, backend, "sum")
        assert_same(s_neg, tuple(-x for x in s_pos) if isinstance(s_pos, tuple) else -s_pos,
                    np.float64, f"{name}.{op} sum with -w")
        m_pos = call(loss, op, arrays, pos, backend, "mean")
        m_neg = call(loss, op, arrays, neg, backend, "mean")
        assert_same(m_neg, m_pos, np.float64, f"{name}.{op} mean with -w")
    # Mixed signs, including weights that sum to zero: no crash, no warning,
    # the reference's answer.
    mixed = w * np.where(np.arange(w.size).reshape(w.shape) % 2 == 0, 1.0, -1.0)
    expect_consistent(loss, arrays, dict(opts, weight=mixed), backend, ["weight"], must_succeed=True)
    zero_sum = np.zeros_like(w)
    zero_sum.flat[0], zero_sum.flat[-1] = 1.0, -1.0
    if w.size > 1:
        expect_consistent(loss, arrays, dict(opts, weight=zero_sum), backend, ["weight"],
                          must_succeed=True)
    expect_consistent(loss, arrays, dict(opts, weight=np.zeros_like(w)), backend, ["weight"],
                      must_succeed=True)


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_bad_options(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    tried = 0
    for opt, values in BAD_OPTION_VALUES.items():
        if opt not in loss.options:
            continue
        for v in values:
            tried += 1
            expect_error(loss, arrays, dict(opts, **{opt: v}), backend, pl.PylossValueError, [opt],
                         contains=[repr(v) if v == v else "nan"], templates=templates)
    for opt, values in BAD_CHOICES.items():
        if opt not in loss.options:
            continue
        for v in values:
            tried += 1
            expect_error(loss, arrays, dict(opts, **{opt: v}), backend, pl.PylossValueError, [opt],
                         contains=[repr(v)], templates=templates)
    # A numeric option given a string, a list or None (where None is not the
    # default): a PylossError naming the option.
    for opt, default in loss.options.items():
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        for v in ("abc", [1.0, "x"], None, 1j):
            tried += 1
            expect_error(loss, arrays, dict(opts, **{opt: v}), backend,
                         (pl.PylossTypeError, pl.PylossValueError), [opt], templates=templates)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_bad_reduction_and_backend(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    bad_reds = BAD_REDUCTIONS + [r for r in ("batchmean",) if r not in loss.reductions]
    for red in bad_reds:
        expect_error(loss, arrays, opts, backend, pl.PylossValueError, ["reduction"],
                     contains=[repr(red)], reductions=(red,))
        for op in ops_of(loss)[1:]:
            out = sentinel_like(templates[op])
            with pytest.raises(pl.PylossValueError):
                call(loss, op, arrays, opts, backend, red, out=out)
            assert untouched(out)
    for be in BAD_BACKENDS:
        expect_error(loss, arrays, opts, be, pl.PylossValueError, ["backend"], contains=[repr(be)],
                     templates=templates)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_bad_call_signature(name, backend):
    loss = pl.get(name)
    arrays, opts = make(name, (6,))
    templates = _templates(loss, arrays, opts, backend)
    expect_error(loss, arrays, dict(opts, nonsense=1), backend, pl.PylossTypeError, ["nonsense"],
                 templates=templates)
    expect_error(loss, arrays, dict(opts, Weight=1.0), backend, pl.PylossTypeError, ["Weight"],
                 templates=templates)
    for arrs in (arrays[:-1], arrays + (arrays[-1],), ()):
        expect_error(loss, arrs, opts, backend, pl.PylossTypeError, [name, *loss.inputs],
                     contains=[str(len(arrs))], templates=templates)
    if not getattr(loss, "has_hessian", True):
        with pytest.raises(pl.PylossNotImplementedError):
            loss.hessian(*arrays, backend=backend, **opts)


def _unaligned_copy(a):
    raw = np.frombuffer(bytearray(a.nbytes + 1), np.uint8)[1:]
    b = raw.view(a.dtype).reshape(a.shape)
    b[...] = a
    assert not b.flags.aligned or a.dtype.itemsize == 1
    return b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_byteswapped_and_unaligned_inputs(name, backend, dtype):
    """Big-endian and misaligned arrays are valid array-likes: the same result
    (and dtype) as the native, aligned array."""
    loss = pl.get(name)
    arrays, opts = make(name, (5, 3), dtype)
    arrays = tuple(np.asarray(a) for a in arrays)
    for variant in ("byteswap", "unaligned"):
        if variant == "byteswap":
            odd = tuple(a.astype(a.dtype.newbyteorder(">" if a.dtype.byteorder != ">" else "<"))
                        for a in arrays)
        else:
            odd = tuple(_unaligned_copy(a) if a.ndim else a for a in arrays)
        for op in ops_of(loss):
            for red in loss.reductions:
                expect = call(loss, op, arrays, opts, backend, red)
                got = call(loss, op, odd, opts, backend, red)
                where = f"{name}.{op} {variant} {np.dtype(dtype)} red={red}"
                for x, y in zip(flat_res(got), flat_res(expect)):
                    assert x.dtype == y.dtype, f"{where}: dtype {x.dtype} != {y.dtype}"
                    np.testing.assert_array_equal(x, y, err_msg=where)


def flat_res(x):
    if isinstance(x, tuple):
        return [a for y in x for a in flat_res(y)]
    return [np.asarray(x)]
