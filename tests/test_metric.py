"""Metric-learning losses (SPEC 6.3): anchors, degenerate batches, errors,
memory.  The generic registry tests (zoo, gradients, contract, ...) cover
backends, dtypes, layouts and reductions through tests/cases_metric.py.

Anchors (each skips when absent):
* PyTorch: ``F.margin_ranking_loss``, ``F.cosine_embedding_loss``; InfoNCE as
  ``F.cross_entropy(q kᵀ/τ, arange(N))``; every loss's gradient against
  torch autograd of the same formula (pyloss.bench.peers' torch formulas).
* pytorch-metric-learning: ``NTXentLoss``, ``SupConLoss``,
  ``TripletMarginLoss`` with ``BatchHardMiner`` / all triplets.
"""
import numpy as np
import pytest

import pyloss as pl

BACKENDS = pl.backends()
NAMES = ("info_nce", "nt_xent", "supcon", "batch_triplet", "margin_ranking", "cosine_embedding")


def _rng():
    return np.random.default_rng(2024)


def _grads(g):
    return g if isinstance(g, tuple) else (g,)


# ------------------------------------------------------------------ PyTorch

def test_margin_ranking_and_cosine_embedding_equal_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = _rng()
    x1, x2 = rng.standard_normal((2, 50))
    y = np.where(rng.random(50) < 0.5, 1.0, -1.0)
    a1, a2 = rng.standard_normal((2, 40, 7))
    ya = np.where(rng.random(40) < 0.5, 1.0, -1.0)
    a1[3] = 0.0                                            # a zero row: cos = 0, no NaN
    ya[3] = 1.0    # (y = -1 would sit exactly on the hinge: SPEC 3a's 0 vs torch's 1)
    for margin in (0.0, 0.3):
        for red in ("mean", "sum", "none"):
            T = [torch.tensor(v, requires_grad=True) for v in (x1, x2)]
            want = F.margin_ranking_loss(*T, torch.tensor(y), margin=margin, reduction=red)
            want.sum().backward()
            U = [torch.tensor(v, requires_grad=True) for v in (a1, a2)]
            want_c = F.cosine_embedding_loss(*U, torch.tensor(ya), margin=margin, reduction=red)
            want_c.sum().backward()
            for b in BACKENDS:
                v, g = pl.margin_ranking.value_and_grad(x1, x2, y, margin=margin, reduction=red,
                                                        backend=b)
                np.testing.assert_allclose(v, want.detach().numpy(), rtol=1e-12)
                for gi, t in zip(g, T):
                    np.testing.assert_allclose(gi, t.grad.numpy(), rtol=1e-12)
                v, g = pl.cosine_embedding.value_and_grad(a1, a2, ya, margin=margin,
                                                          reduction=red, backend=b)
                np.testing.assert_allclose(v, want_c.detach().numpy(), rtol=1e-12, atol=1e-15)
                for gi, t in zip(g, U):
                    np.testing.assert_allclose(gi, t.grad.numpy(), rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_equals_cross_entropy_of_q_kT(normalize, symmetric):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = _rng()
    q, k = rng.standard_normal((2, 33, 9))
    tau = 0.07 if normalize else 3.0
    Q, K = (torch.tensor(v, requires_grad=True) for v in (q, k))
    qq, kk = (F.normalize(Q, dim=1), F.normalize(K, dim=1)) if normalize else (Q, K)
    logits = qq @ kk.T / tau
    lab = torch.arange(33)
    want = F.cross_entropy(logits, lab, reduction="none")
    if symmetric:
        want = 0.5 * (want + F.cross_entropy(logits.T, lab, reduction="none"))
    want.mean().backward()
    for b in BACKENDS:
        v, (gq, gk) = pl.info_nce.value_and_grad(q, k, temperature=tau, normalize=normalize,
                                                  symmetric=symmetric, reduction="none", backend=b)
        np.testing.assert_allclose(v, want.detach().numpy(), rtol=1e-11)
        m, (gq, gk) = pl.info_nce.value_and_grad(q, k, temperature=tau, normalize=normalize,
                                                  symmetric=symmetric, backend=b)
        np.testing.assert_allclose(gq, Q.grad.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(gk, K.grad.numpy(), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name,opts", [
    ("info_nce", {}), ("info_nce", {"symmetric": True, "temperature": 0.5}),
    ("nt_xent", {}), ("nt_xent", {"temperature": 0.1}), ("supcon", {}),
    ("batch_triplet", {}), ("batch_triplet", {"mining": "batch_all"}),
    ("batch_triplet", {"squared": True, "margin": 5.0}),
    ("batch_triplet", {"mining": "batch_all", "squared": True, "margin": 2.0})])
def test_grad_equals_torch_autograd(name, opts):
    """The same formula in PyTorch (pyloss.bench.peers' peer, written from the
    SPEC), differentiated by autograd, in float64."""
    torch = pytest.importorskip("torch")
    from pyloss.bench import peers
    loss = pl.get(name)
    rng = _rng()
    x = rng.standard_normal((40, 8))
    arrays = (x, rng.standard_normal((40, 8))) if len(loss.inputs) == 2 and loss.inputs[1] != "labels" \
        else (x, rng.integers(0, 6, 40))
    o = dict(loss.options, **opts)
    f = peers._torch_fn(torch, name, o)
    T = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    want = f(*T)
    want.backward()
    for b in BACKENDS:
        v, g = loss.value_and_grad(*arrays, backend=b, **opts)
        np.testing.assert_allclose(v, want.item(), rtol=1e-11)
        for gi, t in zip(_grads(g), [t for t in T if t.requires_grad]):
            np.testing.assert_allclose(gi, t.grad.numpy(), rtol=1e-9, atol=1e-13)


# ------------------------------------------------------------------ pytorch-metric-learning

def _pml():
    pytest.importorskip("torch")
    return pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("tau", [0.5, 0.07])
def test_nt_xent_equals_pml(tau):
    losses = _pml()
    import torch
    rng = _rng()
    z1, z2 = rng.standard_normal((2, 24, 16))
    emb = torch.tensor(np.concatenate([z1, z2]), requires_grad=True)
    labels = torch.arange(24).repeat(2)
    want = losses.NTXentLoss(temperature=tau)(emb, labels)
    want.backward()
    for b in BACKENDS:
        v, (g1, g2) = pl.nt_xent.value_and_grad(z1, z2, temperature=tau, backend=b)
        # pml adds float64's smallest normal inside its log: far below rtol
        np.testing.assert_allclose(v, want.item(), rtol=1e-10)
        np.testing.assert_allclose(np.concatenate([g1, g2]), emb.grad.numpy(), rtol=1e-8,
                                   atol=1e-13)


def test_supcon_equals_pml():
    losses = _pml()
    import torch
    rng = _rng()
    x = rng.standard_normal((48, 16))
    y = rng.integers(0, 10, 48)
    y[-1] = 99                                               # an anchor without a positive
    X = torch.tensor(x, requires_grad=True)
    want = losses.SupConLoss(temperature=0.1)(X, torch.tensor(y))
    want.backward()
    for b in BACKENDS:
        v, g = pl.supcon.value_and_grad(x, y, temperature=0.1, backend=b)
        np.testing.assert_allclose(v, want.item(), rtol=1e-10)
        np.testing.assert_allclose(g, X.grad.numpy(), rtol=1e-8, atol=1e-13)


def test_supcon_all_labels_equal_differs_from_pml_as_documented():
    """All labels equal: SPEC's formula is defined (every other row is a
    positive and in the denominator); pml returns 0 when the batch has no
    negative pair.  Documented in the docstring."""
    losses = _pml()
    import torch
    x = _rng().standard_normal((6, 4))
    y = np.zeros(6, np.int64)
    assert losses.SupConLoss()(torch.tensor(x), torch.tensor(y)).item() == 0.0
    v = pl.supcon(x, y)
    assert v > 0 and np.isfinite(v)


@pytest.mark.parametrize("mining", ["batch_hard", "batch_all"])
@pytest.mark.parametrize("squared", [False, True])
def test_batch_triplet_equals_pml(mining, squared):
    losses = _pml()
    import torch
    from pytorch_metric_learning import distances, miners
    rng = _rng()
    x = rng.standard_normal((40, 8))
    y = rng.integers(0, 5, 40)
    # a margin that keeps every mined hinge positive: pml's AvgNonZeroReducer
    # then averages over the same triplets as SPEC's batch_hard mean
    margin = 40.0 if squared else 6.0
    dist = distances.LpDistance(normalize_embeddings=False, p=2, power=2 if squared else 1)
    loss_fn = losses.TripletMarginLoss(margin=margin, distance=dist)
    X = torch.tensor(x, requires_grad=True)
    T = torch.tensor(y)
    if mining == "batch_hard":
        want = loss_fn(X, T, miners.BatchHardMiner(distance=dist)(X, T))
    else:
        want = loss_fn(X, T)
    want.backward()
    for b in BACKENDS:
        v, g = pl.batch_triplet.value_and_grad(x, y, margin=margin, mining=mining,
                                               squared=squared, backend=b)
        np.testing.assert_allclose(v, want.item(), rtol=1e-9)
        np.testing.assert_allclose(g, X.grad.numpy(), rtol=1e-7, atol=1e-10)


# ------------------------------------------------------------------ degenerate batches

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_row_normalises_without_nan(backend, dtype):
    rng = _rng()
    x = rng.standard_normal((8, 5)).astype(dtype)
    x[2] = 0
    y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    for name, arrays in (("info_nce", (x, x[::-1].copy())), ("nt_xent", (x, x[::-1].copy())),
                         ("supcon", (x, y)), ("batch_triplet", (x, y))):
        for op in ("value", "vg"):
            r = getattr(pl.get(name), "value_and_grad" if op == "vg" else "__call__")(
                *arrays, backend=backend)
            flat = [np.asarray(r)] if op == "value" else [np.asarray(r[0])] + list(_grads(r[1]))
            assert all(np.isfinite(a).all() for a in flat), (name, op)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_to_count_is_zero_with_zero_gradient(backend):
    """SPEC 6.3: supcon without an anchor that has a positive, batch_triplet
    without a valid anchor/triplet: 0 with a zero gradient in every reduction."""
    x = _rng().standard_normal((5, 3))
    cases = [("supcon", np.arange(5), {}),                          # all distinct
             ("batch_triplet", np.zeros(5, int), {}),              # all equal: no negative
             ("batch_triplet", np.arange(5), {}),                  # all distinct: no positive
             ("batch_triplet", np.zeros(5, int), {"mining": "batch_all"}),
             ("batch_triplet", np.array([0, 0, 1, 1, 1]), {"mining": "batch_all", "margin": 0.0,
                                                            "squared": True})]
    xs = np.array([[0.0], [0.1], [5.0], [5.1], [5.2]])
    for name, y, opts in cases:
        xx = xs if opts.get("margin") == 0.0 else x
        for red in ("mean", "sum"):
            v, g = pl.get(name).value_and_grad(xx, y, reduction=red, backend=backend, **opts)
            assert v == 0 and not np.any(g), (name, opts, red, v)
        v, g = pl.get(name).value_and_grad(xx, y, reduction="none", backend=backend, **opts)
        assert not np.any(v) and not np.any(g)
    # N = 1
    for name in ("supcon", "batch_triplet"):
        v, g = pl.get(name).value_and_grad(x[:1], [3], backend=backend)
        assert v == 0 and not np.any(g)
    for name in ("info_nce", "nt_xent"):
        v, g = pl.get(name).value_and_grad(x[:1], x[1:2], backend=backend)
        assert v == 0 and all(not np.any(gi) for gi in g), (name, v)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_hard_ties_go_to_the_first_index(backend):
    # anchor 0 at the origin; positives 1 and 2 duplicated rows (tie), the
    # negatives 3 and 4 duplicated rows (tie): the first of each is mined
    x = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 0.0], [1.0, 0.0], [1.0, 0.0], [9.0, 9.0]])
    y = np.array([0, 0, 0, 1, 1, 2])
    g = pl.batch_triplet.grad(x, y, reduction="none", backend=backend)
    ref = pl.batch_triplet.grad(x, y, reduction="none", backend="numpy")
    np.testing.assert_allclose(g, ref, rtol=1e-12)
    # anchor 0's hinge 3 - 1 + 1 pulls on rows 1 and 3 only (not on 2 or 4)
    g0 = pl.batch_triplet.grad(x[:5], y[:5], reduction="none", backend=backend)
    v0 = pl.batch_triplet(x[:5], y[:5], reduction="none", backend=backend)
    assert v0[0] == 3.0
    # duplicated rows at distance exactly 0: no NaN, and their own pair has gradient 0
    assert np.isfinite(g0).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_temperature_near_zero_is_stable(backend, dtype):
    rng = _rng()
    q, k = rng.standard_normal((2, 16, 8)).astype(dtype)
    y = rng.integers(0, 4, 16)
    for name, arrays in (("info_nce", (q, k)), ("nt_xent", (q, k)), ("supcon", (q, y))):
        loss = pl.get(name)
        v, g = loss.value_and_grad(*arrays, temperature=1e-4, backend=backend)
        assert np.isfinite(v) and all(np.isfinite(gi).all() for gi in _grads(g)), name
        ref = loss(*(a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays),
                   temperature=1e-4, backend="numpy")
        # float32: the similarities themselves carry ~1e-7 relative error, times 1/τ
        np.testing.assert_allclose(v, ref, rtol=1e-9 if dtype == np.float64 else 2e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_labels_of_any_integer_dtype(backend):
    rng = _rng()
    x = rng.standard_normal((20, 4))
    y = rng.integers(0, 4, 20)
    want = {n: pl.get(n)(x, y, backend=backend) for n in ("supcon", "batch_triplet")}
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.uint64, np.bool_):
        yy = (y % 2).astype(dt) if dt is np.bool_ else y.astype(dt)
        for n in want:
            got = pl.get(n)(x, yy, backend=backend)
            if dt is np.bool_:
                np.testing.assert_allclose(got, pl.get(n)(x, y % 2, backend=backend))
            else:
                assert got == want[n], (n, dt)
    # labels are compared for equality only: any values
    for n in want:
        assert pl.get(n)(x, y * 10**12 - 7, backend=backend) == want[n]
    with pytest.raises(pl.PylossTypeError, match="labels"):
        pl.supcon(x, y.astype(float))


