"""Cases for the generative family (see conftest.Case)."""
import numpy as np

from conftest import Case


def _kl_gaussian(rng, shape, dtype):
    return (rng.standard_normal(tuple(shape) + (5,)).astype(dtype),
            rng.standard_normal(tuple(shape) + (5,)).astype(dtype)), {}


def _kl_div(rng, shape, dtype):
    z = rng.standard_normal(tuple(shape) + (4,))
    logq = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    p = rng.random(z.shape)
    p[..., 0] = 0.0                    # exercises the xlogy(0, 0) = 0 convention
    return (logq.astype(dtype), (p / p.sum(axis=-1, keepdims=True)).astype(dtype)), {}


def _vae(rng, shape, dtype):
    n = int(np.prod(shape))
    return (rng.standard_normal((n, 3, 4)).astype(dtype), rng.random((n, 3, 4)).astype(dtype),
            rng.standard_normal((n, 5)).astype(dtype),
            (0.5 * rng.standard_normal((n, 5))).astype(dtype)), {}


def _gan_d(rng, shape, dtype):
    return (rng.standard_normal(shape).astype(dtype),
            rng.standard_normal(shape).astype(dtype)), {}


def _gan_g(rng, shape, dtype):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _hinge_fd_ok(arrays, opts):
    x = np.asarray(arrays[0], np.float64)
    return np.abs(np.abs(x) - 1.0) > 1e-3


KINDS = [{"kind": k} for k in ("bce", "hinge", "wasserstein", "lsgan")]

CASES = {
    "kl_gaussian": Case(_kl_gaussian, hand=[
        (([[1.0, 0.0]], [[0.0, 0.0]]), {}, "sum", 0.5,
         "-1/2 (1 + 0 - 1 - 1) - 1/2 (1 + 0 - 0 - 1) = 1/2"),
        (([[0.0]], [[np.log(2.0)]]), {}, "sum", 0.5 * (2.0 - 1.0 - np.log(2.0)),
         "-1/2 (1 + log 2 - 2)")]),
    "kl_div": Case(_kl_div, option_sets=[{}, {"log_target": True}],
                   reductions=("mean", "sum", "none", "batchmean"), hand=[
        ((np.log([[0.5, 0.5]]), [[1.0, 0.0]]), {}, "batchmean", np.log(2.0),
         "1 * (log 1 - log 1/2) + 0 (xlogy(0, 0) = 0)"),
        ((np.log([[0.25, 0.75]]), np.log([[0.5, 0.5]])), {"log_target": True}, "sum",
         0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0), "KL([.5,.5] || [.25,.75])")]),
    "vae": Case(_vae, option_sets=[{}, {"recon_loss": "bce_logits"}, {"beta": 0.25}],
                hand=[(([[1.0, 2.0]], [[0.0, 2.0]], [[1.0]], [[0.0]]), {}, "sum", 1.5,
                       "(1-0)^2 + (2-2)^2 + KL(mu=1, logvar=0) = 1 + 1/2")]),
    "gan_discriminator": Case(_gan_d, option_sets=KINDS, fd_ok=_hinge_fd_ok, shape_free=(1,), hand=[
        (([2.0, 0.0], [-1.0]), {"kind": "hinge"}, "mean", 0.5, "(relu(-1) + relu(1))/2 + relu(0)"),
        (([0.0], [0.0]), {"kind": "bce"}, "sum", 2.0 * np.log(2.0), "softplus(0) = log 2, twice"),
        (([3.0], [1.0, 2.0]), {"kind": "lsgan"}, "mean", 2.0 + 1.25,
         "(3-1)^2/2 + (1/2 + 2)/2")]),
    "gan_generator": Case(_gan_g, option_sets=KINDS, hand=[
        (([0.0],), {"kind": "bce"}, "sum", np.log(2.0), "softplus(-0) = log 2"),
        (([1.0, 3.0],), {"kind": "lsgan"}, "mean", 1.0, "(0 + 2^2/2)/2")]),
}
