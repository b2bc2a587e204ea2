"""pyloss.dask on a real dask.distributed LocalCluster gives the in-memory answer."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import pyloss as pl  # noqa: E402
from conftest import CASES  # noqa: E402
from pyloss.stream import streamable  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # memory_limit=0: in-process workers would measure the whole test process
    # (its compiled Numba kernels included) against a share of the machine's
    # memory and pause at 80% of it, hanging every compute() after that
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None, memory_limit=0)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _close(got, want):
    assert got.dtype == want.dtype
    if np.isnan(want):
        assert np.isnan(got)
    elif want.dtype == np.float64:
        np.testing.assert_allclose(got, want, rtol=1e-14)
    else:
        np.testing.assert_array_max_ulp(got, want, maxulp=1)


@pytest.mark.parametrize("name", streamable())
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_every_streamable_loss_on_a_cluster(client, name, reduction, rng):
    import pyloss.dask as pld
    arrays, opts = CASES[name].make(rng, (301, 4), np.float32)
    if any(isinstance(v, np.ndarray) and v.shape[:1] == (301,) for v in opts.values()):
        pytest.skip("per-row array options are passed as weight= to pyloss.dask")
    want = pl.get(name)(*arrays, reduction=reduction, **opts)
    xs = [da.from_array(a, chunks=(64,) + a.shape[1:]) if k == 0 else da.from_array(a, chunks=97)
          for k, a in enumerate(arrays)]
    got = pld.loss(name, *xs, reduction=reduction, split_every=3, **opts).compute()
    _close(np.asarray(got)[()], want)


def test_weighted_mean_and_none_on_a_cluster(client, rng):
    import pyloss.dask as pld
    p = rng.standard_normal((1000, 7))
    t = rng.standard_normal((1000, 7))
    w = rng.random((1000, 1))
    P, T, W = da.from_array(p, chunks=(128, 7)), da.from_array(t, chunks=(300, 3)), da.from_array(w)
    got = pld.huber(P, T, weight=W, delta=0.7).compute()
    _close(np.asarray(got)[()], pl.huber(p, t, weight=w, delta=0.7))
    none = pld.loss_none("huber", P, T, weight=W, delta=0.7)
    assert none.chunks == P.chunks
    np.testing.assert_array_equal(none.compute(), pl.huber(p, t, weight=w, delta=0.7, reduction="none"))


def test_same_answer_every_run(client, rng):
    import pyloss.dask as pld
    p = da.random.default_rng(3).standard_normal(200_000, chunks=12_345)
    t = da.zeros_like(p)
    a = pld.log_cosh(p, t).compute()
    b = pld.log_cosh(p, t).compute()
    assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    np.testing.assert_allclose(a, pl.log_cosh(p.compute(), t.compute()), rtol=1e-14)


def test_errors():
    import pyloss.dask as pld
    with pytest.raises(pl.PylossValueError, match="rows"):
        pld.mse(da.zeros(4, chunks=2), da.zeros(5, chunks=2))
    with pytest.raises(AttributeError):
        pld.not_a_loss  # noqa: B018


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_on_a_cluster(client, reduction, dtype, rng):
    import pyloss.dask as pld
    p = rng.standard_normal((500, 3)).astype(dtype)
    t = rng.standard_normal((500, 3)).astype(dtype)
    w = rng.random((500, 3)).astype(dtype)
    P, T, W = (da.from_array(a, chunks=(c, 3)) for a, c in ((p, 128), (t, 200), (w, 77)))
    for weight in (None, (W, w)):
        g = pld.grad("log_cosh", P, T, reduction=reduction,
                     weight=None if weight is None else weight[0])
        assert g.chunks == P.chunks
        got = g.compute()
        want = pl.log_cosh.grad(p, t, reduction=reduction, weight=None if weight is None else weight[1])
        assert got.dtype == want.dtype
        np.testing.assert_array_max_ulp(got, want, maxulp=2)
