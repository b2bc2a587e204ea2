"""Error bounds of the vector math in csrc/common.h, of its Numba twin
(pyloss/_numba/vmath.py), and of every classification kernel built on them.

The math kernels (pl_vexp/pl_vlog/pl_vlog1p_pos, exported by
classification.c for this test, and vexp/vlog/vlog1p_pos run in a Numba loop)
are compared in ulps of their own dtype with NumPy evaluated in long double
(80-bit on x86-64; a correctly rounded result is within 0.5 ulp).  The losses
are compared with the float64 NumPy reference over logits spanning [-1e4, 1e4].
"""
import importlib.util

import numpy as np
import pytest

import pyloss as pl

try:
    from pyloss import _c
except ImportError:                       # pragma: no cover - no cffi here
    _c = None
HAVE_C = _c is not None and _c.lib is not None
HAVE_NUMBA = importlib.util.find_spec("numba") is not None

LD = np.longdouble
EXTENDED = np.finfo(LD).eps < np.finfo(np.float64).eps
DTYPES = [np.float32, np.float64]
IMPLS = [pytest.param("c", marks=pytest.mark.skipif(not HAVE_C, reason="C extension not built")),
         pytest.param("numba", marks=pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed"))]
_numba_loops = {}


def _numba_loop(name):
    """A jitted loop applying pyloss._numba.vmath's `name` elementwise."""
    if name not in _numba_loops:
        import numba

        from pyloss._numba import vmath
        f = getattr(vmath, name)            # vexp, vlog, vlog1p_pos: the C names

        @numba.njit
        def loop(x, y):
            for i in range(x.size):
                y[i] = f(x[i])
        _numba_loops[name] = loop
    return _numba_loops[name]


def _run(name, x, impl="c"):
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    if impl == "numba":
        _numba_loop(name)(x, y)
        return y
    sfx = "_f32" if x.dtype == np.float32 else "_f64"
    getattr(_c.lib, "pl_" + name + sfx)(x.size, _c.ptr(x), _c.ptr(y))
    return y


def _ulps(y, exact, dtype):
    """|y - exact| in units of the spacing of dtype at exact (subnormal spacing below tiny)."""
    with np.errstate(all="ignore"):
        sp = np.spacing(np.abs(exact.astype(dtype))).astype(LD)
        return np.abs(y.astype(LD) - exact) / sp


def _ref_dtype(dtype):
    if dtype == np.float64 and not EXTENDED:
        pytest.skip("no extended long double here to grade float64 math")
    return LD


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_error(dtype, impl, rng):
    _ref_dtype(dtype)
    lo, hi = (-110.0, 95.0) if dtype == np.float32 else (-750.0, 712.0)
    fi = np.finfo(dtype)
    x = np.concatenate([rng.uniform(lo, hi, 400_000), rng.uniform(-2, 2, 100_000),
                        np.linspace(lo, hi, 100_001)]).astype(dtype)
    with np.errstate(all="ignore"):
        exact = np.exp(x.astype(LD))
        rounded = exact.astype(dtype)
    y = _run("vexp", x, impl)
    fin = np.isfinite(rounded) & (rounded != 0)
    assert _ulps(y[fin], exact[fin], dtype).max() <= 1.0      # common.h documents 1 ulp (float), 2 (double)
    sub = fin & (rounded < fi.tiny)
    assert sub.any()                                           # subnormal results are produced, not flushed
    # overflow to inf and underflow to 0 where the exact result does
    np.testing.assert_array_equal(y[~fin], rounded[~fin])
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, fi.smallest_subnormal, fi.max, -fi.max], dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(_run("vexp", special, impl), np.exp(special))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_error(dtype, impl, rng):
    _ref_dtype(dtype)
    fi = np.finfo(dtype)
    span = 88.0 if dtype == np.float32 else 709.0
    x = np.concatenate([np.exp(rng.uniform(-1, 1, 400_000) * span), rng.uniform(0, 4, 100_000),
                        rng.uniform(0.5, 2.0, 100_000),
                        fi.smallest_subnormal * np.array([1, 3, 1000, 2 ** 20, 2 ** 22 + 7]),
                        [fi.tiny, fi.max, 1.0]]).astype(dtype)
    y = _run("vlog", x, impl)
    assert _ulps(y, np.log(x.astype(LD)), dtype).max() <= 1.0
    special = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan], dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(_run("vlog", special, impl), np.log(special))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_log1p_pos_error(dtype, impl, rng):
    _ref_dtype(dtype)
    fi = np.finfo(dtype)
    span = 80.0 if dtype == np.float32 else 700.0
    x = np.concatenate([np.exp(rng.uniform(-1, 1, 400_000) * span), rng.uniform(0, 1, 100_000),
                        fi.smallest_subnormal * np.array([1, 5, 2 ** 20]), [0.0, fi.eps, fi.max]]).astype(dtype)
    y = _run("vlog1p_pos", x, impl)
    assert _ulps(y, np.log1p(x.astype(LD)), dtype).max() <= 1.5
    np.testing.assert_array_equal(_run("vlog1p_pos", np.array([np.inf, np.nan], dtype), impl), [np.inf, np.nan])


# ------------------------------------------------------------------ kernels

def _err_bound(got, ref, dtype, rel, absolute):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert np.all(np.isfinite(got) == np.isfinite(ref))
    eps = np.finfo(dtype).eps
    err = np.abs(got - ref)
    bound = rel * eps * np.abs(ref) + absolute * eps
    worst = np.max(err - bound) if err.size else 0.0
    assert worst <= 0, f"error exceeds bound by {worst:.3g} (max err {err.max():.3g})"


