"""dice, iou, tversky and generalized_dice: every backend x dtype x reduction
x option set against the NumPy reference, finite-difference gradients,
hypothesis over shapes, values and the region options (include_background,
ignore_index, batch), label vs one-hot targets, awkward layouts, errors,
PyTorch autograd and MONAI's DiceLoss / TverskyLoss / GeneralizedDiceLoss."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyloss as pl
from conftest import CASES

LOSSES = ("dice", "iou", "tversky", "generalized_dice")
FAST = [b for b in pl.backends() if b != "numpy"]
REDUCTIONS = ("mean", "sum", "none")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def onehot(labels, C, dtype=np.float64):
    shape = (1, C) + (1,) * (labels.ndim - 1)
    return (labels[:, None] == np.arange(C).reshape(shape)).astype(dtype)


def inputs(rng, shape, C, from_logits, dtype=np.float64):
    N, spatial = shape[0], shape[1:]
    if from_logits is None:
        x = rng.uniform(0.01, 0.99, size=(N, C) + spatial)
    else:
        x = 2.0 * rng.standard_normal((N, C) + spatial)
    lab = rng.integers(0, C, size=(N,) + spatial)
    return x.astype(dtype), lab


def option_sets(name):
    return CASES[name].option_sets


PARAMS = [(n, o) for n in LOSSES for o in option_sets(n)]


@pytest.mark.parametrize("name,opts", PARAMS, ids=lambda v: str(v))
@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_reference(name, opts, backend, dtype, reduction, rng):
    loss = pl.get(name)
    # S = 35 runs the blocked two-pass path, S = 3 the per-sample small-S path
    for shape in ((3, 5, 7), (3, 3)):
        _check_against_reference(loss, opts, backend, dtype, reduction, rng, shape)


def _check_against_reference(loss, opts, backend, dtype, reduction, rng, shape):
    x, lab = inputs(rng, shape, 4, opts.get("from_logits"), dtype)
    for t in (onehot(lab, 4, dtype), lab):
        v_ref, g_ref = loss.value_and_grad(x.astype(np.float64), t, backend="numpy",
                                           reduction=reduction, **opts)
        v, g = loss.value_and_grad(x, t, backend=backend, reduction=reduction, **opts)
        assert np.asarray(v).dtype == dtype and g.dtype == dtype and g.shape == x.shape
        np.testing.assert_allclose(v, v_ref, **TOL[dtype])
        np.testing.assert_allclose(g, g_ref, **TOL[dtype])
        np.testing.assert_allclose(loss(x, t, backend=backend, reduction=reduction, **opts),
                                   v_ref, **TOL[dtype])
        np.testing.assert_allclose(loss.grad(x, t, backend=backend, reduction=reduction, **opts),
                                   g_ref, **TOL[dtype])
        if reduction == "none":
            assert np.shape(v) == (3,)


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


@pytest.mark.parametrize("name,opts", PARAMS, ids=lambda v: str(v))
@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradient_finite_differences(name, opts, backend, reduction, rng):
    loss = pl.get(name)
    x, lab = inputs(rng, (2, 3, 2), 3, opts.get("from_logits"))
    soft = rng.uniform(0, 1, size=x.shape)      # soft targets exercise every term
    for t in (lab, soft):
        def f(z):
            return float(np.sum(loss(z, t, backend=backend, reduction=reduction, **opts)))
        g = loss.grad(x, t, backend=backend, reduction=reduction, **opts)
        np.testing.assert_allclose(g, _fd(f, x.copy()), rtol=1e-6, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 4), C=st.integers(1, 5), spatial=st.lists(st.integers(1, 9), max_size=3),
       smooth=st.sampled_from([0.0, 1e-5, 1.0, 7.0]), act=st.sampled_from([None, "sigmoid", "softmax"]),
       name=st.sampled_from(LOSSES), squared=st.booleans(), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1.0, 10.0, 80.0]))
def test_hypothesis_shapes_and_values(N, C, spatial, smooth, act, name, squared, seed, scale):
    rng = np.random.default_rng(seed)
    shape = (N, C) + tuple(spatial)
    if act is None:
        x = rng.uniform(0, 1, shape)
    else:
        x = scale * rng.standard_normal(shape)
    lab = rng.integers(0, C, (N,) + tuple(spatial))
    opts = {"smooth": smooth, "from_logits": act}
    if name == "dice":
        opts["squared"] = squared
    loss = pl.get(name)
    v_ref, g_ref = loss.value_and_grad(x, lab, backend="numpy", reduction="none", **opts)
    for b in FAST:
        v, g = loss.value_and_grad(x, lab, backend=b, reduction="none", **opts)
        np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-7, atol=1e-12)
        v1, g1 = loss.value_and_grad(x, onehot(lab, C), backend=b, reduction="none", **opts)
        np.testing.assert_allclose(v1, v, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g1, g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", pl.backends())
def test_labels_equal_onehot(name, backend, rng):
    loss = pl.get(name)
    x, lab = inputs(rng, (4, 6, 5), 5, "softmax", np.float32)
    for lab_t in (lab, lab.astype(np.int32), lab.astype(np.uint8)):
        a = loss.value_and_grad(x, lab_t, from_logits="softmax", backend=backend)
        b = loss.value_and_grad(x, onehot(lab, 5, np.float32), from_logits="softmax", backend=backend)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", pl.backends())
def test_noncontiguous_inputs(name, backend, rng):
    loss = pl.get(name)
    x, lab = inputs(rng, (3, 6, 8), 4, "sigmoid")
    t = onehot(lab, 4)
    v0, g0 = loss.value_and_grad(x, t, from_logits="sigmoid", backend=backend, reduction="none")
    xf, tf = np.asfortranarray(x), np.asfortranarray(t)
    v, g = loss.value_and_grad(xf, tf, from_logits="sigmoid", backend=backend, reduction="none")
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-12)
    # negative strides: reversing the spatial axes changes nothing (sums)
    xr, tr = x[..., ::-1, :], t[..., ::-1, :]
    xr.flags.writeable = False
    v, g = loss.value_and_grad(xr, tr, from_logits="sigmoid", backend=backend, reduction="none")
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(g, g0[..., ::-1, :], rtol=1e-12)
    # a strided slice of a bigger array, labels too
    big = np.zeros((3, 4, 12, 8))
    big[:, :, ::2] = x
    bl = np.zeros((3, 12, 8), np.int64)
    bl[:, ::2] = lab
    v, g = loss.value_and_grad(big[:, :, ::2], bl[:, ::2], from_logits="sigmoid",
                               backend=backend, reduction="none")
    np.testing.assert_allclose(v, v0, rtol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", pl.backends())
def test_zero_size(name, backend):
    loss = pl.get(name)
    x = np.zeros((0, 3, 4))
    t = np.zeros((0, 4), np.int64)
    assert np.isnan(loss(x, t, backend=backend))
    assert loss(x, t, backend=backend, reduction="sum") == 0
    assert loss(x, t, backend=backend, reduction="none").shape == (0,)
    assert loss.grad(x, t, backend=backend).shape == (0, 3, 4)
    # no classes: the mean over zero classes is nan; nothing to differentiate
    x = np.zeros((2, 0, 4))
    if name == "generalized_dice":   # one ratio over no classes: 1 - s/s
        np.testing.assert_array_equal(loss(x, x, backend=backend, reduction="none"), [0.0, 0.0])
    else:
        assert np.all(np.isnan(loss(x, x, backend=backend, reduction="none")))
    assert loss.grad(x, x, backend=backend).shape == (2, 0, 4)
    with pytest.raises(ValueError, match=r"outside \[0, 0\)"):
        loss(x, np.zeros((2, 4), np.int64), backend=backend)
    # empty spatial extent: every sum is 0, the class term is 1 - s/s = 0
    x = np.zeros((2, 3, 0))
    np.testing.assert_array_equal(loss(x, np.zeros((2, 0), np.int64), backend=backend,
                                       reduction="none"), [0.0, 0.0])


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", pl.backends())
def test_out_buffer_and_aliasing(name, backend, rng):
    loss = pl.get(name)
    x, lab = inputs(rng, (2, 5, 5), 3, "softmax", np.float32)
    t = onehot(lab, 3, np.float32)
    v0, g0 = loss.value_and_grad(x, t, from_logits="softmax", backend=backend)
    out = np.empty_like(x)
    v, g = loss.value_and_grad(x, t, from_logits="softmax", backend=backend, out=out)
    assert g is out
    np.testing.assert_array_equal(out, g0)
    xa, ta = x.copy(), t.copy()
    g = loss.grad(xa, t, from_logits="softmax", backend=backend, out=xa)   # out is pred
    assert g is xa
    np.testing.assert_array_equal(xa, g0)
    loss.grad(x, ta, from_logits="softmax", backend=backend, out=ta)       # out is target
    np.testing.assert_array_equal(ta, g0)
    with pytest.raises(ValueError, match="out"):
        loss.grad(x, t, from_logits="softmax", backend=backend, out=np.empty((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="out"):
        loss.grad(x, t, from_logits="softmax", backend=backend, out=np.empty_like(x, np.float64))


def test_float16_and_mixed(rng):
    x, lab = inputs(rng, (2, 4), 3, "softmax", np.float16)
    v, g = pl.dice.value_and_grad(x, lab, from_logits="softmax")
    assert np.asarray(v).dtype == np.float32 and g.dtype == np.float32
    v64, g64 = pl.dice.value_and_grad(x.astype(np.float32), onehot(lab, 3, np.float64),
                                      from_logits="softmax")
    assert np.asarray(v64).dtype == np.float64 and g64.dtype == np.float32


def test_deterministic_across_threads(rng):
    x, lab = inputs(rng, (3, 300, 300), 4, "softmax", np.float32)   # above PL_PAR_MIN
    t = onehot(lab, 4, np.float32)
    old = pl.get_num_threads()
    try:
        res = []
        for n in (1, 2, 3):
            pl.set_num_threads(n)
            res.append([pl.dice.value_and_grad(x, tt, from_logits=a, backend=b)
                        for b in FAST for tt in (t, lab) for a in ("softmax", "sigmoid")])
    finally:
        pl.set_num_threads(old)
    for other in res[1:]:
        for (v0, g0), (v1, g1) in zip(res[0], other):
            assert v0 == v1
            np.testing.assert_array_equal(g0, g1)


def test_float32_large_sums_accurate(rng):
    x = rng.uniform(0, 1, (1, 2, 1 << 20)).astype(np.float32)
    lab = rng.integers(0, 2, (1, 1 << 20))
    for b in FAST:
        v = pl.dice(x, lab, backend=b)
        ref = pl.dice.reference(x.astype(np.float64), lab)
        assert abs(float(v) - float(ref)) <= 1e-6 * abs(float(ref))


def test_extreme_logits_stay_finite():
    x = np.array([[[1e4, -1e4, 80.0, -80.0]], [[-1e4, 1e4, -80.0, 80.0]]]).transpose(1, 0, 2)
    lab = np.array([[0, 1, 0, 1]])
    for b in pl.backends():
        for act in ("softmax", "sigmoid"):
            for dt in (np.float32, np.float64):
                v, g = pl.dice.value_and_grad(x.astype(dt), lab, from_logits=act, backend=b)
                assert np.isfinite(v) and np.all(np.isfinite(g))


def test_nan_propagates():
    x = np.full((1, 2, 3), 0.5)
    x[0, 1, 2] = np.nan
    for b in pl.backends():
        for act in (None, "sigmoid", "softmax"):
            assert np.isnan(pl.dice(x, np.zeros((1, 3), np.int64), from_logits=act, backend=b))


@pytest.mark.parametrize("name", LOSSES)
def test_hand_values(name):
    for arrays, opts, red, expected, why in CASES[name].hand:
        for b in pl.backends():
            np.testing.assert_allclose(pl.get(name)(*arrays, reduction=red, backend=b, **opts),
                                       expected, rtol=1e-12, err_msg=why)


@pytest.mark.parametrize("name", LOSSES)
def test_errors(name):
    loss = pl.get(name)
    x = np.full((2, 3, 4), 0.5)
    with pytest.raises(ValueError, match=r"label 3 at position \(1, 2\)"):
        loss(x, np.array([[0, 1, 2, 0], [0, 1, 3, 0]]))
    with pytest.raises(ValueError, match=r"label -1 at position \(0, 0\)"):
        loss(x, np.array([[-1, 1, 2, 0], [0, 1, 2, 0]]))
    with pytest.raises(TypeError, match="target"):
        loss(x, np.zeros((2, 4)))                        # float labels
    with pytest.raises(ValueError, match=r"\(2, 3, 5\)"):
        loss(x, np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="from_logits"):
        loss(x, np.zeros((2, 4), np.int64), from_logits="relu")
    with pytest.raises(ValueError, match="smooth"):
        loss(x, np.zeros((2, 4), np.int64), smooth=-1.0)
    with pytest.raises(ValueError, match="pred"):
        loss(np.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="pred"):
        loss(np.zeros((2, 3, 4), np.int64), np.zeros((2, 4), np.int64))
    with pytest.raises(TypeError):
        loss(x, np.zeros((2, 4), np.int64), weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        loss(x, np.zeros((2, 4), np.int64), reduction="batchmean")
    if name == "dice":
        with pytest.raises(TypeError, match="squared"):
            loss(x, np.zeros((2, 4), np.int64), squared="yes")


# ----------------------------------------------------------------- PyTorch

def _torch_region(torch, x, t, name, opts):
    """The loss written out in PyTorch (autograd gives the gradient): SPEC 6.4
    with one-hot t (N, C, *spatial) and an optional valid mask folded into t
    by the caller (see _torch_loss)."""
    o = dict(pl.get(name).options)
    o.update(opts)
    s, act = o["smooth"], o["from_logits"]
    p = x if act is None else (torch.sigmoid(x) if act == "sigmoid" else torch.softmax(x, 1))
    valid = o.pop("_valid", None)
    if valid is not None:
        p = torch.where(valid, p, torch.zeros_like(p))
    c0 = 0 if o["include_background"] else 1
    p, t = p[:, c0:], t[:, c0:]
    dims = (0,) * o["batch"] + tuple(range(2, x.ndim))
    sq = o.get("squared", False)
    inter = (p * t).sum(dims)
    ps = (p * p if sq else p).sum(dims)
    ts = (t * t if sq else t).sum(dims)
    if name == "dice":
        term = 1 - (2 * inter + s) / (ps + ts + s)
    elif name == "iou":
        term = 1 - (inter + s) / (ps + ts - inter + s)
    elif name == "tversky":
        fp, fn = (p * (1 - t)).sum(dims), ((1 - p) * t).sum(dims)
        term = (1 - (inter + s) / (inter + o["alpha"] * fp + o["beta"] * fn + s)) ** o["gamma"]
    else:
        w = {"square": 1 / ts**2, "simple": 1 / ts, "uniform": torch.ones_like(ts)}[o["weight_type"]]
        w = w.detach()
        fin = torch.where(torch.isinf(w), torch.zeros_like(w), w)
        w = torch.where(torch.isinf(w), fin.amax(1, keepdim=True), w)
        return 1 - (2 * (w * inter).sum(1) + s) / ((w * (ps + ts)).sum(1) + s)
    return term if o["batch"] else term.mean(1)


def _torch_loss(torch, x, lab, name, opts):
    C = x.shape[1]
    ig = opts.get("ignore_index")
    valid = None
    if ig is not None:
        valid = torch.tensor(lab != ig)[:, None]
        lab = np.where(lab == ig, 0, lab)
    t = torch.tensor(onehot(lab, C))
    if valid is not None:
        t = t * valid
        opts = dict(opts, _valid=valid)
    return _torch_region(torch, x, t, name, opts)


@pytest.mark.torch
@pytest.mark.parametrize("name,opts", PARAMS, ids=lambda v: str(v))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch_autograd(name, opts, reduction, rng):
    torch = pytest.importorskip("torch")
    x, lab = inputs(rng, (3, 6, 5), 4, opts.get("from_logits"))
    xt = torch.tensor(x, requires_grad=True)
    per = _torch_loss(torch, xt, lab, name, opts)
    red = {"mean": per.mean(), "sum": per.sum(), "none": per.sum()}[reduction]
    red.backward()
    want = per.detach().numpy() if reduction == "none" else red.item()
    for b in pl.backends():
        v, g = pl.get(name).value_and_grad(x, lab, reduction=reduction, backend=b, **opts)
        np.testing.assert_allclose(v, want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.torch
def test_takes_torch_tensors():
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 3, 4, 4)
    lab = torch.randint(0, 3, (2, 4, 4))
    v = pl.dice(x, lab, from_logits="softmax")
    np.testing.assert_allclose(v, pl.dice(x.numpy(), lab.numpy(), from_logits="softmax"))
