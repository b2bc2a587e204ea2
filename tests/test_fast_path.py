"""The per-call fast path of ElementwiseLoss (plain contiguous ndarrays,
scalar options, a weight of pred's dtype and shape) must give bit-identical
results and the same errors as the general path, which :func:`general` forces."""
import contextlib

import numpy as np
import pytest

import pyloss as pl

FAST = [n for n in pl.losses() if isinstance(pl.get(n), pl._loss.ElementwiseLoss)
        and "weight" in pl.get(n).options]


@contextlib.contextmanager
def general(loss):
    """Every call of `loss` inside takes the general path (no fast runners)."""
    saved = loss.__dict__.get("_fast")
    loss._fast = {None: None}
    try:
        yield loss
    finally:
        loss._fast = saved


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fast_path_bit_identical(name, dtype, reduction, rng):
    loss = pl.get(name)
    case_arrays, _ = loss.example(rng, 1000, np.dtype(dtype))
    p, t = case_arrays[:2]
    v_fast = loss(p, t, reduction=reduction)
    with general(loss):
        v_gen = loss(p, t, reduction=reduction)
    assert type(v_fast) is type(v_gen) and v_fast.tobytes() == v_gen.tobytes()
    vf, gf = loss.value_and_grad(p, t, reduction=reduction)
    with general(loss):
        vg, gg = loss.value_and_grad(p, t, reduction=reduction)
    assert vf.tobytes() == vg.tobytes() and gf.dtype == gg.dtype
    np.testing.assert_array_equal(gf, gg)
    out = np.empty_like(p)
    g2 = loss.grad(p, t, reduction=reduction, out=out)
    assert g2 is out
    np.testing.assert_array_equal(out, gg)
    if loss.has_hessian:
        with general(loss):
            h = loss.hessian(p, t, reduction=reduction)
        np.testing.assert_array_equal(loss.hessian(p, t, reduction=reduction), h)


def test_fast_path_out_aliasing_and_errors(rng):
    p = rng.standard_normal(257).astype(np.float32)
    t = rng.standard_normal(257).astype(np.float32)
    v, g = pl.mse.value_and_grad(p, t)
    pc = p.copy()
    v2, g2 = pl.mse.value_and_grad(pc, t, out=pc)   # out aliases pred
    assert g2 is pc and v2 == v
    np.testing.assert_array_equal(g2, g)
    for bad in (np.empty(257, np.float64), np.empty(256, np.float32),
                np.empty(514, np.float32)[::2]):
        with pytest.raises(pl.PylossValueError):
            pl.mse.value_and_grad(p, t, out=bad)
    ro = np.empty(257, np.float32)
    ro.flags.writeable = False
    with pytest.raises(pl.PylossValueError):
        pl.mse.grad(p, t, out=ro)
    with pytest.raises(pl.PylossValueError):
        pl.mse(p, t[:-1])
    # empty inputs: mean is nan without warnings, sum is 0
    e = np.empty(0, np.float32)
    assert np.isnan(pl.mse(e, e)) and pl.mse(e, e, reduction="sum") == 0


def test_fast_path_respects_checking(rng):
    p = rng.standard_normal(64)
    t = rng.standard_normal(64)
    with pl.checking(rtol=1e-12, atol=1e-12):
        v = pl.mse(p, t)
        with general(pl.mse):
            assert v == pl.mse(p, t)


def _scalar_option_sets(name):
    from conftest import CASES
    loss = pl.get(name)
    scalar = set(loss.options) - {"weight"} - ({loss._aux} if loss._aux else set())
    return [o for o in CASES[name].option_sets if o and set(o) <= scalar]


@pytest.mark.parametrize("name", [n for n in FAST if _scalar_option_sets(n)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_path_with_scalar_options_bit_identical(name, dtype, rng):
    # Scalar options (huber's delta, quantile's q, ...) also take the fast
    # path: the same bits as the general one, every op.
    from conftest import CASES
    loss = pl.get(name)
    (p, t, *_), base = CASES[name].make(rng, (1000,), np.dtype(dtype))
    for extra in _scalar_option_sets(name):
        opts = {**base, **extra}
        for reduction in ("mean", "sum"):
            for _ in range(2):  # the second call hits the cached (p0, p1)
                vf, gf = loss.value_and_grad(p, t, reduction=reduction, **opts)
                with general(loss):
                    vg, gg = loss.value_and_grad(p, t, reduction=reduction, **opts)
                assert vf.tobytes() == vg.tobytes(), opts
                np.testing.assert_array_equal(gf, gg)
                assert loss(p, t, reduction=reduction, **opts).tobytes() == vg.tobytes()
                if loss.has_hessian:
                    with general(loss):
                        h = loss.hessian(p, t, reduction=reduction, **opts)
                    np.testing.assert_array_equal(
                        loss.hessian(p, t, reduction=reduction, **opts), h)


@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), True, "1", [1.0], np.ones(2)])
def test_fast_path_bad_scalar_options_raise_as_the_general_path(bad, rng):
    # A cached valid value must never stand in for an equal-hashing invalid
    # one (True == 1.0), and invalid values raise the general path's error.
    p = rng.standard_normal(64)
    t = rng.standard_normal(64)
    pl.huber(p, t, delta=1.0)  # caches delta=1.0
    errors = []
    for path in (contextlib.nullcontext, general):
        try:
            with path(pl.huber):
                pl.huber.value_and_grad(p, t, delta=bad)
            errors.append(None)
        except pl.PylossError as e:
            errors.append((type(e), str(e)))
    assert errors[0] == errors[1]
    if isinstance(bad, (bool, str, list, np.ndarray)) or not bad > 0:
        assert errors[0] is not None


