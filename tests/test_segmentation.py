"""dice, iou, tversky and generalized_dice: every backend x dtype x reduction
x option set against the NumPy reference, finite-difference gradients,
hypothesis over shapes, values and the region options (include_background,
ignore_index, batch), label vs one-hot targets, awkward layouts, errors,
PyTorch autograd and MONAI's DiceLoss / TverskyLoss / GeneralizedDiceLoss."""
import numpy as np
import pytest
from hypothesis import example, given, settings
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
            per_class = 4 - (not opts.get("include_background", True))
            assert np.shape(v) == ((per_class,) if opts.get("batch") else (3,))


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


@pytest.mark.parametrize("backend", FAST)
def test_generalized_dice_left_out_class_has_zero_gradient_at_zero_denominator(backend):
    """Found by the hypothesis test below: pred (1, 2) probabilities, smooth=0,
    include_background=False.  Class 0 is in no sum, so its gradient is 0
    (the reference's), even though class 1's 0/0 ratio makes its own NaN."""
    x = np.array([[0.25, 0.0]])
    lab = np.array([0])             # class 1 absent, p_1 = 0: den = 0
    opts = dict(smooth=0.0, include_background=False)
    loss = pl.get("generalized_dice")
    _, g_ref = loss.value_and_grad(x, lab, backend="numpy", reduction="none", **opts)
    _, g = loss.value_and_grad(x, lab, backend=backend, reduction="none", **opts)
    assert g_ref[0, 0] == 0 and np.isnan(g_ref[0, 1])
    np.testing.assert_array_equal(g, g_ref)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 4), C=st.integers(1, 5), spatial=st.lists(st.integers(1, 9), max_size=3),
       smooth=st.sampled_from([0.0, 1e-5, 1.0, 7.0]), act=st.sampled_from([None, "sigmoid", "softmax"]),
       name=st.sampled_from(LOSSES), squared=st.booleans(), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1.0, 10.0, 80.0]), ib=st.booleans(), batch=st.booleans(),
       ignore=st.sampled_from([None, 0, 255]))
# found by a newcomer's run: tversky with alpha = 0 and smooth = 0, class 1 absent and
# predicted (tp = fn = 0, so its ratio is 0/0 = NaN whatever is ignored, as in MONAI)
@example(N=1, C=2, spatial=[], smooth=0.0, act=None, name="tversky", squared=False, seed=0,
         scale=1.0, ib=False, batch=False, ignore=255)
# found by hypothesis (2026-12-03): focal Tversky (gamma 0.5) at logit 27.6, p = 1 - 1e-12:
# the term's base 1 - num/den cancels as 1 - p does, so the gradient matches the reference only
# with p (1 - p) by subtraction; the C pass-2 (batch) and the Numba kernels used an exact
# 1 - p and were 9e-5 off (pyloss/_numba/segmentation.py, csrc/seg_region_impl.h)
@example(N=1, C=1, spatial=[], smooth=0.0, act="sigmoid", name="tversky", squared=False, seed=1,
         scale=80.0, ib=False, batch=True, ignore=None)
@example(N=1, C=1, spatial=[], smooth=0.0, act="sigmoid", name="tversky", squared=False, seed=1,
         scale=80.0, ib=False, batch=False, ignore=None)