# ------------------------------------------------------------------ errors and memory

def test_invalid_options_name_the_value():
    x = np.ones((4, 3))
    y = np.array([0, 0, 1, 1])
    for bad in (0.0, -0.5):
        for name, arrays in (("info_nce", (x, x)), ("nt_xent", (x, x)), ("supcon", (x, y))):
            with pytest.raises(pl.PylossValueError, match=r"temperature.*" + repr(bad)) as ei:
                pl.get(name)(*arrays, temperature=bad)
            assert isinstance(ei.value, ValueError)
    with pytest.raises(pl.PylossValueError, match="mining.*'hardest'"):
        pl.batch_triplet(x, y, mining="hardest")
    with pytest.raises(pl.PylossValueError, match=r"y: expected 1 or -1, got .*0\.5.* position \(2,\)"):
        pl.cosine_embedding(x, x, [1, -1, 0.5, 1])
    with pytest.raises(pl.PylossValueError, match="labels"):
        pl.supcon(x, [0, 1, 2])
    with pytest.raises(pl.PylossValueError, match=r"query: expected an array of shape \(N, D\)"):
        pl.info_nce(np.ones(3), np.ones(3))


def test_a_matrix_that_does_not_fit_is_a_memory_error_before_allocating():
    # 2**21 rows as a broadcast view (no memory): the matrix would be 16 TiB
    x = np.broadcast_to(np.ones((1, 2), np.float32), (1 << 21, 2))
    y = np.broadcast_to(np.zeros(1, np.int64), (1 << 21,))
    for name, arrays in (("info_nce", (x, x)), ("nt_xent", (x, x)), ("supcon", (x, y)),
                         ("batch_triplet", (x, y))):
        with pytest.raises(pl.PylossMemoryError, match="GiB") as ei:
            pl.get(name).value_and_grad(*arrays)
        assert isinstance(ei.value, MemoryError) and isinstance(ei.value, pl.PylossError)
        assert str(1 << 21) in str(ei.value)


