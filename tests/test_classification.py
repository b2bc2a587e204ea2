"""Classification family: every kernel against the NumPy reference, finite
differences, PyTorch/torchvision, equalities between losses, SPEC 2/3a rules."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyloss as pl
from conftest import CASES

BACKENDS = pl.backends()
FAST = [b for b in BACKENDS if b != "numpy"]
NAMES = ["cross_entropy", "softmax_focal", "binary_cross_entropy",
         "binary_cross_entropy_with_logits", "sigmoid_focal"]
REDS = ("mean", "sum", "none")


def tol(dtype):
    return (2e-5, 2e-6) if np.dtype(dtype) == np.float32 else (1e-11, 1e-13)


def close(a, b, dtype, scale=1.0):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol * scale)


# ------------------------------------------------------------------ vs reference

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9,), (70, 3)])
def test_matches_reference(name, backend, dtype, shape, rng):
    case = CASES[name]
    loss = pl.get(name)
    for extra in case.option_sets:
        arrays, opts = case.make(rng, shape, dtype)
        opts = {**opts, **extra}
        ref_in = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a for a in arrays]
        for red in REDS:
            v, g = loss.value_and_grad(*arrays, reduction=red, backend=backend, **opts)
            vr, gr = loss.value_and_grad(*ref_in, reduction=red, backend="numpy", **opts)
            assert g.dtype == dtype and g.shape == arrays[0].shape
            assert np.asarray(v).dtype == dtype
            close(v, vr, dtype)
            close(g, gr, dtype)
            np.testing.assert_array_equal(loss(*arrays, reduction=red, backend=backend, **opts), v)
            np.testing.assert_array_equal(loss.grad(*arrays, reduction=red, backend=backend, **opts), g)
            if loss.has_hessian:
                h = loss.hessian(*arrays, reduction=red, backend=backend, **opts)
                hr = loss.hessian(*ref_in, reduction=red, backend="numpy", **opts)
                close(h, hr, dtype, scale=max(1.0, float(np.max(np.abs(hr)))))


CE_SHAPES = [(5, 1), (4, 3), (33, 7), (3, 31), (3, 32), (5, 40), (2, 1000),
             (3, 5, 4), (2, 4, 3, 5), (2, 3, 70), (6,)]


def _ce_inputs(rng, shape, dtype, ignore=True, spread=3.0):
    z = (rng.standard_normal(shape) * spread).astype(dtype)
    C = shape[0] if len(shape) == 1 else shape[1]
    rs = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, C, rs)
    if ignore and t.size > 1:
        t.flat[1] = -100
    return z, t, C


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_layouts(backend, dtype, shape, rng):
    """Contiguous rows, narrow rows (tiles), (N, C, d...) with a class stride, unbatched."""
    z, t, C = _ce_inputs(rng, shape, dtype)
    w = rng.uniform(0.2, 2.0, C)
    p = rng.random(shape)
    p /= p.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    # every combination of class weights and label smoothing, both target kinds
    # (the C kernels have separate bodies for some and share one for others)
    combos = [{}, {"weight": w}, {"label_smoothing": 0.2}, {"weight": w, "label_smoothing": 0.2}]
    for tgt, opts in [(tg, o) for tg in (t, p.astype(dtype)) for o in combos]:
        for red in REDS:
            v, g = pl.cross_entropy.value_and_grad(z, tgt, reduction=red, backend=backend, **opts)
            vr, gr = pl.cross_entropy.value_and_grad(z.astype(np.float64), tgt, reduction=red,
                                                     backend="numpy", **opts)
            close(v, vr, dtype)
            close(g, gr, dtype)
            # the value-only body equals the fused one
            np.testing.assert_array_equal(pl.cross_entropy(z, tgt, reduction=red, backend=backend,
                                                           **opts), v)
            h = pl.cross_entropy.hessian(z, tgt, reduction=red, backend=backend, **opts)
            hr = pl.cross_entropy.hessian(z.astype(np.float64), tgt, reduction=red, backend="numpy", **opts)
            close(h, hr, dtype)
    for red in REDS:
        for opts in [{}, {"gamma": 0.7, "alpha": w}]:
            v, g = pl.softmax_focal.value_and_grad(z, t, reduction=red, backend=backend, **opts)
            vr, gr = pl.softmax_focal.value_and_grad(z.astype(np.float64), t, reduction=red,
                                                     backend="numpy", **opts)
            close(v, vr, dtype)
            close(g, gr, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_hand_values(name):
    for arrays, opts, red, expected, why in CASES[name].hand:
        for b in BACKENDS:
            np.testing.assert_allclose(pl.get(name)(*arrays, reduction=red, backend=b, **opts),
                                       expected, rtol=1e-12, err_msg=why)


def test_docstring_examples():
    z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    assert round(float(pl.cross_entropy(z, np.array([0, 2]))), 6) == 0.634229
    assert round(float(pl.cross_entropy(z, np.array([0, -100]))), 6) == 0.169846
    assert round(float(pl.softmax_focal(z, np.array([0, 2]))), 6) == 0.246208
    assert round(float(pl.binary_cross_entropy([0.9, 0.2], [1.0, 0.0])), 6) == 0.164252
    assert round(float(pl.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0])), 6) == 0.220095
    assert round(float(pl.sigmoid_focal([2.0, -1.0], [1.0, 0.0])), 6) == 0.008722


# ------------------------------------------------------------------ finite differences

def _fd(f, x, h=1e-6):
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp = x.copy(); xp[i] += h
        xm = x.copy(); xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("red", ["mean", "sum"])
def test_finite_differences(name, red, rng):
    case = CASES[name]
    loss = pl.get(name)
    for extra in case.option_sets:
        arrays, opts = case.make(rng, (4, 2), np.float64)
        opts = {**opts, **extra}
        x = np.array(arrays[0], np.float64)
        rest = arrays[1:]
        for b in BACKENDS:
            g = loss.grad(x, *rest, reduction=red, backend=b, **opts)
            fd = _fd(lambda y: float(loss(y, *rest, reduction=red, backend="numpy", **opts)), x)
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7, err_msg=f"{b} {extra}")
            if loss.has_hessian:
                h = loss.hessian(x, *rest, reduction=red, backend=b, **opts)
                # diagonal: d(grad_i)/d(x_i)
                hd = np.empty_like(x)
                for i in np.ndindex(x.shape):
                    xp = x.copy(); xp[i] += 1e-5
                    xm = x.copy(); xm[i] -= 1e-5
                    hd[i] = (loss.grad(xp, *rest, reduction=red, backend="numpy", **opts)[i]
                             - loss.grad(xm, *rest, reduction=red, backend="numpy", **opts)[i]) / 2e-5
                np.testing.assert_allclose(h, hd, rtol=1e-5, atol=1e-7, err_msg=f"{b} {extra}")


# ------------------------------------------------------------------ hypothesis

@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), c=st.integers(1, 45), d=st.sampled_from([(), (1,), (3,), (2, 2)]),
       spread=st.sampled_from([0.1, 3.0, 100.0]), eps=st.sampled_from([0.0, 0.3]),
       weighted=st.booleans(), seed=st.integers(0, 2**31), f32=st.booleans(),
       red=st.sampled_from(REDS))
def test_hypothesis_cross_entropy(n, c, d, spread, eps, weighted, seed, f32, red):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if f32 else np.float64
    shape = (n, c) + d
    z, t, C = _ce_inputs(rng, shape, dtype, spread=spread)
    w = rng.uniform(0.1, 2.0, C) if weighted else None
    for b in FAST:
        v, g = pl.cross_entropy.value_and_grad(z, t, weight=w, label_smoothing=eps, reduction=red, backend=b)
        vr, gr = pl.cross_entropy.value_and_grad(z.astype(np.float64), t, weight=w, label_smoothing=eps,
                                                 reduction=red, backend="numpy")
        close(v, vr, dtype, scale=spread)
        close(g, gr, dtype)
        v, g = pl.softmax_focal.value_and_grad(z, t, gamma=1.5, reduction=red, backend=b)
        vr, gr = pl.softmax_focal.value_and_grad(z.astype(np.float64), t, gamma=1.5, reduction=red,
                                                 backend="numpy")
        close(v, vr, dtype, scale=spread)
        close(g, gr, dtype)


@settings(max_examples=40, deadline=None)
@given(x=st.lists(st.floats(-80, 80), min_size=1, max_size=30), seed=st.integers(0, 2**31),
       gamma=st.sampled_from([0.0, 0.25, 1.0, 2.0, 2.5, 5.0]), alpha=st.sampled_from([-1.0, 0.25, 0.8]))
def test_hypothesis_binary(x, seed, gamma, alpha):
    rng = np.random.default_rng(seed)
    x = np.array(x)
    t = rng.choice([0.0, 1.0, 0.3], x.shape)
    pw = rng.uniform(0, 3, x.shape)
    for b in FAST:
        for dtype in (np.float32, np.float64):
            xx, tt = x.astype(dtype), t.astype(dtype)
            for loss, opts in [(pl.sigmoid_focal, {"gamma": gamma, "alpha": alpha}),
                               (pl.binary_cross_entropy_with_logits, {"pos_weight": pw})]:
                for op in ("value_and_grad", "hessian"):
                    got = getattr(loss, op)(xx, tt, reduction="sum", backend=b, **opts)
                    exp = getattr(loss, op)(x, t, reduction="sum", backend="numpy", **opts)
                    for a, e in zip(got if op == "value_and_grad" else [got],
                                    exp if op == "value_and_grad" else [exp]):
                        assert np.all(np.isfinite(a))
                        rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-10, 1e-12)
                        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * max(1, np.max(np.abs(e))))


# ------------------------------------------------------------------ equalities

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("red", REDS)
def test_focal_gamma0_is_cross_entropy(backend, red, rng):
    z, t, _ = _ce_inputs(rng, (20, 7, 3), np.float64)
    v1, g1 = pl.softmax_focal.value_and_grad(z, t, gamma=0.0, alpha=None, reduction=red, backend=backend)
    v2, g2 = pl.cross_entropy.value_and_grad(z, t, reduction=red, backend=backend)
    np.testing.assert_allclose(v1, v2, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g1, g2, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("red", REDS)
def test_sigmoid_focal_gamma0_is_bce_with_logits(backend, red, rng):
    x = rng.standard_normal((30, 4)) * 5
    t = (rng.random((30, 4)) < 0.5).astype(float)
    a = pl.sigmoid_focal.value_and_grad(x, t, gamma=0.0, alpha=-1.0, reduction=red, backend=backend)
    b = pl.binary_cross_entropy_with_logits.value_and_grad(x, t, reduction=red, backend=backend)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        pl.sigmoid_focal.hessian(x, t, gamma=0.0, alpha=-1.0, reduction=red, backend=backend),
        pl.binary_cross_entropy_with_logits.hessian(x, t, reduction=red, backend=backend), rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.6, 1.0])
def test_label_smoothing_is_smoothed_probabilities(backend, red, eps, rng):
    z, t, C = _ce_inputs(rng, (25, 9), np.float64, ignore=False)
    v1, g1 = pl.cross_entropy.value_and_grad(z, t, label_smoothing=eps, reduction=red, backend=backend)
    v2, g2 = pl.cross_entropy.value_and_grad(z, pl.smooth_labels(t, C, epsilon=eps), reduction=red,
                                             backend=backend)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)
    h1 = pl.cross_entropy.hessian(z, t, label_smoothing=eps, reduction=red, backend=backend)
    h2 = pl.cross_entropy.hessian(z, pl.smooth_labels(t, C, epsilon=eps), reduction=red, backend=backend)
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ PyTorch

def _torch_ce(torch, z, t, red, **kw):
    zt = torch.tensor(z, requires_grad=True)
    tt = torch.tensor(t)
    if "weight" in kw and kw["weight"] is not None:
        kw["weight"] = torch.tensor(kw["weight"])
    L = torch.nn.functional.cross_entropy(zt, tt, reduction=red, **kw)
    L.sum().backward()
    return L.detach().numpy(), zt.grad.numpy()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 3), (3, 4, 2, 3), (40, 1000)])
@pytest.mark.parametrize("red", REDS)
def test_cross_entropy_vs_torch(backend, shape, red, rng):
    torch = pytest.importorskip("torch")
    for dtype in (np.float64, np.float32):
        z, t, C = _ce_inputs(rng, shape, dtype)
        t.flat[-1] = 3
        w = rng.uniform(0.2, 2.0, C).astype(dtype)
        p = rng.random(shape)
        p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
        for tgt in (t, p):
            for opts in [{}, {"weight": w}, {"label_smoothing": 0.15},
                         {"weight": w, "label_smoothing": 0.3}, {"ignore_index": 3}]:
                if "ignore_index" in opts:
                    if tgt is p:
                        continue
                    tgt = np.where(t == -100, 3, t)
                vt, gt = _torch_ce(torch, z, tgt, red, **opts)
                v, g = pl.cross_entropy.value_and_grad(z, tgt, reduction=red, backend=backend, **opts)
                rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-10, 1e-12)
                np.testing.assert_allclose(v, vt, rtol=rtol, atol=atol, err_msg=str(opts))
                np.testing.assert_allclose(g, gt, rtol=rtol, atol=atol, err_msg=str(opts))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_all_ignored_vs_torch(backend):
    torch = pytest.importorskip("torch")
    z = np.random.default_rng(0).standard_normal((4, 3))
    t = np.full(4, -100)
    for eps in (0.0, 0.2):
        vt, gt = _torch_ce(torch, z, t, "mean", label_smoothing=eps)
        v, g = pl.cross_entropy.value_and_grad(z, t, label_smoothing=eps, backend=backend)
        assert np.isnan(v) and np.isnan(vt)
        np.testing.assert_array_equal(g, 0.0)
        np.testing.assert_array_equal(gt, 0.0)
        assert pl.cross_entropy(z, t, reduction="sum", backend=backend) == 0.0
        np.testing.assert_array_equal(pl.cross_entropy.hessian(z, t, backend=backend), 0.0)
        np.testing.assert_array_equal(pl.cross_entropy(z, t, reduction="none", backend=backend), 0.0)
    v, g = pl.softmax_focal.value_and_grad(z, t, backend=backend)
    assert np.isnan(v)
    np.testing.assert_array_equal(g, 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_binary_vs_torch(backend, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((50, 4)) * 5
    x[0, :2] = [1e4, -1e4]
    t = (rng.random((50, 4)) < 0.4).astype(float)
    t[1] = rng.random(4)
    pw = rng.uniform(0, 3, 4)
    w = rng.uniform(0, 2, (50, 4))
    p = 1 / (1 + np.exp(-np.clip(x, -50, 50) / 5))
    p[0, :2] = [0.0, 1.0]
    for dtype in (np.float64, np.float32):
        rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
        xd, td, pd = x.astype(dtype), t.astype(dtype), p.astype(dtype)
        for red in REDS:
            xt = torch.tensor(xd, requires_grad=True)
            L = F.binary_cross_entropy_with_logits(xt, torch.tensor(td), pos_weight=torch.tensor(pw.astype(dtype)),
                                                   reduction=red)
            L.sum().backward()
            v, g = pl.binary_cross_entropy_with_logits.value_and_grad(xd, td, pos_weight=pw.astype(dtype),
                                                                       reduction=red, backend=backend)
            np.testing.assert_allclose(v, L.detach().numpy(), rtol=rtol, atol=atol)
            np.testing.assert_allclose(g, xt.grad.numpy(), rtol=rtol, atol=atol)
            pt = torch.tensor(pd, requires_grad=True)
            L = F.binary_cross_entropy(pt, torch.tensor(td), reduction=red)
            L.sum().backward()
            v, g = pl.binary_cross_entropy.value_and_grad(pd, td, reduction=red, backend=backend)
            np.testing.assert_allclose(v, L.detach().numpy(), rtol=rtol, atol=atol)
            np.testing.assert_allclose(g, pt.grad.numpy(), rtol=1e-6 if dtype == np.float64 else rtol)
        # weighted: "sum" divided by the count reproduces PyTorch's weighted mean (SPEC 3a)
        L = F.binary_cross_entropy_with_logits(torch.tensor(xd), torch.tensor(td), weight=torch.tensor(w.astype(dtype)))
        v = pl.binary_cross_entropy_with_logits(xd, td, weight=w.astype(dtype), reduction="sum", backend=backend)
        np.testing.assert_allclose(v / x.size, L.numpy(), rtol=rtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.3])
@pytest.mark.parametrize("alpha", [0.25, -1.0])
def test_sigmoid_focal_vs_torchvision_formula(backend, gamma, alpha, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def tv(x, t):  # torchvision.ops.sigmoid_focal_loss, written out
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        p_t = p * t + (1 - p) * (1 - t)
        loss = ce * ((1 - p_t) ** gamma)
        if alpha >= 0:
            loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
        return loss

    x = rng.standard_normal((40, 3)) * 4
    x[0] = [30.0, -30.0, 0.0]
    t = (rng.random((40, 3)) < 0.3).astype(float)
    t[0] = [0.0, 1.0, 0.5]
    xt = torch.tensor(x, requires_grad=True)
    L = tv(xt, torch.tensor(t))
    L.mean().backward()
    v, g = pl.sigmoid_focal.value_and_grad(x, t, alpha=alpha, gamma=gamma, backend=backend)
    np.testing.assert_allclose(v, L.mean().item(), rtol=1e-12)
    gt = xt.grad.numpy()
    ok = np.isfinite(gt)  # torch's autograd is NaN at p_t = 1 for gamma < 1; ours is finite
    np.testing.assert_allclose(g[ok], gt[ok], rtol=1e-9, atol=1e-15)
    assert np.all(np.isfinite(g))
    vn = pl.sigmoid_focal(x, t, alpha=alpha, gamma=gamma, reduction="none", backend=backend)
    np.testing.assert_allclose(vn, L.detach().numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_focal_vs_torch_formula(backend, rng):
    torch = pytest.importorskip("torch")
    z, t, C = _ce_inputs(rng, (30, 5, 2), np.float64)
    alpha = rng.uniform(0.1, 1.0, C)
    for gamma in (0.0, 0.5, 2.0, 4.5):
        zt = torch.tensor(z, requires_grad=True)
        tt = torch.tensor(t)
        valid = tt != -100
        logp = torch.log_softmax(zt, 1)
        lpt = torch.gather(logp, 1, torch.where(valid, tt, 0)[:, None])[:, 0]
        at = torch.tensor(alpha)[torch.where(valid, tt, 0)]
        lt = torch.where(valid, -at * (1 - lpt.exp()) ** gamma * lpt, 0.0)
        (lt.sum() / valid.sum()).backward()
        v, g = pl.softmax_focal.value_and_grad(z, t, alpha=alpha, gamma=gamma, backend=backend)
        np.testing.assert_allclose(v, (lt.sum() / valid.sum()).item(), rtol=1e-12)
        np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-8, atol=1e-14)


# ------------------------------------------------------------------ SPEC rules

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits(backend, dtype, rng):
    z = rng.uniform(-1e4, 1e4, (64, 10)).astype(dtype)
    z[0] = 1e4
    z[1, 3] = 1e4
    z[1, :3] = -1e4
    t = rng.integers(0, 10, 64)
    for opts in [{}, {"label_smoothing": 0.1}]:
        v, g = pl.cross_entropy.value_and_grad(z, t, reduction="none", backend=backend, **opts)
        vr, gr = pl.cross_entropy.value_and_grad(z.astype(np.float64), t, reduction="none",
                                                 backend="numpy", **opts)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
        np.testing.assert_allclose(v, vr, rtol=tol(dtype)[0], atol=1e-3 if dtype == np.float32 else 1e-9)
        np.testing.assert_allclose(g, gr, atol=1e-6 if dtype == np.float32 else 1e-14)
    for gamma in (0.0, 0.3, 2.0, 5.0):
        v, g = pl.softmax_focal.value_and_grad(z, t, gamma=gamma, reduction="none", backend=backend)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    x = rng.uniform(-1e4, 1e4, 200).astype(dtype)
    x[:4] = [1e4, -1e4, 1e4, -1e4]
    tb = (rng.random(200) < 0.5).astype(dtype)
    tb[:4] = [1, 0, 0, 1]
    for gamma in (0.0, 0.3, 2.0, 4.7):
        for op in ("value_and_grad", "hessian"):
            r = getattr(pl.sigmoid_focal, op)(x, tb, gamma=gamma, reduction="none", backend=backend)
            for a in (r if isinstance(r, tuple) else (r,)):
                assert np.all(np.isfinite(a))
    r = pl.binary_cross_entropy_with_logits(x, tb, reduction="none", backend=backend)
    np.testing.assert_allclose(r[:4], [0.0, 0.0, 1e4, 1e4], atol=1e-30)


@pytest.mark.parametrize("backend", BACKENDS)
def test_focal_stable_at_pt_one(backend):
    z = np.array([[50.0, 0.0, 0.0], [1e4, -1e4, 0.0], [745.0, 0.0, 0.0]])
    t = np.array([0, 0, 0])
    for gamma in (0.0, 0.1, 0.5, 0.999, 1.0, 1.5, 2.0, 5.0):
        v, g = pl.softmax_focal.value_and_grad(z, t, gamma=gamma, reduction="none", backend=backend)
        assert np.all(np.isfinite(v)) and np.all(np.isfinite(g)), gamma
        assert np.all(v >= 0)
    x = np.array([50.0, 800.0, -800.0])
    tb = np.array([1.0, 1.0, 0.0])
    for gamma in (0.1, 0.5, 1.0, 2.0, 5.0):
        for op in ("grad", "hessian"):
            assert np.all(np.isfinite(getattr(pl.sigmoid_focal, op)(x, tb, gamma=gamma, backend=backend)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_class_index(backend):
    z = np.zeros((3, 4))
    out = np.full((3, 4), 7.0)
    for loss in (pl.cross_entropy, pl.softmax_focal):
        for bad, pos in [(4, "(1,)"), (-1, "(1,)"), (-101, "(1,)")]:
            t = np.array([0, bad, 2])
            with pytest.raises(ValueError, match=f"{bad}.*{pos}".replace("(", r"\(").replace(")", r"\)")):
                loss.grad(z, t, backend=backend, out=out)
            np.testing.assert_array_equal(out, 7.0)
        z3 = np.zeros((2, 4, 3))
        t3 = np.zeros((2, 3), np.int64)
        t3[1, 2] = 9
        with pytest.raises(ValueError, match=r"9 at position \(1, 2\)"):
            loss(z3, t3, backend=backend)
    # ignore_index itself is fine even when outside [0, C)
    pl.cross_entropy(z, np.array([0, -7, 1]), ignore_index=-7, backend=backend)


def test_option_validation():
    z, t = np.zeros((2, 3)), np.array([0, 1])
    for eps in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="label_smoothing"):
            pl.cross_entropy(z, t, label_smoothing=eps)
    with pytest.raises(ValueError, match="gamma"):
        pl.softmax_focal(z, t, gamma=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        pl.sigmoid_focal(z, z, gamma=-0.5)
    with pytest.raises(ValueError, match="weight"):
        pl.cross_entropy(z, t, weight=np.ones(4))
    with pytest.raises(ValueError, match="alpha"):
        pl.softmax_focal(z, t, alpha=np.ones(2))
    with pytest.raises(ValueError, match="target"):
        pl.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target"):
        pl.cross_entropy(z, np.zeros((2, 4)))
    with pytest.raises(TypeError, match="target"):
        pl.softmax_focal(z, np.zeros(2))
    with pytest.raises(TypeError, match="logits"):
        pl.cross_entropy(np.zeros((2, 3), int), t)
    with pytest.raises(ValueError, match="probabilities"):
        pl.binary_cross_entropy([0.5, 1.5], [0.0, 1.0])
    with pytest.raises(ValueError, match="probabilities"):
        pl.binary_cross_entropy([-0.1, 0.5], [0.0, 1.0])
    with pytest.raises(ValueError, match="reduction"):
        pl.cross_entropy(z, t, reduction="batchmean")
    with pytest.raises(ValueError, match="out"):
        pl.cross_entropy.grad(z, t, out=np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_noncontiguous_and_out_alias(backend, rng):
    big = rng.standard_normal((20, 12, 2))
    z = big[::2, ::2, 0]                     # non-contiguous (10, 6)
    tgt = rng.integers(0, 6, 20)[::2]
    zc = np.ascontiguousarray(z)
    for loss in (pl.cross_entropy, pl.softmax_focal):
        v, g = loss.value_and_grad(z, tgt, backend=backend)
        v2, g2 = loss.value_and_grad(zc, tgt, backend=backend)
        assert v == v2
        np.testing.assert_array_equal(g, g2)
        zf = np.asfortranarray(zc)
        np.testing.assert_array_equal(loss.grad(zf, tgt, backend=backend), g2)
        zr = zc.copy()
        zr.flags.writeable = False
        np.testing.assert_array_equal(loss.grad(zr, tgt, backend=backend), g2)
        # out= aliasing the logits gives the same answer
        za = zc.copy()
        va, ga = loss.value_and_grad(za, tgt, backend=backend, out=za)
        assert ga is za and va == v2
        np.testing.assert_array_equal(za, g2)
    p = rng.random((10, 6))
    p /= p.sum(1, keepdims=True)
    pa = p.copy()
    g = pl.cross_entropy.grad(zc, p, backend=backend)
    pl.cross_entropy.grad(zc, pa, backend=backend, out=pa)
    np.testing.assert_array_equal(pa, g)
    # negative strides
    np.testing.assert_array_equal(pl.cross_entropy.grad(zc[::-1], tgt[::-1], backend=backend),
                                  pl.cross_entropy.grad(zc[::-1].copy(), tgt[::-1].copy(), backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_float16(backend):
    for loss in (pl.cross_entropy, pl.softmax_focal):
        z = np.zeros((0, 4))
        t = np.zeros(0, np.int64)
        with np.errstate(all="raise"):
            v, g = loss.value_and_grad(z, t, backend=backend)
        assert np.isnan(v) and g.shape == (0, 4)
        assert loss(z, t, reduction="sum", backend=backend) == 0
        assert loss(z, t, reduction="none", backend=backend).shape == (0,)
        z16 = np.array([[1.0, 2.0, 0.5]], np.float16)
        v, g = loss.value_and_grad(z16, np.array([1]), backend=backend)
        assert v.dtype == np.float32 and g.dtype == np.float32
    v, g = pl.sigmoid_focal.value_and_grad(np.array([0.5], np.float16), np.array([1.0]), backend=backend)
    assert g.dtype == np.float32


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_propagates(backend):
    z = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    v = pl.cross_entropy(z, np.array([0, 1]), reduction="none", backend=backend)
    assert np.isnan(v[0]) and np.isfinite(v[1])
    g = pl.cross_entropy.grad(z, np.array([0, 1]), backend=backend)
    assert np.all(np.isnan(g[0])) and np.all(np.isfinite(g[1]))


@pytest.mark.parametrize("backend", FAST)
def test_deterministic_across_threads(backend, rng):
    z = rng.standard_normal((300, 500)).astype(np.float32)
    t = rng.integers(0, 500, 300)
    z2 = rng.standard_normal((40, 7, 700)).astype(np.float32)
    t2 = rng.integers(0, 7, (40, 700))
    res = []
    old = pl.get_num_threads()
    try:
        for n in (1, 2):
            pl.set_num_threads(n)
            res.append([pl.cross_entropy.value_and_grad(z, t, backend=backend, label_smoothing=0.1),
                        pl.cross_entropy.value_and_grad(z2, t2, backend=backend),
                        pl.softmax_focal.value_and_grad(z, t, backend=backend)])
    finally:
        pl.set_num_threads(old)
    for (va, ga), (vb, gb) in zip(*res):
        assert va == vb
        np.testing.assert_array_equal(ga, gb)


@pytest.mark.parametrize("backend", BACKENDS)
def test_torch_tensor_input(backend):
    torch = pytest.importorskip("torch")
    z = torch.randn(5, 4, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 3, -100])
    np.testing.assert_allclose(pl.cross_entropy(z, t, backend=backend),
                               torch.nn.functional.cross_entropy(z, t).item(), rtol=1e-12)


# ------------------------------------------------------------------ smooth_labels

def test_smooth_labels():
    y = pl.smooth_labels(np.array([0, 2]), 3, epsilon=0.3)
    np.testing.assert_allclose(y, [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    assert y.dtype == np.float64
    assert pl.smooth_labels([1], 4, dtype=np.float32).dtype == np.float32
    np.testing.assert_allclose(pl.smooth_labels(np.array([1]), 4).sum(), 1.0)
    oh = np.eye(4, dtype=np.float32)[[1, 3]]
    s = pl.smooth_labels(oh, 4, epsilon=0.2)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, 0.8 * oh + 0.05, rtol=1e-6)
    np.testing.assert_allclose(pl.smooth_labels(np.array([[0, 1], [2, 0]]), 3).shape, (2, 2, 3))
    np.testing.assert_allclose(pl.smooth_labels([0], 2, epsilon=0.0), [[1.0, 0.0]])
    for eps in (-0.01, 1.5, float("nan")):
        with pytest.raises(ValueError, match="epsilon"):
            pl.smooth_labels([0], 2, epsilon=eps)
    with pytest.raises(ValueError, match="3 at position"):
        pl.smooth_labels([0, 3], 3)
    with pytest.raises(ValueError, match="num_classes"):
        pl.smooth_labels(np.ones((2, 4)), 3)
    assert not isinstance(pl.smooth_labels, pl.Loss)


@pytest.mark.parametrize("name", ["cross_entropy", "softmax_focal"])
@pytest.mark.parametrize("logits_shape, target_shape", [((4, 5), (3,)), ((4, 5, 7), (4, 6)),
                                                        ((2, 3, 4, 5), (2, 4))])
def test_target_shape_error_names_both_shapes(name, logits_shape, target_shape):
    # Issue 11: the message used to name only the target's and the expected
    # shape; it now also names the logits' shape it was derived from.
    z = np.zeros(logits_shape)
    t = np.zeros(target_shape, dtype=np.int64)
    with pytest.raises(pl.PylossValueError) as info:
        pl.get(name).value_and_grad(z, t)
    msg = str(info.value)
    assert msg.startswith("target: ")
    assert str(target_shape) in msg and str(logits_shape) in msg and "logits" in msg


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_hard_label_blocks_give_the_two_log_bits(backend, dtype, rng):
    """binary_cross_entropy takes one log per element in a block whose targets
    are all 0 or 1 (the kernels check per block of 4096): the per-element
    losses, gradient and Hessian must be the bits of the two-log form.  Block
    0 is soft in one call (a 0.5 at its position 0) and hard in the other;
    positions 1..4095 must agree exactly, probabilities at the clamp edges
    (0, 1, tiny, 1 - ulp) and a -0.0 label included."""
    n = 4096 + 7
    p = rng.uniform(0.0, 1.0, n).astype(dtype)
    p[1:9] = [0.0, 1.0, np.finfo(dtype).tiny, 1 - np.finfo(dtype).eps / 2, 1e-30, 0.5, 0.999, 1e-3]
    t = (rng.random(n) < 0.4).astype(dtype)
    t[2] = -0.0
    soft = t.copy()
    soft[0] = 0.5
    for f in (lambda tt: pl.binary_cross_entropy(p, tt, reduction="none", backend=backend),
              lambda tt: pl.binary_cross_entropy.grad(p, tt, backend=backend),
              lambda tt: pl.binary_cross_entropy.hessian(p, tt, backend=backend)):
        with np.errstate(all="ignore"):
            a, b = f(t), f(soft)
        np.testing.assert_array_equal(a[1:4096], b[1:4096])
    # and both agree with the reference
    close(pl.binary_cross_entropy(p, t, backend=backend),
          pl.binary_cross_entropy(p, t, backend="numpy"), dtype)
