"""Embedding family: triplet and contrastive, every backend and dtype against
the NumPy reference, finite differences, PyTorch, and the input rules."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyloss as pl
from conftest import CASES
from multigrad import as_tuple, cast, check_fd, check_vs_reference

BACKENDS = pl.backends()
DTYPES = (np.float32, np.float64)
NAMES = ("triplet", "contrastive")
NDIFF = {"triplet": 3, "contrastive": 2}


def _masks(name, arrays, opts):
    ok = CASES[name].fd_ok(cast(arrays, np.float64), opts)
    return [ok] * NDIFF[name]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lead", [(13,), (3, 4), ()])
def test_matches_reference(name, backend, dtype, reduction, lead, rng):
    case = CASES[name]
    for opts in case.option_sets:
        arrays, base = case.make(rng, lead, np.float64)
        o = dict(base, **opts)
        check_vs_reference(name, arrays, o, backend, dtype, reduction,
                           grad_ok=_masks(name, arrays, o))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_finite_differences(name, backend, rng):
    case = CASES[name]
    for opts in case.option_sets:
        arrays, base = case.make(rng, (5,), np.float64)
        o = dict(base, **opts)
        for reduction in ("sum", "mean"):
            check_fd(name, arrays, o, backend, reduction, ok=_masks(name, arrays, o))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_hand_values(name, backend):
    for arrays, opts, reduction, expected, why in CASES[name].hand:
        got = pl.get(name)(*[np.asarray(a, np.float64) for a in arrays], reduction=reduction,
                           backend=backend, **opts)
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=why)


@pytest.mark.parametrize("dim", [2, 7, 8, 9, 128, 4096])
@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_sizes(dim, backend, rng):
    for name in NAMES:
        arrays, opts = CASES[name].make(rng, (3,), np.float64)
        arrays = tuple(rng.standard_normal((3, dim)) for _ in arrays[:-1]) + \
            ((arrays[-1],) if name == "contrastive" else (rng.standard_normal((3, dim)),))
        opts = dict(opts, margin=float(np.sqrt(dim)))
        for dt in DTYPES:
            check_vs_reference(name, arrays, opts, backend, dt, "none",
                               grad_ok=_masks(name, arrays, opts))


# ---------------------------------------------------------------- kinks

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pw", [1.0, 2.0, 3.0, 0.5])
def test_triplet_zero_distance_has_zero_norm_gradient(backend, pw):
    a = np.array([[1.0, 2.0, 3.0]])
    n = np.array([[1.5, 2.0, 3.0]])      # d(a, n) = 0.5 < margin: hinge active
    v, (ga, gp, gn) = pl.triplet.value_and_grad(a, a.copy(), n, eps=0.0, p=pw,
                                                reduction="sum", backend=backend)
    assert v == pytest.approx(0.5)
    for g in (ga, gp, gn):
        assert np.all(np.isfinite(g))
    # only d(a, n) contributes: its gradient is sign(a - n) = (-1, 0, 0)
    np.testing.assert_allclose(ga, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(gp, 0.0)
    np.testing.assert_allclose(gn, [[-1.0, 0.0, 0.0]])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pw,margin", [(2.0, 5.0), (1.0, 7.0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_triplet_exactly_at_hinge(backend, pw, margin, dtype):
    # d(a, p) = 5 (p=2) or 7 (p=1); d(a, n) twice that: v = 0 exactly
    a, p, n = (np.array(x, dtype) for x in ([[0.0, 0.0]], [[3.0, 4.0]], [[6.0, 8.0]]))
    v, g = pl.triplet.value_and_grad(a, p, n, eps=0.0, p=pw, margin=margin, backend=backend)
    assert v == 0.0
    for x in g:
        np.testing.assert_array_equal(x, 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_contrastive_zero_distance_and_margin(backend):
    x = np.array([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    y = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]])
    for s in (0.0, 1.0, 0.5):
        v, (g1, g2) = pl.contrastive.value_and_grad(x[:1], y[:1], [s], margin=1.0,
                                                    reduction="sum", backend=backend)
        assert v == pytest.approx(1.0 - s)            # d = 0: (1 - s) margin^2
        np.testing.assert_array_equal(g1, 0.0)
        np.testing.assert_array_equal(g2, 0.0)
    # exactly at the margin (d = 5): dissimilar loss 0, gradient 0
    v, (g1, g2) = pl.contrastive.value_and_grad(x[2:], y[2:], [0], margin=5.0,
                                                reduction="sum", backend=backend)
    assert v == 0.0
    np.testing.assert_array_equal(g1, 0.0)


# ---------------------------------------------------------------- input rules

def _layouts(x):
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    rev = x[::-1].copy()[::-1]
    f = np.asfortranarray(x)
    ro = x.copy()
    ro.flags.writeable = False
    return [wide[..., ::2], rev, f, ro]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_layouts_give_identical_results(name, backend, rng):
    arrays, opts = CASES[name].make(rng, (9,), np.float32)
    v0, g0 = pl.get(name).value_and_grad(*arrays, reduction="none", backend=backend, **opts)
    for k in range(4):
        views = tuple(_layouts(a)[k] if a.ndim == 2 else a for a in arrays)
        v, g = pl.get(name).value_and_grad(*views, reduction="none", backend=backend, **opts)
        np.testing.assert_array_equal(v, v0)
        for a, b in zip(g, g0):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_empty(name, backend, rng):
    arrays, opts = CASES[name].make(rng, (0,), np.float64)
    loss = pl.get(name)
    assert np.isnan(loss(*arrays, backend=backend, **opts))
    assert loss(*arrays, reduction="sum", backend=backend, **opts) == 0.0
    v, g = loss.value_and_grad(*arrays, reduction="none", backend=backend, **opts)
    assert v.shape == (0,)
    assert all(x.shape == (0, arrays[0].shape[-1]) for x in g)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_dimensional_triplet_is_one_sample(backend, rng):
    a, p, n = (rng.standard_normal(8) for _ in range(3))
    v = pl.triplet(a, p, n, reduction="none", backend=backend)
    assert v.shape == ()
    assert pl.triplet(a, p, n, backend=backend) == pytest.approx(
        float(pl.triplet(a[None], p[None], n[None], backend=backend)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_out_buffers_and_aliasing(name, backend, rng):
    loss = pl.get(name)
    arrays, opts = CASES[name].make(rng, (6,), np.float64)
    g0 = loss.grad(*arrays, backend=backend, **opts)
    outs = tuple(np.empty_like(x) for x in g0)
    g = loss.grad(*arrays, backend=backend, out=outs, **opts)
    for a, b, o in zip(g, g0, outs):
        assert a is o
        np.testing.assert_array_equal(a, b)
    # out= aliasing the inputs gives the same numbers
    inputs = [a.copy() for a in arrays]
    k = len(g0)
    g = loss.grad(*inputs, backend=backend, out=tuple(inputs[:k]), **opts)
    for a, b in zip(g, g0):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(pl.PylossTypeError, match="out"):
        loss.grad(*arrays, backend=backend, out=outs[0], **opts)
    with pytest.raises(pl.PylossValueError, match="out"):
        loss.grad(*arrays, backend=backend, out=(np.empty((2, 2)),) + outs[1:], **opts)


@pytest.mark.parametrize("name", NAMES)
def test_dtypes(name, rng):
    loss = pl.get(name)
    arrays, opts = CASES[name].make(rng, (4,), np.float16)
    v, g = loss.value_and_grad(*arrays, **opts)
    assert v.dtype == np.float32 and all(x.dtype == np.float32 for x in g)
    arrays, opts = CASES[name].make(rng, (4,), np.float32)
    mixed = (arrays[0].astype(np.float64),) + arrays[1:]
    v, g = loss.value_and_grad(*mixed, **opts)
    assert v.dtype == np.float64
    assert g[0].dtype == np.float64 and g[1].dtype == np.float32
    with pytest.raises(pl.PylossTypeError):
        loss(arrays[0].astype(np.int64), *arrays[1:], **opts)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_thread_count_does_not_change_bits(name, backend, rng):
    arrays, opts = CASES[name].make(rng, (8192,), np.float32)
    arrays = tuple(np.repeat(a, 6, axis=-1) if a.ndim == 2 else a for a in arrays)  # D = 36
    loss = pl.get(name)
    old = pl.get_num_threads()
    try:
        pl.set_num_threads(1)
        v1, g1 = loss.value_and_grad(*arrays, backend=backend, **opts)
        pl.set_num_threads(2)
        v2, g2 = loss.value_and_grad(*arrays, backend=backend, **opts)
    finally:
        pl.set_num_threads(old)
    assert v1 == v2
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)


def test_option_errors(rng):
    a, p, n = (rng.standard_normal((3, 4)) for _ in range(3))
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(pl.PylossValueError, match="margin"):
            pl.triplet(a, p, n, margin=bad)
    for bad in (0.0, -2.0, float("inf")):
        with pytest.raises(pl.PylossValueError, match="p"):
            pl.triplet(a, p, n, p=bad)
    with pytest.raises(pl.PylossTypeError, match="swap"):
        pl.triplet(a, p, n, swap="yes")
    with pytest.raises(pl.PylossValueError, match="negative"):
        pl.triplet(a, p, n[:2])
    with pytest.raises(pl.PylossValueError, match="anchor"):
        pl.triplet(1.0, 2.0, 3.0)
    with pytest.raises(pl.PylossValueError, match="margin"):
        pl.contrastive(a, p, [1, 0, 1], margin=-0.5)
    with pytest.raises(pl.PylossValueError, match="similar"):
        pl.contrastive(a, p, [1, 0])
    with pytest.raises(pl.PylossValueError, match="reduction"):
        pl.contrastive(a, p, [1, 0, 1], reduction="batchmean")


# ---------------------------------------------------------------- hypothesis

@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 9), d=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(NAMES), dtype=st.sampled_from(DTYPES),
       reduction=st.sampled_from(["mean", "sum", "none"]),
       pw=st.sampled_from([1.0, 2.0, 3.0, 0.7]), swap=st.booleans(),
       margin=st.floats(0.01, 10.0), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_hypothesis_vs_reference(n, d, seed, name, dtype, reduction, pw, swap, margin, scale):
    rng = np.random.default_rng(seed)
    x = tuple(scale * rng.standard_normal((n, d)) for _ in range(3))
    if name == "triplet":
        arrays, opts = x, dict(p=pw, swap=swap, margin=margin)
    else:
        arrays, opts = x[:2] + (rng.random(n),), dict(margin=margin * scale)
    for backend in BACKENDS:
        check_vs_reference(name, arrays, opts, backend, dtype, reduction,
                           grad_ok=_masks(name, arrays, opts))


# ---------------------------------------------------------------- PyTorch

@pytest.mark.torch
@pytest.mark.parametrize("opts", [{}, {"swap": True}, {"p": 1.0}, {"p": 3.0},
                                  {"p": 3.0, "swap": True, "margin": 0.5},
                                  {"p": 1.5, "eps": 1e-3}, {"eps": 0.0, "margin": 2.0}])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(17, 9), (9,)])
def test_triplet_matches_torch(opts, reduction, shape, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    arrays = [rng.standard_normal(shape) for _ in range(3)]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.triplet_margin_loss(*t, reduction=reduction, **opts)
    out.sum().backward()
    for backend in BACKENDS:
        for dt, tol in ((np.float64, 1e-10), (np.float32, 2e-5)):
            v, g = pl.triplet.value_and_grad(*[a.astype(dt) for a in arrays],
                                             reduction=reduction, backend=backend, **opts)
            np.testing.assert_allclose(v, out.detach().numpy(), rtol=tol, atol=tol)
            for a, b in zip(g, t):
                np.testing.assert_allclose(a, b.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.torch
def test_triplet_swap_tie_matches_torch(rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((5, 4))
    n = rng.standard_normal((5, 4))
    arrays = [a, a.copy(), n]          # d(a, n) == d(p, n): torch splits the gradient
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    torch.nn.functional.triplet_margin_loss(*t, swap=True, margin=10.0).backward()
    for backend in BACKENDS:
        g = pl.triplet.grad(*arrays, swap=True, margin=10.0, backend=backend)
        for x, y in zip(g, t):
            np.testing.assert_allclose(x, y.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_contrastive_matches_torch_autograd(reduction, rng):
    torch = pytest.importorskip("torch")
    x1, x2 = rng.standard_normal((12, 5)), rng.standard_normal((12, 5))
    s = (rng.random(12) < 0.5).astype(np.float64)
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    d = torch.nn.functional.pairwise_distance(t1, t2, eps=0.0)
    ts = torch.tensor(s)
    per = ts * d ** 2 + (1 - ts) * torch.clamp(3.0 - d, min=0) ** 2
    ref = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    ref.sum().backward()
    for backend in BACKENDS:
        v, (g1, g2) = pl.contrastive.value_and_grad(x1, x2, s, margin=3.0, reduction=reduction,
                                                    backend=backend)
        np.testing.assert_allclose(v, ref.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(g1, t1.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g2, t2.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.torch
def test_torch_tensors_are_accepted(rng):
    torch = pytest.importorskip("torch")
    a, p, n = (torch.randn(4, 3) for _ in range(3))
    v = pl.triplet(a, p, n)
    assert v == pytest.approx(float(torch.nn.functional.triplet_margin_loss(a, p, n)), rel=1e-5)