def test_memory_error_uses_the_available_memory(monkeypatch):
    from pyloss._defs import metric
    monkeypatch.setattr(metric, "available_memory", lambda: 100 << 20)
    x = np.ones((4096, 2))                                   # 128 MiB float64 matrix
    with pytest.raises(pl.PylossMemoryError, match="4096 x 4096 float64"):
        pl.info_nce(x, x)
    assert np.isfinite(pl.info_nce(x[:2048], x[:2048]))      # 32 MiB: fits


def test_work_memory_is_at_most_two_matrices():
    """The N x N buffers a call holds (work_bytes) against tracemalloc."""
    import tracemalloc
    rng = _rng()
    x = rng.standard_normal((700, 4))
    y = rng.integers(0, 20, 700)
    for name, arrays, opts in (("info_nce", (x, x), {"symmetric": True}), ("supcon", (x, y), {}),
                               ("batch_triplet", (x, y), {"mining": "batch_all"})):
        loss = pl.get(name)
        for b in BACKENDS[:-1]:
            loss.value_and_grad(*arrays, backend=b, **opts)
            tracemalloc.start()
            loss.value_and_grad(*arrays, backend=b, **opts)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            nbuf = 2 if opts.get("symmetric") else 1
            assert peak <= loss.work_bytes(*arrays, **opts), (name, b, peak)
            assert peak <= (nbuf + 0.5) * 700 * 700 * 8, (name, b, peak)