def test_hypothesis_shapes_and_values(N, C, spatial, smooth, act, name, squared, seed, scale, ib,
                                      batch, ignore):
    rng = np.random.default_rng(seed)
    shape = (N, C) + tuple(spatial)
    if act is None:
        x = rng.uniform(0, 1, shape)
    else:
        x = scale * rng.standard_normal(shape)
    lab = rng.integers(0, C, (N,) + tuple(spatial))
    opts = {"smooth": smooth, "from_logits": act, "include_background": ib or C < 2,
            "batch": batch and name != "generalized_dice"}
    if name == "dice":
        opts["squared"] = squared
    if name == "tversky":
        opts.update(alpha=float(rng.choice([0.0, 0.3, 1.0])), beta=float(rng.choice([0.2, 0.7, 1.0])),
                    gamma=float(rng.choice([0.5, 1.0, 2.0])))
    loss = pl.get(name)
    v_ref, g_ref = loss.value_and_grad(x, lab, backend="numpy", reduction="none", **opts)
    for b in FAST:
        v, g = loss.value_and_grad(x, lab, backend=b, reduction="none", **opts)
        np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-7, atol=1e-12)
        v1, g1 = loss.value_and_grad(x, onehot(lab, C), backend=b, reduction="none", **opts)
        np.testing.assert_allclose(v1, v, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g1, g, rtol=1e-12, atol=1e-15)
    if ignore is not None and lab.size:
        # the ignored pixels: labelled `ignore`, with garbage (NaN) predictions
        lab2 = np.where(rng.uniform(size=lab.shape) < 0.3, ignore, lab)
        x2 = np.where((lab2 == ignore)[:, None], np.nan, x)
        o = dict(opts, ignore_index=ignore)
        v_ref, g_ref = loss.value_and_grad(x2, lab2, backend="numpy", reduction="none", **o)
        # the garbage changes nothing: the same as finite predictions at the ignored
        # pixels (NaN only where a ratio is 0/0 anyway, smooth = 0)
        v_fin, g_fin = loss.value_and_grad(x, lab2, backend="numpy", reduction="none", **o)
        np.testing.assert_array_equal(v_ref, v_fin)
        np.testing.assert_array_equal(g_ref, g_fin)
        if smooth > 0:
            assert not np.isnan(g_ref).any()
        for b in FAST:
            v, g = loss.value_and_grad(x2, lab2, backend=b, reduction="none", **o)
            np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(g, g_ref, rtol=1e-7, atol=1e-12)
            assert np.all(np.moveaxis(g, 1, -1)[lab2 == ignore] == 0)


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


# ------------------------------------------------------- region options

def _options_grid():
    out = []
    for name in LOSSES:
        for act in (None, "sigmoid", "softmax"):
            for ib in (True, False):
                for batch in (False, True):
                    if batch and name == "generalized_dice":
                        continue
                    o = {"from_logits": act, "include_background": ib, "batch": batch}
                    if name == "tversky":
                        o.update(alpha=0.3, beta=0.7, gamma=0.75 if ib else 2.0)
                    if name == "generalized_dice":
                        o["weight_type"] = "simple" if ib else "square"
                    if name == "dice":
                        o["squared"] = not ib
                    out.append((name, o))
    return out


GRID = _options_grid()


@pytest.mark.parametrize("name,opts", GRID, ids=lambda v: str(v))
@pytest.mark.parametrize("ignore", [None, 255, 1])
def test_options_match_reference_every_backend(name, opts, ignore, rng):
    """Every combination of from_logits, include_background, batch and
    ignore_index, on 1-D, 2-D and 3-D spatial shapes (blocked and small-S
    paths), float32 and float64, all reductions, against the reference."""
    loss = pl.get(name)
    o = dict(opts, ignore_index=ignore)
    for shape in ((3, 40), (2, 5, 7), (2, 3, 4, 5), (3, 3)):
        x, lab = inputs(rng, shape, 4, opts["from_logits"])
        if ignore is not None:
            lab = np.where(rng.uniform(size=lab.shape) < 0.3, ignore, lab)
            lab[0] = ignore                              # a sample with every pixel ignored
        for red in REDUCTIONS:
            v_ref, g_ref = loss.value_and_grad(x, lab, backend="numpy", reduction=red, **o)
            if red == "none":
                assert np.shape(v_ref) == ((4 - (not opts["include_background"]),)
                                           if opts["batch"] else (shape[0],))
            for b in FAST:
                for dt in (np.float32, np.float64):
                    v, g = loss.value_and_grad(x.astype(dt), lab, backend=b, reduction=red, **o)
                    np.testing.assert_allclose(v, v_ref, **TOL[dt])
                    np.testing.assert_allclose(g, g_ref, **TOL[dt])
                    if ignore is not None:
                        assert np.all(np.moveaxis(g, 1, -1)[lab == ignore] == 0)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", pl.backends())
def test_all_ignored_sample_counts_as_zero(name, backend, rng):
    """SPEC 6.4: a sample with every pixel ignored has the ratio 1 - s/s = 0
    and still counts in the mean (as MONAI); its gradient is 0."""
    loss = pl.get(name)
    x, lab = inputs(rng, (3, 6, 6), 3, "softmax")
    lab[1] = 255
    o = {"from_logits": "softmax", "ignore_index": 255}
    v, g = loss.value_and_grad(x, lab, backend=backend, reduction="none", **o)
    assert v[1] == 0.0
    np.testing.assert_array_equal(g[1], 0.0)
    np.testing.assert_allclose(loss(x, lab, backend=backend, **o), np.mean(v), rtol=1e-12)
    lab[:] = 255
    assert loss(x, lab, backend=backend, **o) == 0.0
    np.testing.assert_array_equal(loss.grad(x, lab, backend=backend, **o), 0.0)


