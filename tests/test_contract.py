"""The call contract of SPEC sections 1, 3a and 5 for every registered loss:
the registry, the signature, reductions, hand-derived values, weights as pure
multipliers, zero-size inputs, and the error classes and their messages."""
import inspect
import warnings

import numpy as np
import pytest

import pyloss as pl
from conftest import (CASES, F16, as_tuple, call, case_of, diff_index, make, ops_of,
                      reductions_of, split)

NAMES = pl.losses()
BACKENDS = pl.backends()


# ------------------------------------------------------------------ registry

def test_every_loss_has_a_case_and_a_public_name():
    assert len(NAMES) == len(set(NAMES)) and NAMES
    missing = [n for n in NAMES if n not in CASES]
    assert not missing, f"registered losses without a Case in tests/cases_*.py: {missing}"
    stale = [n for n in CASES if n not in NAMES]
    assert not stale, f"Cases for losses that are not registered: {stale}"
    for n in NAMES:
        loss = pl.get(n)
        assert getattr(pl, n) is loss
        assert n in pl.__all__
        assert isinstance(loss, pl.Loss)
        assert loss.name == n and n in repr(loss)


def test_get_unknown_name_is_a_value_error():
    with pytest.raises(pl.PylossValueError, match="no_such_loss"):
        pl.get("no_such_loss")


@pytest.mark.parametrize("name", NAMES)
def test_definition_is_complete(name):
    """A loss is its definition, a docstring, a reference, and kernels on
    every backend built here (each backend must run it)."""
    loss = pl.get(name)
    assert loss.inputs and set(loss.diff) <= set(loss.inputs) and loss.diff
    assert loss.__doc__ and len(loss.__doc__) > 100, f"{name}: docstring too short"
    # a reduction that needs an option (lovasz_softmax: "none" with per_image=True) is
    # declared in conditional_reductions
    assert {"mean", "sum", "none"} <= set(loss.reductions) | set(
        getattr(loss, "conditional_reductions", ()))
    assert loss.example is not None, f"{name}: no example= for pyloss bench"
    arrays, opts = loss.example(np.random.default_rng(0), 64, np.dtype(np.float64))
    for backend in BACKENDS:
        v = loss(*arrays, backend=backend, **opts)
        assert np.isfinite(v), (name, backend)


@pytest.mark.parametrize("name", NAMES)
def test_options_are_keyword_only(name):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(0), (4,), np.float64)
    with pytest.raises(pl.PylossTypeError):
        loss(*arrays, 1.0)
    with pytest.raises(pl.PylossTypeError):
        loss(*arrays[:-1])
    with pytest.raises(pl.PylossTypeError, match="no_such_option"):
        loss(*arrays, no_such_option=1, **opts)
    for m in (loss.__call__, loss.grad, loss.value_and_grad, loss.hessian):
        sig = inspect.signature(m)
        for p in ("reduction", "backend"):
            assert sig.parameters[p].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters["reduction"].default == "mean"
        assert sig.parameters["backend"].default == "auto"
    for m in (loss.grad, loss.value_and_grad, loss.hessian):
        assert inspect.signature(m).parameters["out"].default is None


