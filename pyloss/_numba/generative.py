"""Numba kernels of the generative family (mirror of csrc/generative_impl.h):
the kl_gaussian and vae row kernels (blocked as in ``_numba.embedding``) and
the elementwise kl_div and GAN terms (``EW_TEMPLATE``)."""
import numba
import numpy as np

from . import BLOCK, PARALLEL, instantiate_elementwise, point, pairwise, pick, vsum  # noqa: F401
from .embedding import rows_per_block
from .vmath import HALF, ONE, ZERO, vexp, vlog, vlog1p_unit


@numba.njit(cache=True, error_model="numpy")
def _kl_row(MU, LV, r, cm, cl, gm, gl, qb):
    """sum_j (1 + lv - mu^2 - e^lv) of row r in float64 (e^lv overflows to inf
    as the math does), its gradient into gm/gl; on row views indexed from 0,
    the terms through the buffer qb and vsum, so the loop vectorises."""
    mu = MU[r]
    lv = LV[r]
    if gm is not None:
        gmr = gm[r]
        glr = gl[r]
    d = mu.size
    for j in range(d):
        m, v = mu[j], lv[j]
        e = vexp(v)
        qb[j] = (1.0 + np.float64(v)) - (np.float64(m) * np.float64(m) + np.float64(e))
        if gm is not None:
            gmr[j] = cm * m
            glr[j] = cl * (e - ONE)
    return vsum(qb, d)


@numba.njit(cache=True)
def kl_gaussian_block(MU, LV, scale, loss, gm, gl, r0, r1):
    t = MU.dtype.type
    cm, cl = t(scale), t(0.5 * scale)
    acc = 0.0
    qb = np.empty(MU.shape[1])
    for r in range(r0, r1):
        l = -0.5 * _kl_row(MU, LV, r, cm, cl, gm, gl, qb)
        acc += l
        if loss is not None:
            loss[r] = l
    return acc


@numba.njit(cache=True)
def kl_gaussian_ser(MU, LV, scale, loss, gm, gl):
    n, d = MU.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in range(nb):
        part[b] = kl_gaussian_block(MU, LV, scale, loss, gm, gl, b * rb, min(n, (b + 1) * rb))
    return pairwise(part)


@numba.njit(cache=True, parallel=PARALLEL)
def kl_gaussian_par(MU, LV, scale, loss, gm, gl):
    n, d = MU.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in numba.prange(nb):
        part[b] = kl_gaussian_block(MU, LV, scale, loss, gm, gl, b * rb, min(n, (b + 1) * rb))
    return pairwise(part)


def _rows(x, n, d):
    return None if x is None else x.reshape(n, d)


def kl_gaussian(n, d, arrays, scale, loss, grads, nthreads):
    """Adapter: arrays (mu, logvar) with n rows of d elements."""
    MU, LV = (x.reshape(n, d) for x in arrays)
    gm, gl = (None, None) if grads is None else (_rows(g, n, d) for g in grads)
    fn = pick(kl_gaussian_ser, kl_gaussian_par, n * d, nthreads)
    return fn(MU, LV, float(scale), None if loss is None else loss.reshape(n), gm, gl)


@numba.njit(cache=True, error_model="numpy")
def _recon_row(rr, xr, grr, bce, sc, two_sc, qb):
    """Reconstruction term of one row (views rr, xr; gradient row grr or
    None), in float64 through qb and vsum: BCE-with-logits softplus(r) - r x
    (and sigmoid(r) - x) from one e = exp(-|r|), or the squared error."""
    nf = rr.size
    for j in range(nf):
        rj, xj = rr[j], xr[j]
        if bce:
            e = vexp(-abs(rj))
            inv = ONE / (ONE + e)
            sp = max(np.float64(rj), 0.0) + np.float64(vlog1p_unit(e, inv))
            qb[j] = sp - np.float64(rj) * np.float64(xj)
            if grr is not None:
                sig = inv if rj >= 0 else e * inv
                grr[j] = sc * (sig - xj)
        else:
            u = rj - xj
            qb[j] = np.float64(u) * np.float64(u)
            if grr is not None:
                grr[j] = two_sc * u
    return vsum(qb, nf)


@numba.njit(cache=True)
def vae_block(R, X, MU, LV, bce, beta, scale, loss, gr, gm, gl, r0, r1):
    t = R.dtype.type
    sc, two_sc = t(scale), t(2.0 * scale)
    cm, cl = t(scale * beta), t(0.5 * scale * beta)
    acc = 0.0
    qb = np.empty(max(MU.shape[1], R.shape[1]))
    for r in range(r0, r1):
        if gr is not None:
            q = _recon_row(R[r], X[r], gr[r], bce, sc, two_sc, qb)
        else:
            q = _recon_row(R[r], X[r], None, bce, sc, two_sc, qb)
        l = q + beta * (-0.5 * _kl_row(MU, LV, r, cm, cl, gm, gl, qb))
        acc += l
        if loss is not None:
            loss[r] = l
    return acc