@pytest.mark.parametrize("backend", pl.backends())
def test_ignore_equals_dropping_the_pixels(backend, rng):
    """Ignoring pixels = computing on the others alone (one sample, so the
    pixels can be dropped), for every loss and activation."""
    x, lab = inputs(rng, (1, 50), 3, "softmax")
    lab[0, ::3] = -100
    keep = lab[0] != -100
    for name in LOSSES:
        for act in ("softmax", "sigmoid"):
            loss = pl.get(name)
            v, g = loss.value_and_grad(x, lab, from_logits=act, ignore_index=-100, backend=backend)
            v0, g0 = loss.value_and_grad(x[:, :, keep], lab[:, keep], from_logits=act, backend=backend)
            np.testing.assert_allclose(v, v0, rtol=1e-12)
            np.testing.assert_allclose(g[:, :, keep], g0, rtol=1e-10, atol=1e-15)
            np.testing.assert_array_equal(g[:, :, ~keep], 0.0)


@pytest.mark.parametrize("backend", pl.backends())
def test_batch_is_one_sample_of_the_concatenation(backend, rng):
    """batch=True: the sums run over the whole batch, i.e. the per-class terms
    of one sample made of all the samples side by side."""
    x, lab = inputs(rng, (3, 4, 5), 3, "softmax")
    xc = np.concatenate(list(x), axis=-1)[None]             # (1, C, 4, 15)
    lc = np.concatenate(list(lab), axis=-1)[None]
    for name in ("dice", "iou", "tversky"):
        loss = pl.get(name)
        for ib in (True, False):
            o = {"from_logits": "softmax", "include_background": ib}
            v = loss(x, lab, batch=True, reduction="none", backend=backend, **o)
            want = loss(xc, lc, backend=backend, **o)
            np.testing.assert_allclose(np.mean(v), want, rtol=1e-12)
            np.testing.assert_allclose(loss(x, lab, batch=True, backend=backend, **o), want, rtol=1e-12)
            np.testing.assert_allclose(loss(x, lab, batch=True, reduction="sum", backend=backend, **o),
                                       np.sum(v), rtol=1e-12)
            g = loss.grad(x, lab, batch=True, backend=backend, **o)
            gc = loss.grad(xc, lc, backend=backend, **o)
            np.testing.assert_allclose(np.concatenate(list(g), axis=-1)[None], gc, rtol=1e-10,
                                       atol=1e-15)


@pytest.mark.parametrize("backend", pl.backends())
def test_tversky_special_cases(backend, rng):
    x, lab = inputs(rng, (3, 4, 9), 4, "softmax")
    for o in ({"from_logits": "softmax"}, {"from_logits": "sigmoid", "include_background": False},
              {"from_logits": "softmax", "batch": True, "ignore_index": 2}):
        r = "none"
        # alpha = beta = 1 is iou (SPEC 6.4)
        a = pl.tversky.value_and_grad(x, lab, alpha=1.0, beta=1.0, backend=backend, reduction=r, **o)
        b = pl.iou.value_and_grad(x, lab, backend=backend, reduction=r, **o)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-15)
        # alpha = beta = 1/2 with smooth s is dice with smooth 2s
        a = pl.tversky.value_and_grad(x, lab, smooth=0.5, backend=backend, reduction=r, **o)
        b = pl.dice.value_and_grad(x, lab, smooth=1.0, backend=backend, reduction=r, **o)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-15)
    # gamma: the power of each class term, then the class mean
    v = pl.tversky(x, lab, gamma=1.5, from_logits="softmax", batch=True, reduction="none", backend=backend)
    v1 = pl.tversky(x, lab, from_logits="softmax", batch=True, reduction="none", backend=backend)
    np.testing.assert_allclose(v, v1 ** 1.5, rtol=1e-12)
    # a perfect class term with gamma < 1: value 0, gradient 0 (not inf/nan)
    p = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    v, g = pl.tversky.value_and_grad(p, np.array([[0, 1]]), gamma=0.5, smooth=0.0, backend=backend)
    assert v == 0.0 and np.all(g == 0.0)


