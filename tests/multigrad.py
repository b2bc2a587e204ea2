"""Generic checks for losses whose gradient may be a tuple (the embedding and
generative families); driven by ``conftest.CASES``."""
import numpy as np

import pyloss as pl

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def cast(arrays, dtype):
    return tuple(np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else a
                 for a in arrays)


def diff_positions(loss):
    return [loss.inputs.index(d) for d in loss.diff]


def check_vs_reference(name, arrays, opts, backend, dtype, reduction, *, grad_ok=None):
    """Backend vs reference: value, gradients, dtypes, and that value-only,
    grad-only and fused calls agree.  grad_ok masks gradient rows that sit on a
    kink (float32 rounding may put them on the other side)."""
    loss = pl.get(name)
    arr = cast(arrays, dtype)
    ref_in = cast(arr, np.float64)
    vr, gr = loss.value_and_grad(*ref_in, reduction=reduction, backend="numpy", **opts)
    v, g = loss.value_and_grad(*arr, reduction=reduction, backend=backend, **opts)
    tol = TOL[dtype]
    assert np.asarray(v).dtype == np.dtype(dtype)
    scale = 1.0 + float(np.max(np.abs(vr))) if np.size(vr) else 1.0
    np.testing.assert_allclose(np.asarray(v, np.float64), vr, rtol=tol["rtol"],
                               atol=tol["atol"] * scale, err_msg=f"{name} value")
    for i, (a, b) in enumerate(zip(as_tuple(g), as_tuple(gr))):
        assert a.dtype == np.dtype(dtype) and a.shape == b.shape
        a = a.astype(np.float64)
        if grad_ok is not None and grad_ok[i] is not None:
            a, b = np.where(grad_ok[i], a, 0.0), np.where(grad_ok[i], b, 0.0)
        gs = 1.0 + (float(np.max(np.abs(b))) if b.size else 0.0)
        np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * gs,
                                   err_msg=f"{name} grad {i}")
    v1 = loss(*arr, reduction=reduction, backend=backend, **opts)
    g1 = loss.grad(*arr, reduction=reduction, backend=backend, **opts)
    np.testing.assert_array_equal(v1, v)
    for a, b in zip(as_tuple(g1), as_tuple(g)):
        np.testing.assert_array_equal(a, b)


def fd_grads(name, arrays, opts, reduction="sum", h=1e-6):
    """Central finite differences of the reference value, per diff input."""
    loss = pl.get(name)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    out = []
    for pos in diff_positions(loss):
        x = arrays[pos]
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + h
            up = loss.reference(*arrays, reduction=reduction, **opts)
            flat[k] = old - h
            dn = loss.reference(*arrays, reduction=reduction, **opts)
            flat[k] = old
            gflat[k] = (up - dn) / (2 * h)
        out.append(g)
    return out


def check_fd(name, arrays, opts, backend, reduction="sum", ok=None):
    loss = pl.get(name)
    arrays = cast(arrays, np.float64)
    g = as_tuple(loss.grad(*arrays, reduction=reduction, backend=backend, **opts))
    fd = fd_grads(name, arrays, opts, reduction)
    for i, (a, b) in enumerate(zip(g, fd)):
        m = np.ones(a.shape, bool) if ok is None else ok[i]
        np.testing.assert_allclose(a[m], b[m], rtol=1e-5, atol=1e-6, err_msg=f"{name} fd grad {i}")