def test_fast_path_unknown_option_raises(rng):
    p = rng.standard_normal(64)
    with pytest.raises(pl.PylossTypeError, match="unexpected keyword"):
        pl.huber(p, p, delta=1.0, beta=2.0)


def test_scalar_options_take_the_fast_path(monkeypatch, rng):
    if "c" not in pl.backends():
        pytest.skip("no C backend: every call takes the general path")
    p = rng.standard_normal(64)
    t = rng.standard_normal(64)

    def general(*a, **k):
        raise AssertionError("took the general path")
    monkeypatch.setattr(pl._loss.Loss, "_run", general)
    pl.huber.value_and_grad(p, t, delta=0.5)
    pl.smooth_l1.grad(p, t, beta=0.25, reduction="sum")
    pl.huber.value_and_grad(p, t, delta=0.5, weight=None)
    pl.mse.value_and_grad(p, t, weight=np.ones(64))
    for other in ({"weight": np.ones(64, np.float32)}, {"weight": np.ones(128)[::2]},
                  {"weight": np.ones(1)}):
        with pytest.raises(AssertionError, match="general path"):
            pl.mse.value_and_grad(p, t, **other)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fast_path_with_weight_bit_identical(name, dtype, reduction, rng):
    # A weight of pred's dtype and shape takes the fast path; the general
    # path gives the same bits.  Weights summing to 0 (mean: 0/0) and
    # negative weights included; a strided view of the weight is the same too.
    from conftest import CASES
    loss = pl.get(name)
    (p, t, *_), base = CASES[name].make(rng, (1000,), np.dtype(dtype))
    if "weight" in base:
        pytest.skip("the case's own options carry a weight")
    for w in (rng.uniform(0.5, 2.0, p.shape), rng.standard_normal(p.shape),
              np.zeros(p.shape), np.concatenate([np.ones(500), -np.ones(500)])):
        w = w.astype(dtype)
        strided = np.repeat(w, 2)[::2]
        vf, gf = loss.value_and_grad(p, t, reduction=reduction, weight=w, **base)
        vg, gg = loss.value_and_grad(p, t, reduction=reduction, weight=strided, **base)
        assert vf.tobytes() == vg.tobytes()
        np.testing.assert_array_equal(gf, gg)
        assert loss(p, t, reduction=reduction, weight=w, **base).tobytes() == vg.tobytes()
        if loss.has_hessian:
            np.testing.assert_array_equal(
                loss.hessian(p, t, reduction=reduction, weight=w, **base),
                loss.hessian(p, t, reduction=reduction, weight=strided, **base))


@pytest.mark.parametrize("shape", [(7, 5), (2, 3, 4), (1,), ()])
def test_fast_path_weight_any_shape(shape, rng):
    # The denominator sums every axis (np.sum's float64 sum), not the first.
    p = np.asarray(rng.standard_normal(shape))
    t = np.asarray(rng.standard_normal(shape))
    w = np.asarray(rng.uniform(0.5, 2.0, shape))
    for loss in (pl.mse, pl.huber):
        v, g = loss.value_and_grad(p, t, weight=w)
        with general(loss):
            v2, g2 = loss.value_and_grad(p, t, weight=w)
        assert v.tobytes() == v2.tobytes()
        np.testing.assert_array_equal(g, g2)
        ref = np.sum(w * loss(p, t, reduction="none", backend="numpy")) / np.sum(w)
        np.testing.assert_allclose(v, ref, rtol=1e-12)


def test_fast_path_weight_errors_and_out(rng):
    p = rng.standard_normal(64)
    t = rng.standard_normal(64)
    w = rng.uniform(0.5, 2.0, 64)
    with pytest.raises(pl.PylossValueError, match="weight"):
        pl.mse(p, t, weight=w[:-1])
    v, g = pl.mse.value_and_grad(p, t, weight=w)
    wc = w.copy()
    v2, g2 = pl.mse.value_and_grad(p, t, weight=wc, out=wc)  # out aliases weight
    assert g2 is wc and v2 == v
    np.testing.assert_array_equal(g2, g)