def test_threads_give_identical_bits(restore_threads):
    rng = _rng()
    x = rng.standard_normal((600, 16)).astype(np.float32)
    y = rng.integers(0, 30, 600)
    for b in BACKENDS[:-1]:
        res = []
        for nt in (1, 2, 3):
            pl.set_num_threads(nt)
            res.append([pl.nt_xent.value_and_grad(x, x[::-1], backend=b),
                        pl.supcon.value_and_grad(x, y, backend=b),
                        pl.batch_triplet.value_and_grad(x, y, mining="batch_all", backend=b),
                        pl.cosine_embedding.value_and_grad(x, x[::-1], np.sign(y - 14.5),
                                                           backend=b),
                        pl.margin_ranking.value_and_grad(x, x[::-1], 1.0, backend=b)])
        for r in res[1:]:
            for (v0, g0), (v1, g1) in zip(res[0], r):
                assert v0 == v1
                for a, c in zip(_grads(g0), _grads(g1)):
                    assert np.array_equal(a, c)


@pytest.mark.parametrize("backend", BACKENDS[:-1])
def test_nearly_solved_rows_keep_float32_gradient_accuracy(backend):
    # Each query almost equals its key and tau = 0.05: the positive's
    # softmax weight is 1 - O(1e-3), and its gradient coefficient
    # it*(p - 1) formed in float32 kept only ~3 digits (emulated in float32:
    # 5e-5 of the largest entry off, the hypothesis run found an example 5e-4
    # off).  The kernels form it as -it*(sum - e_p)/sum with the sum in
    # double; the float64 reference is the independent check.
    rng = np.random.default_rng(7)
    q = rng.standard_normal((4, 8)).astype(np.float32)
    k = (q + 0.01 * rng.standard_normal((4, 8))).astype(np.float32)
    for loss, args in ((pl.info_nce, (q, k)), (pl.nt_xent, (q, k))):
        ref = loss.grad(*(a.astype(np.float64) for a in args), temperature=0.05, backend="numpy")
        got = loss.grad(*args, temperature=0.05, backend=backend)
        for g, r in zip(got, ref):
            assert np.max(np.abs(g - r)) <= 1e-5 * np.max(np.abs(r)), (loss.name, backend)