@pytest.mark.parametrize("backend", pl.backends())
def test_generalized_dice_weights(backend):
    p = np.array([[[0.9, 0.2, 0.3], [0.1, 0.8, 0.3], [0.0, 0.0, 0.4]]])
    lab = np.array([[0, 1, 1]])                              # class 2 absent
    T = np.array([1.0, 2.0, 0.0])
    I = np.array([0.9, 1.1, 0.0])
    P = p[0].sum(1)
    for wt, w in (("square", 1 / np.array([1.0, 4.0, 1.0])), ("simple", 1 / np.array([1.0, 2.0, 1.0])),
                  ("uniform", np.ones(3))):
        want = 1 - (2 * np.sum(w * I) + 1e-5) / (np.sum(w * (P + T)) + 1e-5)
        np.testing.assert_allclose(pl.generalized_dice(p, lab, weight_type=wt, backend=backend),
                                   want, rtol=1e-12, err_msg=wt)
    # every class absent from the target: all weights infinite -> 0, ratio s/s
    z = pl.generalized_dice(p, np.full((1, 3), 7), ignore_index=7, backend=backend)
    assert z == 0.0


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", pl.backends())
@pytest.mark.parametrize("ignore", [None, 3])
def test_options_gradient_finite_differences(name, backend, ignore, rng):
    loss = pl.get(name)
    for opts in [o for n, o in GRID if n == name]:
        x, lab = inputs(rng, (2, 3, 5), 3, opts["from_logits"])
        if ignore is not None:
            lab[:, ::2] = ignore
        o = dict(opts, ignore_index=ignore)

        def f(z):
            return float(np.sum(loss(z, lab, backend=backend, reduction="none", **o)))
        g = loss.grad(x, lab, backend=backend, reduction="none", **o)
        np.testing.assert_allclose(g, _fd(f, x.copy()), rtol=1e-6, atol=1e-8, err_msg=str(o))


def test_deterministic_across_threads_with_options(rng):
    x, lab = inputs(rng, (3, 300, 300), 4, "softmax", np.float32)   # above PL_PAR_MIN
    lab[:, ::7] = 255
    calls = [("tversky", {"gamma": 0.75, "ignore_index": 255}),
             ("generalized_dice", {"include_background": False, "ignore_index": 255}),
             ("dice", {"batch": True, "ignore_index": 255}),
             ("iou", {"batch": True, "ignore_index": 255, "include_background": False})]
    old = pl.get_num_threads()
    try:
        res = []
        for n in (1, 2, 3):
            pl.set_num_threads(n)
            res.append([pl.get(name).value_and_grad(x, lab, from_logits="softmax", backend=b,
                                                    reduction="none", **o)
                        for b in FAST for name, o in calls])
    finally:
        pl.set_num_threads(old)
    for other in res[1:]:
        for (v0, g0), (v1, g1) in zip(res[0], other):
            np.testing.assert_array_equal(v0, v1)
            np.testing.assert_array_equal(g0, g1)


@pytest.mark.parametrize("name", LOSSES)
def test_option_errors(name):
    loss = pl.get(name)
    x = np.full((2, 3, 4), 0.5)
    lab = np.zeros((2, 4), np.int64)
    with pytest.raises(ValueError, match="ignore_index"):
        loss(x, np.zeros((2, 3, 4)), ignore_index=0)        # dense target
    with pytest.raises(ValueError, match="include_background"):
        loss(x[:, :1], lab, include_background=False)        # C = 1
    with pytest.raises(TypeError, match="include_background"):
        loss(x, lab, include_background=0)
    with pytest.raises(TypeError, match="batch"):
        loss(x, lab, batch="yes")
    with pytest.raises(TypeError, match="ignore_index"):
        loss(x, lab, ignore_index=1.5)
    with pytest.raises(ValueError, match=r"label 9 at position \(1, 3\)"):
        loss(x, np.array([[0, 255, 1, 2], [0, 1, 2, 9]]), ignore_index=255)
    if name == "generalized_dice":
        with pytest.raises(ValueError, match="batch"):
            loss(x, lab, batch=True)
        with pytest.raises(ValueError, match="weight_type"):
            loss(x, lab, weight_type="log")
    if name == "tversky":
        for bad in ({"alpha": -0.1}, {"beta": -1.0}, {"gamma": 0.0}, {"gamma": -1.0}):
            with pytest.raises(ValueError, match=list(bad)[0]):
                loss(x, lab, **bad)
        assert np.isfinite(loss(x, lab, alpha=0.0, beta=0.0))


# ----------------------------------------------------------------- MONAI

