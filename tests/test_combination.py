"""dice_bce and focal_smooth_l1: backends against the NumPy reference, finite
differences, hypothesis, input rules, errors, and PyTorch/torchvision formulas."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyloss as pl
from conftest import CASES

FAST = [b for b in pl.backends() if b != "numpy"]
REDUCTIONS = ("mean", "sum", "none")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def onehot(labels, C, dtype=np.float64):
    shape = (1, C) + (1,) * (labels.ndim - 1)
    return (labels[:, None] == np.arange(C).reshape(shape)).astype(dtype)


def _fd(f, x, h=1e-6):
    g = np.empty_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        dn = f(x)
        flat[i] = old
        gf[i] = (up - dn) / (2 * h)
    return g


# ----------------------------------------------------------------- dice_bce

def _dbce_inputs(rng, shape=(3, 4, 5, 6), dtype=np.float64):
    x = (3.0 * rng.standard_normal(shape)).astype(dtype)
    t = rng.uniform(0, 1, shape).astype(dtype)
    return x, t


@pytest.mark.parametrize("opts", CASES["dice_bce"].option_sets, ids=str)
@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dice_bce_matches_reference(opts, backend, dtype, reduction, rng):
    for shape in ((3, 4, 5, 8), (3, 4, 5)):      # S = 40: blocked path; S = 5: small-S path
        x, t = _dbce_inputs(rng, shape, dtype=dtype)
        lab = rng.integers(0, 4, (3,) + shape[2:])
        _dbce_check(x, t, lab, opts, backend, dtype, reduction)


def _dbce_check(x, t, lab, opts, backend, dtype, reduction):
    for tt in (t, lab):
        v_ref, g_ref = pl.dice_bce.value_and_grad(x.astype(np.float64), tt, backend="numpy",
                                                  reduction=reduction, **opts)
        v, g = pl.dice_bce.value_and_grad(x, tt, backend=backend, reduction=reduction, **opts)
        assert g.dtype == dtype and np.asarray(v).dtype == dtype
        np.testing.assert_allclose(v, v_ref, **TOL[dtype])
        np.testing.assert_allclose(g, g_ref, **TOL[dtype])


@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_dice_bce_finite_differences(backend, reduction, rng):
    x, t = _dbce_inputs(rng, (2, 2, 3))
    opts = {"dice_weight": 0.7, "bce_weight": 1.3, "smooth": 0.5}

    def f(z):
        return float(np.sum(pl.dice_bce(z, t, backend=backend, reduction=reduction, **opts)))
    g = pl.dice_bce.grad(x, t, backend=backend, reduction=reduction, **opts)
    np.testing.assert_allclose(g, _fd(f, x.copy()), rtol=1e-6, atol=1e-9)


def test_dice_bce_is_the_sum_of_its_parts(rng):
    x, t = _dbce_inputs(rng)
    for red in REDUCTIONS:
        for b in pl.backends():
            d, gd = pl.dice.value_and_grad(x, t, from_logits="sigmoid", reduction=red, backend=b)
            v, g = pl.dice_bce.value_and_grad(x, t, dice_weight=0.5, bce_weight=0.0,
                                              reduction=red, backend=b)
            np.testing.assert_allclose(v, 0.5 * d, rtol=1e-12)
            np.testing.assert_allclose(g, 0.5 * gd, rtol=1e-12, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 4), C=st.integers(1, 4), spatial=st.lists(st.integers(1, 7), max_size=2),
       smooth=st.sampled_from([0.0, 1.0, 3.0]), scale=st.sampled_from([0.1, 3.0, 60.0]),
       dw=st.floats(-2, 2), bw=st.floats(-2, 2), seed=st.integers(0, 2**32 - 1))
def test_dice_bce_hypothesis(N, C, spatial, smooth, scale, dw, bw, seed):
    rng = np.random.default_rng(seed)
    shape = (N, C) + tuple(spatial)
    x = scale * rng.standard_normal(shape)
    t = (rng.random(shape) < 0.5).astype(float)
    opts = dict(smooth=smooth, dice_weight=dw, bce_weight=bw)
    v_ref, g_ref = pl.dice_bce.value_and_grad(x, t, backend="numpy", reduction="none", **opts)
    for b in FAST:
        v, g = pl.dice_bce.value_and_grad(x, t, backend=b, reduction="none", **opts)
        np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-7, atol=1e-13)


@pytest.mark.parametrize("backend", pl.backends())
def test_dice_bce_layouts_zero_size_errors(backend, rng):
    x, t = _dbce_inputs(rng)
    v0, g0 = pl.dice_bce.value_and_grad(x, t, backend=backend, reduction="none")
    v, g = pl.dice_bce.value_and_grad(np.asfortranarray(x), t[:, :, ::-1][:, :, ::-1],
                                      backend=backend, reduction="none")
    np.testing.assert_allclose(v, v0, rtol=1e-13)
    np.testing.assert_allclose(g, g0, rtol=1e-13)
    xa = x.copy()
    assert pl.dice_bce.grad(xa, t, backend=backend, out=xa) is xa
    np.testing.assert_allclose(xa, g0 / 3, rtol=1e-13)
    e = np.zeros((0, 2, 3))
    assert np.isnan(pl.dice_bce(e, e, backend=backend))
    assert pl.dice_bce(e, e, backend=backend, reduction="sum") == 0
    with pytest.raises(ValueError, match=r"label 4 at position \(0, 0, 0\)"):
        pl.dice_bce(x, np.full((3, 5, 6), 4), backend=backend)
    with pytest.raises(ValueError, match="smooth"):
        pl.dice_bce(x, t, smooth=-0.1, backend=backend)
    with pytest.raises(ValueError, match="dice_weight"):
        pl.dice_bce(x, t, dice_weight=float("nan"), backend=backend)
    with pytest.raises(TypeError):
        pl.dice_bce(x, t, from_logits="sigmoid")


def test_dice_bce_extreme_logits():
    x = np.array([[[800.0, -800.0, 30.0, -30.0]]])
    t = np.array([[[1.0, 0.0, 0.0, 1.0]]])
    for b in pl.backends():
        for dt in (np.float32, np.float64):
            v, g = pl.dice_bce.value_and_grad(x.astype(dt), t.astype(dt), backend=b,
                                              reduction="none")
            ref = pl.dice_bce(x, t, backend="numpy", reduction="none")
            assert np.all(np.isfinite(g))
            np.testing.assert_allclose(v, ref, rtol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dice_bce_matches_torch(reduction, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, t = _dbce_inputs(rng)
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t)
    # BCE part alone: PyTorch's binary_cross_entropy_with_logits
    bce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none").flatten(1).mean(1)
    red = {"mean": bce.mean(), "sum": bce.sum(), "none": bce.sum()}[reduction]
    red.backward()
    for b in pl.backends():
        v, g = pl.dice_bce.value_and_grad(x, t, dice_weight=0.0, reduction=reduction, backend=b)
        want = bce.detach().numpy() if reduction == "none" else red.item()
        np.testing.assert_allclose(v, want, rtol=1e-10)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-9, atol=1e-14)
    if reduction == "mean":
        np.testing.assert_allclose(pl.dice_bce(x, t, dice_weight=0.0),
                                   F.binary_cross_entropy_with_logits(xt, tt).item(), rtol=1e-12)
    # the whole loss by autograd
    xt.grad = None
    p = torch.sigmoid(xt)
    inter, den = (p * tt).sum((2, 3)), p.sum((2, 3)) + tt.sum((2, 3))
    dice = (1 - (2 * inter + 1) / (den + 1)).mean(1)
    per = 0.3 * dice + 1.7 * F.binary_cross_entropy_with_logits(xt, tt, reduction="none").flatten(1).mean(1)
    red = {"mean": per.mean(), "sum": per.sum(), "none": per.sum()}[reduction]
    red.backward()
    for b in pl.backends():
        v, g = pl.dice_bce.value_and_grad(x, t, dice_weight=0.3, bce_weight=1.7,
                                          reduction=reduction, backend=b)
        want = per.detach().numpy() if reduction == "none" else red.item()
        np.testing.assert_allclose(v, want, rtol=1e-10)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-8, atol=1e-14)


# ----------------------------------------------------------------- focal_smooth_l1

def _fsl_inputs(rng, A=40, K=6, D=4, dtype=np.float64, frac=0.3):
    x = (3.0 * rng.standard_normal((A, K))).astype(dtype)
    t = np.zeros((A, K), dtype)
    pos = rng.random(A) < frac
    t[np.flatnonzero(pos), rng.integers(0, K, int(pos.sum()))] = 1
    bp = rng.standard_normal((A, D)).astype(dtype)
    bt = rng.standard_normal((A, D)).astype(dtype)
    return x, t, bp, bt


@pytest.mark.parametrize("opts", CASES["focal_smooth_l1"].option_sets + [{"beta": 0.0}], ids=str)
@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fsl_matches_reference(opts, backend, dtype, reduction, rng):
    arrays = _fsl_inputs(rng, dtype=dtype)
    soft = list(arrays)
    soft[1] = np.where(arrays[1] > 0, rng.uniform(0.2, 1, arrays[1].shape), 0).astype(dtype)
    for arr in (arrays, soft):
        a64 = [a.astype(np.float64) for a in arr]
        v_ref, (gc_ref, gb_ref) = pl.focal_smooth_l1.value_and_grad(*a64, backend="numpy",
                                                                   reduction=reduction, **opts)
        v, (gc, gb) = pl.focal_smooth_l1.value_and_grad(*arr, backend=backend,
                                                        reduction=reduction, **opts)
        assert gc.dtype == dtype and gb.dtype == dtype
        np.testing.assert_allclose(v, v_ref, **TOL[dtype])
        np.testing.assert_allclose(gc, gc_ref, **TOL[dtype])
        np.testing.assert_allclose(gb, gb_ref, **TOL[dtype])
        if reduction == "none":
            np.testing.assert_allclose(np.sum(v), pl.focal_smooth_l1(*arr, reduction="sum",
                                                                     backend=backend, **opts),
                                       rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("opts", CASES["focal_smooth_l1"].option_sets, ids=str)
@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_fsl_finite_differences(opts, backend, reduction, rng):
    x, t, bp, bt = _fsl_inputs(rng, A=6, K=3)
    t[0, 1] = 0.6                                    # a soft target too
    beta = opts.get("beta", 1.0 / 9.0)
    r = bp - bt
    bp = np.where(np.abs(np.abs(r) - beta) < 1e-3, bp + 0.01, bp)   # off the kink

    def f_cls(z):
        return float(np.sum(pl.focal_smooth_l1(z, t, bp, bt, backend=backend,
                                               reduction=reduction, **opts)))

    def f_box(z):
        return float(np.sum(pl.focal_smooth_l1(x, t, z, bt, backend=backend,
                                               reduction=reduction, **opts)))
    gc, gb = pl.focal_smooth_l1.grad(x, t, bp, bt, backend=backend, reduction=reduction, **opts)
    # atol: the central difference of a sum of size ~10 carries ~1e-16*10/1e-6
    np.testing.assert_allclose(gc, _fd(f_cls, x.copy()), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gb, _fd(f_box, bp.copy()), rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(A=st.integers(0, 30), K=st.integers(1, 12), D=st.sampled_from([1, 4]),
       alpha=st.sampled_from([-1.0, 0.0, 0.25, 0.9]), gamma=st.sampled_from([0.0, 0.3, 1.0, 2.0, 4.5]),
       beta=st.sampled_from([0.0, 1 / 9, 2.0]), scale=st.sampled_from([0.5, 5.0, 50.0]),
       seed=st.integers(0, 2**32 - 1))
def test_fsl_hypothesis(A, K, D, alpha, gamma, beta, scale, seed):
    rng = np.random.default_rng(seed)
    x, t, bp, bt = _fsl_inputs(rng, A, K, D)
    x *= scale / 3.0
    opts = dict(alpha=alpha, gamma=gamma, beta=beta)
    for red in ("mean", "none"):
        v_ref, (gc_ref, gb_ref) = pl.focal_smooth_l1.value_and_grad(x, t, bp, bt, backend="numpy",
                                                                   reduction=red, **opts)
        for b in FAST:
            v, (gc, gb) = pl.focal_smooth_l1.value_and_grad(x, t, bp, bt, backend=b,
                                                            reduction=red, **opts)
            np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=1e-13)
            np.testing.assert_allclose(gc, gc_ref, rtol=1e-7, atol=1e-13)
            np.testing.assert_allclose(gb, gb_ref, rtol=1e-12, atol=1e-15)
            assert np.all(np.isfinite(gc))


def test_fsl_stable_when_pt_goes_to_one():
    # p_t -> 1: x = +-1e4 with matching targets; gamma < 1 must not give inf/nan
    x = np.array([[1e4, -1e4, 40.0, -40.0, 90.0, -110.0]])
    t = np.array([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]])
    bp = bt = np.zeros((1, 4))
    for b in pl.backends():
        for dt in (np.float32, np.float64):
            for gamma in (0.0, 0.2, 0.5, 1.0, 2.0, 3.0):
                v, (gc, gb) = pl.focal_smooth_l1.value_and_grad(
                    x.astype(dt), t.astype(dt), bp.astype(dt), bt.astype(dt), gamma=gamma,
                    backend=b)
                assert np.isfinite(v) and np.all(np.isfinite(gc)), (b, dt, gamma)
                assert abs(float(v)) < 1e-6 and np.all(np.abs(gc) < 1e-3)


@pytest.mark.parametrize("backend", pl.backends())
def test_fsl_input_rules(backend, rng):
    x, t, bp, bt = _fsl_inputs(rng)
    v0, (gc0, gb0) = pl.focal_smooth_l1.value_and_grad(x, t, bp, bt, backend=backend)
    v, (gc, gb) = pl.focal_smooth_l1.value_and_grad(np.asfortranarray(x), t.astype(np.int64),
                                                    bp[::-1][::-1], np.asfortranarray(bt),
                                                    backend=backend)
    assert v == v0
    np.testing.assert_array_equal(gc, gc0)
    np.testing.assert_array_equal(gb, gb0)
    # out= (also aliasing the inputs)
    o = (np.empty_like(x), np.empty_like(bp))
    g = pl.focal_smooth_l1.grad(x, t, bp, bt, backend=backend, out=o)
    assert g[0] is o[0] and g[1] is o[1]
    np.testing.assert_array_equal(o[0], gc0)
    xa, bpa = x.copy(), bp.copy()
    pl.focal_smooth_l1.grad(xa, t, bpa, bt, backend=backend, out=(xa, bpa))
    np.testing.assert_array_equal(xa, gc0)
    np.testing.assert_array_equal(bpa, gb0)
    with pytest.raises(TypeError, match="out"):
        pl.focal_smooth_l1.grad(x, t, bp, bt, backend=backend, out=np.empty_like(x))
    with pytest.raises(ValueError, match="out"):
        pl.focal_smooth_l1.grad(x, t, bp, bt, backend=backend, out=(np.empty_like(bp), np.empty_like(bp)))
    # no positives: mean divides by max(1, 0) = 1; box terms vanish
    z = np.zeros_like(t)
    np.testing.assert_allclose(pl.focal_smooth_l1(x, z, bp, bt, backend=backend),
                               pl.focal_smooth_l1(x, z, bp, bt, backend=backend, reduction="sum"))
    assert np.all(pl.focal_smooth_l1.grad(x, z, bp, bt, backend=backend)[1] == 0)
    # zero anchors
    e = np.zeros((0, 5))
    assert pl.focal_smooth_l1(e, e, np.zeros((0, 4)), np.zeros((0, 4)), backend=backend) == 0
    assert pl.focal_smooth_l1(e, e, np.zeros((0, 4)), np.zeros((0, 4)), backend=backend,
                              reduction="none").shape == (0,)
    # mixed dtypes: compute in float64, gradients in each input's dtype
    v, (gc, gb) = pl.focal_smooth_l1.value_and_grad(x.astype(np.float32), t, bp, bt, backend=backend)
    assert np.asarray(v).dtype == np.float64 and gc.dtype == np.float32 and gb.dtype == np.float64
    v16 = pl.focal_smooth_l1(x.astype(np.float16), t, bp.astype(np.float16), bt, backend=backend)
    assert np.asarray(v16).dtype == np.float64


def test_fsl_errors():
    x, t, bp, bt = _fsl_inputs(np.random.default_rng(0))
    with pytest.raises(ValueError, match="gamma"):
        pl.focal_smooth_l1(x, t, bp, bt, gamma=-0.5)
    with pytest.raises(ValueError, match="beta"):
        pl.focal_smooth_l1(x, t, bp, bt, beta=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        pl.focal_smooth_l1(x, t, bp, bt, alpha=float("nan"))
    with pytest.raises(ValueError, match="cls_target"):
        pl.focal_smooth_l1(x, t[:-1], bp, bt)
    with pytest.raises(ValueError, match="box_pred"):
        pl.focal_smooth_l1(x, t, bp[:-1], bt[:-1])
    with pytest.raises(ValueError, match="box_target"):
        pl.focal_smooth_l1(x, t, bp, bt[:, :3])
    with pytest.raises(ValueError, match="cls_logits"):
        pl.focal_smooth_l1(x[0], t[0], bp, bt)
    with pytest.raises(TypeError, match="cls_logits"):
        pl.focal_smooth_l1(x.astype(int), t, bp, bt)


def test_fsl_deterministic_across_threads(rng):
    arrays = _fsl_inputs(rng, A=40000, K=8, dtype=np.float32, frac=0.02)
    old = pl.get_num_threads()
    try:
        res = []
        for n in (1, 2, 3):
            pl.set_num_threads(n)
            res.append([pl.focal_smooth_l1.value_and_grad(*arrays, backend=b) for b in FAST])
    finally:
        pl.set_num_threads(old)
    for other in res[1:]:
        for (v0, g0), (v1, g1) in zip(res[0], other):
            assert v0 == v1
            np.testing.assert_array_equal(g0[0], g1[0])
            np.testing.assert_array_equal(g0[1], g1[1])


@pytest.mark.parametrize("name", ["dice_bce", "focal_smooth_l1"])
def test_hand_values(name):
    for arrays, opts, red, expected, why in CASES[name].hand:
        for b in pl.backends():
            np.testing.assert_allclose(pl.get(name)(*arrays, reduction=red, backend=b, **opts),
                                       expected, rtol=1e-12, err_msg=why)


@pytest.mark.torch
@pytest.mark.parametrize("opts", CASES["focal_smooth_l1"].option_sets + [{"beta": 0.0}], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fsl_matches_torch(opts, reduction, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, t, bp, bt = _fsl_inputs(rng)
    alpha, gamma, beta = opts.get("alpha", 0.25), opts.get("gamma", 2.0), opts.get("beta", 1 / 9)
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t)
    bpt, btt = torch.tensor(bp, requires_grad=True), torch.tensor(bt)
    # torchvision.ops.sigmoid_focal_loss, written out
    p = torch.sigmoid(xt)
    ce = F.binary_cross_entropy_with_logits(xt, tt, reduction="none")
    p_t = p * tt + (1 - p) * (1 - tt)
    fl = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        fl = (alpha * tt + (1 - alpha) * (1 - tt)) * fl
    pos = (tt > 0).any(1)
    sl = F.smooth_l1_loss(bpt, btt, beta=beta, reduction="none") * pos[:, None]
    per = fl.sum(1) + sl.sum(1)
    npos = max(1, int(pos.sum()))
    red = {"mean": per.sum() / npos, "sum": per.sum(), "none": per.sum()}[reduction]
    red.backward()
    want = per.detach().numpy() if reduction == "none" else red.item()
    for b in pl.backends():
        v, (gc, gb) = pl.focal_smooth_l1.value_and_grad(x, t, bp, bt, reduction=reduction,
                                                        backend=b, **opts)
        np.testing.assert_allclose(v, want, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(gc, xt.grad.numpy(), rtol=1e-8, atol=1e-13)
        np.testing.assert_allclose(gb, bpt.grad.numpy(), rtol=1e-10, atol=1e-13)
