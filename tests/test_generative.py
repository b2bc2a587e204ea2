"""Generative family: kl_gaussian, kl_div, vae and the GAN losses against the
NumPy reference on every backend and dtype, finite differences, PyTorch and
the input rules."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyloss as pl
from conftest import CASES
from multigrad import as_tuple, cast, check_fd, check_vs_reference

BACKENDS = pl.backends()
DTYPES = (np.float32, np.float64)
NAMES = ("kl_gaussian", "kl_div", "vae", "gan_discriminator", "gan_generator")


def _away_from_hinge(arrays):
    return [np.abs(np.abs(np.asarray(a, np.float64)) - 1.0) > 1e-3 for a in arrays]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lead", [(13,), (3, 4)])
def test_matches_reference(name, backend, dtype, lead, rng):
    case = CASES[name]
    for reduction in case.reductions:
        for opts in case.option_sets:
            arrays, base = case.make(rng, lead, np.float64)
            o = dict(base, **opts)
            check_vs_reference(name, arrays, o, backend, dtype, reduction,
                               grad_ok=_away_from_hinge(arrays) if o.get("kind") == "hinge" else None)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_finite_differences(name, backend, rng):
    case = CASES[name]
    for opts in case.option_sets:
        arrays, base = case.make(rng, (4,), np.float64)
        o = dict(base, **opts)
        diff = [pl.get(name).inputs.index(d) for d in pl.get(name).diff]
        ok = _away_from_hinge([arrays[i] for i in diff])
        for reduction in case.reductions:
            if reduction != "none":
                check_fd(name, arrays, o, backend, reduction, ok=ok)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_hand_values(name, backend):
    for arrays, opts, reduction, expected, why in CASES[name].hand:
        got = pl.get(name)(*[np.asarray(a, np.float64) for a in arrays], reduction=reduction,
                           backend=backend, **opts)
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=why)


# ---------------------------------------------------------------- kl_gaussian

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype,big", [(np.float32, 100.0), (np.float64, 1000.0)])
def test_kl_gaussian_large_logvar_overflows_without_nan(backend, dtype, big):
    mu = np.array([[0.5, -1.0], [0.0, 0.0]], dtype)
    lv = np.array([[big, 0.0], [-big, 1.0]], dtype)
    v, (gm, gl) = pl.kl_gaussian.value_and_grad(mu, lv, reduction="none", backend=backend)
    assert v[0] == np.inf and np.isfinite(v[1])
    assert not np.isnan(v).any() and not np.isnan(gm).any() and not np.isnan(gl).any()
    assert gl[0, 0] == np.inf
    assert gl[1, 0] == pytest.approx(-0.5)      # (e^-big - 1)/2
    # moderate values stay finite and accurate
    v = pl.kl_gaussian(np.zeros((1, 1), dtype), np.full((1, 1), 50.0, dtype), backend=backend)
    np.testing.assert_allclose(v, 0.5 * (np.exp(50.0) - 51.0), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kl_gaussian_of_the_prior_is_zero(backend):
    v, (gm, gl) = pl.kl_gaussian.value_and_grad(np.zeros((3, 4)), np.zeros((3, 4)), backend=backend)
    assert v == 0.0
    np.testing.assert_array_equal(gm, 0.0)
    np.testing.assert_array_equal(gl, 0.0)


# ---------------------------------------------------------------- kl_div

@pytest.mark.parametrize("backend", BACKENDS)
def test_kl_div_hessian_is_zero_and_zero_target_is_zero(backend):
    logq = np.log(np.array([[0.2, 0.8], [0.5, 0.5]]))
    p = np.array([[0.0, 1.0], [0.5, 0.5]])
    v = pl.kl_div(logq, p, reduction="none", backend=backend)
    assert v[0, 0] == 0.0
    np.testing.assert_array_equal(pl.kl_div.hessian(logq, p, backend=backend), 0.0)
    np.testing.assert_allclose(pl.kl_div.grad(logq, p, reduction="batchmean", backend=backend),
                               -p / 2)


# ---------------------------------------------------------------- GAN

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["bce", "hinge", "wasserstein", "lsgan"])
def test_gan_batches_of_different_sizes(backend, kind, rng):
    r, f = rng.standard_normal(7), rng.standard_normal((3, 2))
    ref = __import__("pyloss.reference.generative", fromlist=["x"])
    tr, tf = (getattr(ref, n) for n in ref.GAN_D[kind])
    lr, gr, _ = tr(r)
    lf, gf, _ = tf(f)
    v, (g_r, g_f) = pl.gan_discriminator.value_and_grad(r, f, kind=kind, backend=backend)
    np.testing.assert_allclose(v, lr.mean() + lf.mean(), rtol=1e-12)
    np.testing.assert_allclose(g_r, gr / r.size, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_f, gf / f.size, rtol=1e-12, atol=1e-15)
    s = pl.gan_discriminator(r, f, kind=kind, reduction="sum", backend=backend)
    np.testing.assert_allclose(s, lr.sum() + lf.sum(), rtol=1e-12)
    with pytest.raises(pl.PylossValueError, match="equal shapes"):
        pl.gan_discriminator(r, f, kind=kind, reduction="none", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gan_hinge_kinks_have_zero_gradient(backend):
    g_r, g_f = pl.gan_discriminator.grad([1.0, 0.5], [-1.0, 0.5], kind="hinge",
                                         reduction="sum", backend=backend)
    np.testing.assert_array_equal(g_r, [0.0, -1.0])
    np.testing.assert_array_equal(g_f, [0.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gan_none_is_per_pair_sum(backend, rng):
    r, f = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for kind in ("bce", "hinge", "wasserstein", "lsgan"):
        v = pl.gan_discriminator(r, f, kind=kind, reduction="none", backend=backend)
        vr = pl.gan_discriminator(r, f, kind=kind, reduction="none", backend="numpy")
        assert v.shape == (4, 3)
        np.testing.assert_allclose(v, vr, rtol=1e-12)
        np.testing.assert_allclose(v.sum(), pl.gan_discriminator(
            r, f, kind=kind, reduction="sum", backend=backend), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gan_bce_is_stable_for_huge_logits(backend):
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], np.float32)
    for name, args in (("gan_generator", (x,)), ("gan_discriminator", (x, x))):
        v, g = pl.get(name).value_and_grad(*args, reduction="sum", backend=backend)
        assert np.isfinite(v)
        assert all(np.isfinite(a).all() for a in as_tuple(g))


# ---------------------------------------------------------------- input rules

def _noncontig(a):
    a = np.asarray(a)
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else None
    if wide is None:
        return a
    wide[..., ::2] = a
    return wide[..., ::2]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_layouts_give_identical_results(name, backend, rng):
    case = CASES[name]
    arrays, opts = case.make(rng, (5, 3), np.float32)
    red = "none" if name != "kl_div" else "batchmean"
    loss = pl.get(name)
    v0, g0 = loss.value_and_grad(*arrays, reduction=red, backend=backend, **opts)
    for make_view in (_noncontig, np.asfortranarray, lambda a: a[::-1].copy()[::-1]):
        views = tuple(make_view(a) for a in arrays)
        v, g = loss.value_and_grad(*views, reduction=red, backend=backend, **opts)
        np.testing.assert_array_equal(v, v0)
        for a, b in zip(as_tuple(g), as_tuple(g0)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_empty(name, backend, rng):
    arrays, opts = CASES[name].make(rng, (0,), np.float64)
    loss = pl.get(name)
    assert np.isnan(loss(*arrays, backend=backend, **opts))
    assert loss(*arrays, reduction="sum", backend=backend, **opts) == 0.0
    g = as_tuple(loss.grad(*arrays, backend=backend, **opts))
    assert all(x.size == 0 for x in g)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_out_buffers_and_aliasing(name, backend, rng):
    loss = pl.get(name)
    arrays, opts = CASES[name].make(rng, (6,), np.float64)
    g0 = as_tuple(loss.grad(*arrays, backend=backend, **opts))
    outs = tuple(np.empty_like(x) for x in g0)
    g = as_tuple(loss.grad(*arrays, backend=backend, out=outs if len(outs) > 1 else outs[0],
                           **opts))
    for a, b, o in zip(g, g0, outs):
        assert a is o
        np.testing.assert_array_equal(a, b)
    # out= aliasing the differentiable inputs gives the same numbers
    inputs = [a.copy() for a in arrays]
    pos = [loss.inputs.index(d) for d in loss.diff]
    alias = tuple(inputs[i] for i in pos)
    g = as_tuple(loss.grad(*inputs, backend=backend,
                           out=alias if len(alias) > 1 else alias[0], **opts))
    for a, b in zip(g, g0):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(pl.PylossValueError, match="out"):
        bad = (np.empty((1, 1)),) + outs[1:]
        loss.grad(*arrays, backend=backend, out=bad if len(bad) > 1 else bad[0], **opts)


@pytest.mark.parametrize("name", NAMES)
def test_dtypes(name, rng):
    loss = pl.get(name)
    arrays, opts = CASES[name].make(rng, (4,), np.float16)
    v, g = loss.value_and_grad(*arrays, **opts)
    assert v.dtype == np.float32 and all(x.dtype == np.float32 for x in as_tuple(g))
    arrays, opts = CASES[name].make(rng, (4,), np.float32)
    mixed = (arrays[0].astype(np.float64),) + arrays[1:]
    v, g = loss.value_and_grad(*mixed, **opts)
    assert v.dtype == np.float64
    assert as_tuple(g)[0].dtype == np.float64
    if len(as_tuple(g)) > 1:
        assert as_tuple(g)[1].dtype == np.float32


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("name", ["kl_gaussian", "vae"])
def test_thread_count_does_not_change_bits(name, backend, rng):
    arrays, opts = CASES[name].make(rng, (20000,), np.float32)
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
    x = rng.standard_normal((3, 4))
    with pytest.raises(pl.PylossValueError, match="kind"):
        pl.gan_discriminator(x, x, kind="relativistic")
    with pytest.raises(pl.PylossValueError, match="kind"):
        pl.gan_generator(x, kind="BCE")
    with pytest.raises(pl.PylossValueError, match="recon_loss"):
        pl.vae(x, x, x, x, recon_loss="bce")
    with pytest.raises(pl.PylossValueError, match="mu"):
        pl.vae(x, x, x[:2], x[:2])
    with pytest.raises(pl.PylossValueError, match="logvar"):
        pl.kl_gaussian(x, x[:, :2])
    with pytest.raises(pl.PylossTypeError, match="log_target"):
        pl.kl_div(x, x, log_target=1)
    with pytest.raises(pl.PylossTypeError, match="weight"):
        pl.kl_div(x, x, weight=np.ones(4))
    with pytest.raises(pl.PylossValueError, match="reduction"):
        pl.kl_gaussian(x, x, reduction="batchmean")
    with pytest.raises(pl.PylossValueError, match="beta"):
        pl.vae(x, x, x, x, beta=float("nan"))
    with pytest.raises(pl.PylossTypeError):
        pl.kl_gaussian(x.astype(np.int32), x)


# ---------------------------------------------------------------- hypothesis

@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 9), d=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(NAMES), dtype=st.sampled_from(DTYPES),
       reduction=st.sampled_from(["mean", "sum", "none"]), scale=st.sampled_from([1e-3, 1.0, 8.0]),
       kind=st.sampled_from(["bce", "hinge", "wasserstein", "lsgan"]), flag=st.booleans())
def test_hypothesis_vs_reference(n, d, seed, name, dtype, reduction, scale, kind, flag):
    rng = np.random.default_rng(seed)
    x = [scale * rng.standard_normal((n, d)) for _ in range(4)]
    opts = {}
    if name == "kl_gaussian":
        arrays = x[:2]
    elif name == "kl_div":
        arrays, opts = [x[0], rng.random((n, d)) if not flag else x[1]], {"log_target": flag}
    elif name == "vae":
        arrays = [x[0], rng.random((n, d)), x[2][:, :3], x[3][:, :3]]
        opts = {"recon_loss": "bce_logits" if flag else "mse", "beta": scale}
    elif name == "gan_discriminator":
        arrays, opts = x[:2], {"kind": kind}
    else:
        arrays, opts = x[:1], {"kind": kind}
    ok = _away_from_hinge(arrays) if kind == "hinge" and name.startswith("gan") else None
    for backend in BACKENDS:
        check_vs_reference(name, arrays, opts, backend, dtype, reduction, grad_ok=ok)


# ---------------------------------------------------------------- PyTorch

@pytest.mark.torch
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div_matches_torch(log_target, reduction, rng):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((6, 5))
    logq = z - np.log(np.exp(z).sum(1, keepdims=True))
    p = rng.random((6, 5))
    p[0, :2] = 0.0
    p /= p.sum(1, keepdims=True)
    target = np.log(p + 0.01) if log_target else p
    tq = torch.tensor(logq, requires_grad=True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # torch's notice about "mean"
        out = torch.nn.functional.kl_div(tq, torch.tensor(target), reduction=reduction,
                                         log_target=log_target)
    out.sum().backward()
    for backend in BACKENDS:
        for dt, tol in ((np.float64, 1e-10), (np.float32, 2e-5)):
            v, g = pl.kl_div.value_and_grad(logq.astype(dt), target.astype(dt), reduction=reduction,
                                            log_target=log_target, backend=backend)
            np.testing.assert_allclose(v, out.detach().numpy(), rtol=tol, atol=tol)
            np.testing.assert_allclose(g, tq.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gan_bce_matches_torch_bce_with_logits(reduction, rng):
    torch = pytest.importorskip("torch")
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    r, f = rng.standard_normal(9) * 4, rng.standard_normal(5) * 4
    tr, tf = torch.tensor(r, requires_grad=True), torch.tensor(f, requires_grad=True)
    d = bce(tr, torch.ones(9, dtype=torch.float64), reduction=reduction) + \
        bce(tf, torch.zeros(5, dtype=torch.float64), reduction=reduction)
    d.backward()
    tg = torch.tensor(f, requires_grad=True)
    gl = bce(tg, torch.ones(5, dtype=torch.float64), reduction=reduction)
    gl.backward()
    for backend in BACKENDS:
        v, (g_r, g_f) = pl.gan_discriminator.value_and_grad(r, f, reduction=reduction,
                                                            backend=backend)
        np.testing.assert_allclose(v, d.item(), rtol=1e-12)
        np.testing.assert_allclose(g_r, tr.grad.numpy(), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(g_f, tf.grad.numpy(), rtol=1e-10, atol=1e-15)
        v, g = pl.gan_generator.value_and_grad(f, reduction=reduction, backend=backend)
        np.testing.assert_allclose(v, gl.item(), rtol=1e-12)
        np.testing.assert_allclose(g, tg.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("recon_loss", ["mse", "bce_logits"])
def test_vae_matches_torch_vae_example(recon_loss, rng):
    """PyTorch's examples/vae loss (sum over the batch), with beta = 0.5."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    recon, x = rng.standard_normal((4, 2, 6)), rng.random((4, 2, 6))
    mu, lv = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    tr, tm, tl = (torch.tensor(a, requires_grad=True) for a in (recon, mu, lv))
    tx = torch.tensor(x)
    rec = F.mse_loss(tr, tx, reduction="sum") if recon_loss == "mse" else \
        F.binary_cross_entropy_with_logits(tr, tx, reduction="sum")
    kld = -0.5 * torch.sum(1 + tl - tm.pow(2) - tl.exp())
    (rec + 0.5 * kld).backward()
    for backend in BACKENDS:
        v, g = pl.vae.value_and_grad(recon, x, mu, lv, recon_loss=recon_loss, beta=0.5,
                                     reduction="sum", backend=backend)
        np.testing.assert_allclose(v, (rec + 0.5 * kld).item(), rtol=1e-10)
        for a, b in zip(g, (tr, tm, tl)):
            np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-10, atol=1e-14)