def _monai_loss(name, o, C, onehot_y=True):
    monai = pytest.importorskip("monai.losses")
    s = o.get("smooth", pl.get(name).options["smooth"])
    if name == "iou":
        # MONAI's jaccard is 1 - (2 I + s_nr) / (2 U + s_dr): pyloss's smooth s is MONAI's 2 s
        s = 2 * s
    kw = dict(include_background=o.get("include_background", True), to_onehot_y=onehot_y,
              sigmoid=o.get("from_logits") == "sigmoid", softmax=o.get("from_logits") == "softmax",
              smooth_nr=s, smooth_dr=s, reduction="none")
    if name == "generalized_dice":
        return monai.GeneralizedDiceLoss(w_type=o.get("weight_type", "square"), **kw)
    kw.update(batch=o.get("batch", False), ignore_index=o.get("ignore_index"))
    if name == "tversky":
        return monai.TverskyLoss(alpha=o.get("alpha", 0.5), beta=o.get("beta", 0.5), **kw)
    return monai.DiceLoss(squared_pred=o.get("squared", False), jaccard=name == "iou", **kw)


MONAI_CASES = [(n, o) for n, o in GRID if o["from_logits"] is not None
               and not (n == "tversky" and o["gamma"] != 1.0)]
MONAI_CASES += [("tversky", {"from_logits": "softmax", "alpha": 0.7, "beta": 0.3, "batch": True}),
                ("tversky", {"from_logits": "sigmoid", "alpha": 0.2, "beta": 0.9,
                             "include_background": False}),
                ("generalized_dice", {"from_logits": "softmax", "weight_type": "uniform"}),
                ("dice", {"from_logits": "softmax", "smooth": 0.0})]


@pytest.mark.parametrize("name,opts", MONAI_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("ignore", [None, 255, 2])
def test_matches_monai(name, opts, ignore, rng):
    """dice/iou = MONAI DiceLoss (jaccard for iou), tversky (gamma = 1) =
    TverskyLoss, generalized_dice = GeneralizedDiceLoss, with smooth_nr =
    smooth_dr = s, to_onehot_y on the labels, sigmoid/softmax,
    include_background, batch, ignore_index (MONAI's GeneralizedDiceLoss has
    no ignore_index: there it gets the masked probabilities, the SPEC 6.4
    meaning of ignoring).  Values and autograd gradients w.r.t. the logits."""
    torch = pytest.importorskip("torch")
    C = 4
    o = dict(opts, ignore_index=ignore)
    x, lab = inputs(rng, (3, 6, 5, 4), C, opts["from_logits"])
    lab[:, 0] = 3                                           # a class absent from some samples
    lab[:, :, :, 1] = np.where(lab[:, :, :, 1] == 3, 1, lab[:, :, :, 1])
    if ignore is not None:
        lab = np.where(rng.uniform(size=lab.shape) < 0.25, ignore, lab)
    loss_m = _monai_loss(name, o, C)
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.tensor(lab[:, None])
    if name == "generalized_dice" and ignore is not None:
        m = torch.tensor(lab != ignore)[:, None]
        p = torch.sigmoid(xt) if opts["from_logits"] == "sigmoid" else torch.softmax(xt, 1)
        loss_m = _monai_loss(name, dict(o, from_logits=None), C, onehot_y=False)
        f = loss_m(p * m, torch.tensor(onehot(np.where(lab == ignore, 0, lab), C)) * m)
    else:
        f = loss_m(xt, lt)
    per = f.reshape(f.shape[0], -1).mean(1) if not o.get("batch") else f.reshape(-1)
    per.sum().backward()
    loss = pl.get(name)
    # MONAI's generalized Dice weights are float32; its squared Dice takes
    # sum(p t) as (|p|^2 + |t|^2 - |p - t|^2) / 2 (cancellation)
    rtol = 1e-6 if name == "generalized_dice" else 1e-7 if o.get("squared") else 1e-10
    for b in pl.backends():
        v, g = loss.value_and_grad(x, lab, reduction="none", backend=b, **o)
        np.testing.assert_allclose(v, per.detach().numpy(), rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=max(rtol, 1e-8),
                                   atol=1e-12 + rtol * np.abs(g).max())
        m = loss(x, lab, backend=b, **o)
        np.testing.assert_allclose(m, float(f.detach().mean()), rtol=rtol)


@pytest.mark.parametrize("name", LOSSES)
def test_docstring_examples(name):
    """The Examples of each docstring run and print what they say (the
    docstrings live on Loss objects, which doctest's module finder skips)."""
    import doctest
    loss = pl.get(name)
    t = doctest.DocTestParser().get_doctest(loss.__doc__, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(t)
    assert runner.summarize(verbose=False).failed == 0
