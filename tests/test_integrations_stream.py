"""pyloss.stream.Accumulator: chunks give the value of one call over the concatenation."""
import numpy as np
import pytest

import pyloss as pl
from conftest import CASES
from pyloss.stream import Accumulator, per_element_weight, streamable


def _splits(n, rng):
    """Uneven chunk boundaries over n rows, empty chunks included."""
    cuts = np.sort(rng.integers(0, n + 1, size=4))
    return [0, *cuts.tolist(), n]


def _check_close(got, want, dtype):
    assert got.dtype == want.dtype
    if np.isnan(want):
        assert np.isnan(got)
    elif dtype == np.float64:
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)
    else:  # float32 results: equal up to one ulp (see pyloss.stream docstring)
        np.testing.assert_array_max_ulp(got, want, maxulp=1)


@pytest.mark.parametrize("name", streamable())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_chunks_equal_one_call(name, dtype, reduction, rng):
    loss = pl.get(name)
    case = CASES[name]
    arrays, opts = case.make(rng, (257, 3), dtype)
    n = len(arrays[0])
    for extra in case.option_sets:
        o = dict(opts, **extra)
        want = loss(*arrays, reduction=reduction, **o)
        # array options that run along the rows travel with each chunk
        along = {k: np.asarray(v) for k, v in o.items()
                 if isinstance(v, np.ndarray) and v.ndim == np.ndim(arrays[0]) and v.shape[0] == n}
        acc = Accumulator(name, reduction=reduction,
                          **{k: v for k, v in o.items() if k not in along})
        b = _splits(n, rng)
        for s, e in zip(b[:-1], b[1:]):
            acc.update(*(a[s:e] for a in arrays), **{k: v[s:e] for k, v in along.items()})
        _check_close(acc.result(), want, dtype)


@pytest.mark.parametrize("name", [n for n in streamable() if per_element_weight(pl.get(n))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_mean_and_order_independence(name, dtype, rng):
    loss = pl.get(name)
    (p, t), opts = CASES[name].make(rng, (4099,), dtype)
    w = rng.random(p.shape).astype(dtype)
    want = loss(p, t, weight=w, **opts)
    acc = Accumulator(name, **opts)
    b = _splits(p.size, rng)
    chunks = list(zip(b[:-1], b[1:]))
    for s, e in chunks:
        acc.update(p[s:e], t[s:e], weight=w[s:e])
    got = acc.result()
    _check_close(got, want, dtype)
    acc2 = Accumulator(name, **opts)
    for s, e in chunks[::-1]:
        acc2.update(p[s:e], t[s:e], weight=w[s:e])
    assert acc2.result().tobytes() == got.tobytes()   # exact combination: order-free


def test_large_float32_mean_is_bit_equal_in_practice(rng):
    p = rng.standard_normal(1_000_003).astype(np.float32)
    t = rng.standard_normal(p.size).astype(np.float32)
    acc = Accumulator("log_cosh")
    for s in range(0, p.size, 65_536):
        acc.update(p[s:s + 65_536], t[s:s + 65_536])
    assert acc.result() == pl.log_cosh(p, t)


def test_empty_and_reset():
    acc = Accumulator("mse")
    assert np.isnan(acc.result())
    s = Accumulator("mse", reduction="sum")
    assert s.result() == 0
    acc.update([1.0, 3.0], [0.0, 0.0])
    assert acc.result() == 5.0 and acc.chunks == 1
    acc.reset()
    assert acc.chunks == 0 and np.isnan(acc.result())


def test_pl_stream_attribute_and_errors():
    assert pl.stream.Accumulator is Accumulator
    with pytest.raises(pl.PylossValueError, match="reduction"):
        Accumulator("mse", reduction="none")
    with pytest.raises(pl.PylossTypeError, match="unexpected keyword"):
        Accumulator("huber", delt=1.0)
    with pytest.raises(pl.PylossTypeError, match="weight"):
        Accumulator("mse", weight=[1.0])
    with pytest.raises(pl.PylossValueError, match="delta"):
        Accumulator("huber", delta=-1.0).update([1.0], [0.0])


from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from([n for n in streamable() if pl.get(n).family == "regression"]),
       dtype=st.sampled_from([np.float32, np.float64]), weighted=st.booleans())
def test_any_chunking_matches_one_call(data, name, dtype, weighted):
    n = data.draw(st.integers(0, 300))
    elems = st.floats(-1e3, 1e3, width=32)
    p = data.draw(hnp.arrays(dtype, n, elements=elems))
    t = data.draw(hnp.arrays(dtype, n, elements=elems))
    w = data.draw(hnp.arrays(dtype, n, elements=st.floats(0.0, 10.0, width=32))) if weighted else None
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=6)))
    opts = CASES[name].make(np.random.default_rng(0), (1,), dtype)[1]
    want = pl.get(name)(p, t, weight=w, **opts)
    acc = Accumulator(name, **opts)
    b = [0, *cuts, n]
    for s, e in zip(b[:-1], b[1:]):
        acc.update(p[s:e], t[s:e], weight=None if w is None else w[s:e])
    _check_close(acc.result(), want, dtype)


def test_accumulate_function(rng):
    p, t, w = (rng.standard_normal(1000) for _ in range(3))
    w = np.abs(w)
    chunks = [(p[s:s + 300], t[s:s + 300], w[s:s + 300]) for s in range(0, 1000, 300)]
    _check_close(pl.stream.accumulate("huber", chunks, delta=0.3), pl.huber(p, t, weight=w, delta=0.3),
                 np.float64)
    with pytest.raises(pl.PylossValueError, match="chunk 0"):
        pl.stream.accumulate("mse", [(p,)])


def test_torch_chunks_without_detach(rng):
    torch = pytest.importorskip("torch")
    p = torch.randn(100, dtype=torch.float64, requires_grad=True)
    t = torch.randn(100, dtype=torch.float64)
    acc = Accumulator("huber")
    for s in range(0, 100, 30):
        acc.update(p[s:s + 30], t[s:s + 30])
    _check_close(acc.result(), pl.huber(p.detach().numpy(), t.numpy()), np.float64)