@pytest.mark.parametrize("backend", BACKENDS[:-1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetrize_kernel_is_w_plus_w_transposed_exactly(backend, dtype, restore_threads):
    # The kernel behind (W + Wᵀ) z as one BLAS product: tiles of 64 / 32
    # entries a side, so sizes around and across tile edges; every entry
    # must be exactly w_ij + w_ji (one IEEE addition) for any thread count.
    from pyloss._defs.metric import kernels
    sym = kernels(backend, np.dtype(dtype))[4]
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 31, 32, 33, 63, 64, 65, 129, 700):
        w0 = rng.standard_normal((n, n)).astype(dtype)
        want = w0 + w0.T
        for nt in (1, 2, 3):
            pl.set_num_threads(nt)
            w = w0.copy()
            sym(w, nt)
            assert np.array_equal(w, want), (backend, dtype, n, nt)



@pytest.mark.parametrize("backend", BACKENDS[:-1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nt_xent_symmetric_backward_equals_w_plus_w_transposed(backend, dtype, restore_threads):
    # nt_xent's gradient writes G = W + Wᵀ row by row from per-row statistics
    # (pyloss/_defs/metric.py, _symmetric_grad): one exp per entry while
    # 2/τ times the bound on |s| allows, two otherwise (bound 0).  Both forms
    # must give simrows' row losses bit for bit, and W + Wᵀ formed the other
    # way (simrows writes W, symmetrize adds its transpose) to a few ulps;
    # thread counts must not change a bit.
    from pyloss._defs.metric import _gram, _normalize, kernels
    K = kernels(backend, np.dtype(dtype))
    rng = np.random.default_rng(11)
    n = 37
    z, _ = _normalize(rng.standard_normal((2 * n, 8)).astype(dtype))
    z[5] = 0                                      # a zero row: all its similarities 0
    for tau in (0.5, 0.07, 1 / 31.5):
        it = 1.0 / tau
        S = _gram(z)
        W, rl = S.copy(), np.empty(2 * n)
        K.simrows(W, it, n, True, rl, True, 1)
        K.symmetrize(W, 1)
        tol = (2e-6 if dtype == np.float32 else 1e-14) * np.abs(W).max()
        out = []
        for bound, one in ((1.0, True), (0.0, False)):
            for nt in (1, 2):
                pl.set_num_threads(nt)
                G, rl2 = S.copy(), np.empty(2 * n)
                st = K.statrows(G, it, n, True, bound, rl2, nt)
                assert bool(st[-1]) == one
                K.symgrad_rows(G, it, n, True, st, nt)
                assert np.array_equal(rl2, rl), (tau, bound, nt)
                np.testing.assert_allclose(G, W, rtol=0, atol=tol, err_msg=f"tau={tau} bound={bound}")
                out.append(G)
        assert np.array_equal(out[0], out[1]) and np.array_equal(out[2], out[3])