def test_huber_signature_names_its_arrays_and_options():
    assert str(inspect.signature(pl.huber)) == \
        "(pred, target, *, weight=None, delta=1.0, reduction='mean', backend='auto')"
    for m in (pl.huber.grad, pl.huber.value_and_grad, pl.huber.hessian):
        assert str(inspect.signature(m)) == ("(pred, target, *, weight=None, delta=1.0, "
                                             "reduction='mean', backend='auto', out=None)")


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_the_loss_inputs_and_options(name):
    """inspect.signature of a loss and its methods: the arrays by name, then
    the options with their defaults, keyword-only; and a call may name the
    arrays as the signature says, with the same result."""
    loss = pl.get(name)
    P = inspect.Parameter
    arrays_opts = [(n, P.POSITIONAL_OR_KEYWORD, P.empty) for n in loss.inputs] + \
        [(k, P.KEYWORD_ONLY, v) for k, v in loss.options.items()]
    tails = {"__call__": ["reduction", "backend"], "grad": ["reduction", "backend", "out"],
             "value_and_grad": ["reduction", "backend", "out"],
             "hessian": ["reduction", "backend", "out"], "reference": ["reduction"]}
    for method, tail in tails.items():
        fn = loss if method == "__call__" else getattr(loss, method)
        got = [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
        assert got[:len(arrays_opts)] == arrays_opts, (method, got)
        assert [g[0] for g in got[len(arrays_opts):]] == tail, (method, got)
        assert all(g[1] is P.KEYWORD_ONLY for g in got[len(arrays_opts):]), (method, got)
        if method != "__call__":
            assert fn.__doc__ == getattr(pl.Loss, method).__doc__ and fn.__name__ == method
    arrays, opts = make(name, np.random.default_rng(0), (4,), np.float64)
    inspect.signature(loss).bind(*arrays, **opts)
    by_name = dict(zip(loss.inputs, arrays))
    np.testing.assert_array_equal(loss(**by_name, **opts), loss(*arrays, **opts))
    np.testing.assert_array_equal(loss(*arrays[:1], **dict(list(by_name.items())[1:]), **opts),
                                  loss(*arrays, **opts))
    with pytest.raises(pl.PylossTypeError):      # one array by position and by name
        loss(*arrays, **{loss.inputs[0]: arrays[0]}, **opts)


def test_loss_methods_pickle_and_the_class_keeps_its_generic_signature():
    import pickle
    assert pickle.loads(pickle.dumps(pl.huber)) is pl.huber
    g = pickle.loads(pickle.dumps(pl.huber.value_and_grad))
    x, y = np.linspace(-2, 2, 9), np.zeros(9)
    v, d = g(x, y, delta=0.5)
    v2, d2 = pl.huber.value_and_grad(x, y, delta=0.5)
    assert v == v2 and np.array_equal(d, d2)
    assert pl.Loss.__signature__ is None
    assert "*arrays" in str(inspect.signature(pl.Loss.grad))
    assert str(inspect.signature(pl.Loss)).startswith("(name, family, inputs")


@pytest.mark.parametrize("name", NAMES)
def test_bad_reduction_and_backend_name_the_argument(name):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(0), (4,), np.float64)
    for op in ops_of(loss):
        with pytest.raises(pl.PylossValueError, match="reduction") as ei:
            call(loss, op, arrays, opts, "avg", "auto")
        assert "avg" in str(ei.value)
        with pytest.raises(pl.PylossValueError, match="backend") as ei:
            call(loss, op, arrays, opts, "mean", "cuda")
        assert "cuda" in str(ei.value)
        with pytest.raises(ValueError):       # the builtin class too
            call(loss, op, arrays, opts, None, "auto")