def _wide_logits(rng, shape, dtype):
    # log-uniform magnitudes in [1e-3, 1e4], both signs: every regime of the
    # softmax (ties, p -> 0, p -> 1) appears
    mag = 10.0 ** rng.uniform(-3, 4, shape)
    z = np.where(rng.random(shape) < 0.5, -mag, mag)
    z.flat[: shape[-1]] = 1e4
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", [b for b in pl.backends() if b != "numpy"])
@pytest.mark.parametrize("shape", [(2000, 7), (300, 257), (40, 5, 33)])
def test_softmax_kernels_error(dtype, backend, shape, rng):
    z = _wide_logits(rng, shape, dtype)
    C = shape[1]
    rs = (shape[0],) + shape[2:]
    t = rng.integers(0, C, rs)
    z64 = z.astype(np.float64)
    w = rng.uniform(0.5, 2.0, C)
    p = rng.random(shape)
    p /= p.sum(axis=1, keepdims=True)
    for loss, tgt, opts in [(pl.cross_entropy, t, {}), (pl.cross_entropy, t, {"label_smoothing": 0.1, "weight": w}),
                            (pl.cross_entropy, p, {}), (pl.softmax_focal, t, {"gamma": 2.0}),
                            (pl.softmax_focal, t, {"gamma": 0.5, "alpha": 0.25})]:
        v, g = loss.value_and_grad(z, tgt.astype(dtype) if tgt is p else tgt, reduction="none",
                                   backend=backend, **opts)
        vr, gr = loss.value_and_grad(z64, tgt, reduction="none", backend="numpy", **opts)
        # per-row loss: a few rounding errors of the row's magnitudes
        # (log S and z_y - m, each up to ~2e4); label smoothing's
        # sum_k w_k (z_k - m) is formed as sum w z - W m, whose rounding
        # (~eps max|z| per class) enters times eps/C summed over C classes
        smooth = opts.get("label_smoothing", 0.0) * 2.0 * np.max(np.abs(z64))
        _err_bound(v, vr, dtype, rel=16, absolute=16 + 64 * smooth)
        # gradient entries are probabilities (<= 1 in size, times weights <= 2)
        _err_bound(g, gr, dtype, rel=16, absolute=16)
        if loss.has_hessian:
            h = loss.hessian(z, tgt.astype(dtype) if tgt is p else tgt, reduction="none", backend=backend, **opts)
            hr = loss.hessian(z64, tgt, reduction="none", backend="numpy", **opts)
            _err_bound(h, hr, dtype, rel=16, absolute=16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", [b for b in pl.backends() if b != "numpy"])
def test_binary_kernels_error(dtype, backend, rng):
    n = 200_000
    mag = 10.0 ** rng.uniform(-3, 4, n)
    x = np.where(rng.random(n) < 0.5, -mag, mag).astype(dtype)
    t = rng.choice([0.0, 1.0, 0.25], n).astype(dtype)
    hard = t != 0.25
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    eps = np.finfo(dtype).eps
    tiny = np.finfo(dtype).tiny
    pw = rng.uniform(0.0, 3.0, n)
    # log q >= log(smallest normal): bounds the ulps lost by q^gamma = exp(gamma log q)
    logq = -np.log(tiny)
    cases = [(pl.binary_cross_entropy_with_logits, {}), (pl.binary_cross_entropy_with_logits, {"pos_weight": pw}),
             (pl.sigmoid_focal, {}), (pl.sigmoid_focal, {"gamma": 0.5, "alpha": -1.0}),
             (pl.sigmoid_focal, {"gamma": 3.7})]
    for loss, opts in cases:
        o = {k: (np.asarray(v, dtype) if k == "pos_weight" else v) for k, v in opts.items()}
        gamma = opts.get("gamma", 2.0) if loss is pl.sigmoid_focal else 0.0
        rel = 16 + (0 if gamma in (0.0, 1.0, 2.0) else 2 * gamma * logq)
        for op in ("value_and_grad", "hessian"):
            got = getattr(loss, op)(x, t, reduction="none", backend=backend, **o)
            ref = getattr(loss, op)(x64, t64, reduction="none", backend="numpy", **o)
            got = got if isinstance(got, tuple) else (got,)
            ref = ref if isinstance(ref, tuple) else (ref,)
            for k, (a, b) in enumerate(zip(got, ref)):
                a = np.asarray(a, np.float64)
                assert np.all(np.isfinite(a) == np.isfinite(b))
                err = np.abs(a - b)
                if op == "value_and_grad" and k == 0:
                    # values with hard targets: relative error only (the sum
                    # (1 - t) x + relu(-x) cancels exactly, log1p keeps the rest)
                    bound = rel * eps * np.abs(b) + 64 * tiny
                    assert np.all((err <= bound)[hard]), loss.name
                # everything else: derivatives are sums of terms that cancel
                # (and soft targets make the value one), so allow rounding of
                # terms as large as (1 + |x|) times the output's scale
                scale = np.max(np.abs(b))
                bound = rel * eps * np.abs(b) + 64 * eps * (1 + np.abs(x64)) * scale
                assert np.all(err <= bound), (loss.name, op, k, float(np.max(err - bound)))
    # BCE on probabilities: sigmoid of the wide logits, so 0 and 1 appear
    with np.errstate(over="ignore"):
        p = (1.0 / (1.0 + np.exp(-x64 / 50))).astype(dtype)
    for op in ("value_and_grad", "hessian"):
        got = getattr(pl.binary_cross_entropy, op)(p, t, reduction="none", backend=backend)
        ref = getattr(pl.binary_cross_entropy, op)(p.astype(np.float64), t64, reduction="none", backend="numpy")
        got = got if isinstance(got, tuple) else (got,)
        ref = ref if isinstance(ref, tuple) else (ref,)
        for a, b in zip(got, ref):
            _err_bound(a, b, dtype, rel=16, absolute=16)