@numba.njit(cache=True)
def vae_ser(R, X, MU, LV, bce, beta, scale, loss, gr, gm, gl):
    n = R.shape[0]
    rb = rows_per_block(R.shape[1] + MU.shape[1])
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in range(nb):
        part[b] = vae_block(R, X, MU, LV, bce, beta, scale, loss, gr, gm, gl, b * rb,
                            min(n, (b + 1) * rb))
    return pairwise(part)


@numba.njit(cache=True, parallel=PARALLEL)
def vae_par(R, X, MU, LV, bce, beta, scale, loss, gr, gm, gl):
    n = R.shape[0]
    rb = rows_per_block(R.shape[1] + MU.shape[1])
    nb = (n + rb - 1) // rb
    part = np.empty(nb)
    for b in numba.prange(nb):
        part[b] = vae_block(R, X, MU, LV, bce, beta, scale, loss, gr, gm, gl, b * rb,
                            min(n, (b + 1) * rb))
    return pairwise(part)


def vae(n, nf, nl, arrays, bce, beta, scale, loss, grads, nthreads):
    """Adapter: arrays (recon, x, mu, logvar); n rows of nf and nl elements."""
    R, X = (x.reshape(n, nf) for x in arrays[:2])
    MU, LV = (x.reshape(n, nl) for x in arrays[2:])
    if grads is None:
        gr = gm = gl = None
    else:
        gr, gm, gl = _rows(grads[0], n, nf), _rows(grads[1], n, nl), _rows(grads[2], n, nl)
    fn = pick(vae_ser, vae_par, n * (nf + nl), nthreads)
    return fn(R, X, MU, LV, bool(bce), float(beta), float(scale),
              None if loss is None else loss.reshape(n), gr, gm, gl)


# ---------------------------------------------------------------- elementwise

@point
def kl_div_point(x, t, a, log_target, p1):
    # torch F.kl_div: xlogy(t, t) - t x, or exp(t) (t - x) with log_target
    if log_target != 0:
        et = vexp(t)
        return et * (t - x), -et, ZERO  # linear in x: Hessian 0 even where x is not finite
    xlogy = t * ZERO if t == 0 else t * vlog(t)
    return xlogy - t * x, -t, ZERO


@point
def _sig_pair(x):
    # (sigmoid(x), sigmoid(-x), log1p(e)) from e = exp(-|x|) and one division
    e = vexp(-abs(x))
    inv = ONE / (ONE + e)
    lp = vlog1p_unit(e, inv)
    if x >= 0:
        return inv, e * inv, lp
    return e * inv, inv, lp


@point
def gan_real_bce_point(x, t, a, p0, p1):
    s_pos, s_neg, lp = _sig_pair(x)
    return (-x if x < 0 else ZERO) + lp, -s_neg, s_pos * s_neg  # max(-x, 0); x*0 is nan at inf


@point
def gan_fake_bce_point(x, t, a, p0, p1):
    s_pos, s_neg, lp = _sig_pair(x)
    return (x if x > 0 else ZERO) + lp, s_pos, s_pos * s_neg


@point
def gan_real_hinge_point(x, t, a, p0, p1):
    v = ONE - x
    g = -ONE if v > 0 else (ZERO if v == v else v)
    return (ZERO if v < 0 else v), g, ZERO


@point
def gan_fake_hinge_point(x, t, a, p0, p1):
    v = ONE + x
    g = ONE if v > 0 else (ZERO if v == v else v)
    return (ZERO if v < 0 else v), g, ZERO


@point
def gan_real_wasserstein_point(x, t, a, p0, p1):
    return -x, -ONE, ZERO


@point
def gan_fake_wasserstein_point(x, t, a, p0, p1):
    return x, ONE, ZERO


@point
def gan_real_lsgan_point(x, t, a, p0, p1):
    u = x - ONE
    return HALF * u * u, u, ONE


@point
def gan_fake_lsgan_point(x, t, a, p0, p1):
    return HALF * x * x, x, ONE


NAMES = ("kl_div",) + tuple(f"gan_{w}_{k}" for k in ("bce", "hinge", "wasserstein", "lsgan")
                            for w in ("real", "fake"))
instantiate_elementwise(NAMES, globals(), __file__)