@pytest.mark.parametrize("name", NAMES)
def test_hessian_offered_or_not_implemented(name):
    loss = pl.get(name)
    arrays, opts = make(name, np.random.default_rng(0), (4,), np.float64)
    if loss.has_hessian:
        h = as_tuple(loss.hessian(*arrays, **opts))
        assert h[0].shape == arrays[diff_index(loss)[0]].shape
    else:
        with pytest.raises(pl.PylossNotImplementedError):
            loss.hessian(*arrays, **opts)
        with pytest.raises(NotImplementedError):
            loss.hessian(*arrays, **opts)


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_hand_derived_values(name, backend, dtype):
    case = case_of(name)
    assert case.hand, f"{name}: no hand-derived value in its Case"
    loss = pl.get(name)
    for arrays, opts, reduction, expected, why in case.hand:
        arr = tuple(np.asarray(a, dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
                    for a in arrays)
        v = loss(*arr, reduction=reduction, backend=backend, **opts)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(v, expected, rtol=rtol, atol=rtol,
                                   err_msg=f"{name} {backend} {dtype.__name__}: {why}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_zero_size_mean_is_nan_sum_is_zero_without_warnings(name, backend, dtype):
    """SPEC 2: mean of nothing is nan (or Case.empty_mean), sum is 0, no warnings."""
    loss, case = pl.get(name), case_of(name)
    arrays, opts = make(name, np.random.default_rng(0), (0,), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            reds = reductions_of(loss, case)
            if "mean" in reds:
                v = loss(*arrays, reduction="mean", backend=backend, **opts)
                np.testing.assert_equal(float(v), case.empty_mean, err_msg=f"{name} {backend}")
            if "sum" in reds:
                assert loss(*arrays, reduction="sum", backend=backend, **opts) == 0
            if "none" in reds:
                assert np.size(loss(*arrays, reduction="none", backend=backend, **opts)) == 0
            for op in ops_of(loss):
                for red in reds:
                    _, d = split(op, call(loss, op, arrays, opts, red, backend))
                    if d is not None:
                        for g, i in zip(d, diff_index(loss)):
                            assert g.shape == arrays[i].shape


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_weights_are_pure_multipliers(name, backend):
    """Scaling a valid weight by c scales sum and its derivatives by c and
    leaves mean unchanged; c = -1 included (SPEC 3a: negative weights are
    allowed, mean is sum(w l) / sum(w))."""
    loss, case = pl.get(name), case_of(name)
    if "weight" not in loss.options:
        pytest.skip(f"{name} takes no weight")
    rng = np.random.default_rng(7)
    arrays, opts = make(name, rng, (6, 5), np.float64, weighted=True)
    w = opts["weight"]
    for c in (2.0, -1.0, 0.5):
        for op in ops_of(loss):
            for red in ("sum", "mean", "none"):
                if red not in reductions_of(loss, case):
                    continue
                v0, d0 = split(op, call(loss, op, arrays, opts, red, backend))
                v1, d1 = split(op, call(loss, op, arrays, dict(opts, weight=c * w), red, backend))
                f = 1.0 if red == "mean" else c
                what = f"{name} {backend} weight*{c} {red} {op}"
                if v0 is not None:
                    np.testing.assert_allclose(v1, f * np.asarray(v0), rtol=1e-14, err_msg=what)
                if d0 is not None:
                    for a, b in zip(d0, d1):
                        np.testing.assert_allclose(b, f * a, rtol=1e-14, atol=1e-300, err_msg=what)
    # and a scalar weight where the loss broadcasts per element (SPEC 3a)
    if case.weight is None:
        for red in [r for r in ("sum", "mean") if r in reductions_of(loss, case)]:
            plain = {k: v for k, v in opts.items() if k != "weight"}
            v0 = loss(*arrays, reduction=red, backend=backend, **plain)
            v1 = loss(*arrays, reduction=red, backend=backend, **dict(plain, weight=2.0))
            np.testing.assert_allclose(v1, (2.0 if red == "sum" else 1.0) * v0, rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_weight_of_wrong_shape_names_weight(name):
    loss = pl.get(name)
    if "weight" not in loss.options:
        pytest.skip(f"{name} takes no weight")
    arrays, opts = make(name, np.random.default_rng(0), (6, 5), np.float64)
    for bad in (np.ones(1021), np.ones((6, 5, 3, 2))):
        with pytest.raises(pl.PylossValueError, match="weight"):
            loss(*arrays, weight=bad, **opts)
    with pytest.raises(pl.PylossTypeError, match="weight"):
        loss(*arrays, weight=np.ones(5, complex), **opts)


@pytest.mark.parametrize("name", NAMES)
def test_batch_size_mismatch_is_a_value_error(name):
    """Inputs of mismatched batch sizes are a ValueError naming both shapes
    (inputs listed in Case.shape_free may differ)."""
    loss, case = pl.get(name), case_of(name)
    rng = np.random.default_rng(0)
    a7, opts = make(name, rng, (7, 5), np.float64)
    a6, _ = make(name, rng, (6, 5), np.float64)
    for j in range(1, len(loss.inputs)):
        if j in case.shape_free:
            continue
        arrays = list(a7)
        arrays[j] = a6[j]
        for op in ops_of(loss):
            with pytest.raises(pl.PylossValueError) as ei:
                call(loss, op, arrays, opts, "mean", "auto")
            msg = str(ei.value)
            assert str(a6[j].shape) in msg, (name, j, msg)


@pytest.mark.parametrize("name", NAMES)
def test_value_types_and_shapes(name):
    """Reduced values are NumPy scalars of the compute dtype; "none" is an
    array; gradients have their input's shape and dtype (float16 -> float32)."""
    loss, case = pl.get(name), case_of(name)
    for dtype in (F16, np.dtype(np.float32), np.dtype(np.float64)):
        arrays, opts = make(name, np.random.default_rng(0), (7, 5), dtype)
        cdt = np.float64 if dtype == np.float64 else np.float32
        for red in reductions_of(loss, case):
            v = loss(*arrays, reduction=red, **opts)
            if red == "none":
                assert isinstance(v, np.ndarray) and v.dtype == cdt
            else:
                assert isinstance(v, np.floating) and v.dtype == cdt, (name, red, type(v))
            for op in ops_of(loss)[1:]:
                _, d = split(op, call(loss, op, arrays, opts, red, "auto"))
                for g, i in zip(d, diff_index(loss)):
                    assert g.shape == arrays[i].shape and g.dtype == cdt, (name, op, g.dtype)


def test_error_hierarchy():
    assert issubclass(pl.PylossValueError, pl.PylossError) and issubclass(pl.PylossValueError, ValueError)
    assert issubclass(pl.PylossTypeError, pl.PylossError) and issubclass(pl.PylossTypeError, TypeError)
    assert issubclass(pl.CheckError, pl.PylossError)
    assert issubclass(pl.PylossNotImplementedError, pl.PylossError)
