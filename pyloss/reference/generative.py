"""Reference generative losses (float64 NumPy).

Row losses (``kl_gaussian``, ``vae``) return ``(loss, grads)``: per-sample
losses and the gradients of their sum.  ``kl_div`` and the GAN terms are
elementwise point functions ``(pred, target, aux, ...) -> (l, dl/dp, d2l/dp2)``
as in ``reference.regression``.
"""
import numpy as np


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def kl_gaussian(mu, logvar):
    """KL(N(mu, e^logvar) ‖ N(0, 1)) summed over the last axis:
    -1/2 Σ (1 + logvar - mu² - e^logvar); grads (mu, (e^logvar - 1)/2)."""
    mu, lv = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    with np.errstate(over="ignore"):
        e = np.exp(lv)
    loss = -0.5 * np.sum(1.0 + lv - mu * mu - e, axis=-1)
    return loss, (mu.copy(), 0.5 * (e - 1.0))


def kl_div(pred, target, aux=None, log_target=False):
    """PyTorch ``F.kl_div`` pointwise: ``xlogy(t, t) - t·x`` (0 where t = 0),
    or ``exp(t)·(t - x)`` with ``log_target``; gradient w.r.t. x (= log q)."""
    x, t = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if log_target:
        et = np.exp(t)
        return et * (t - x), -et, np.zeros_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        xlogy = np.where(t == 0, 0.0, t * np.log(t))
    xlogy = np.where(np.isnan(t), t, xlogy)
    return xlogy - t * x, -t, np.zeros_like(x)


def vae(recon, x, mu, logvar, recon_loss="mse", beta=1.0):
    """Per sample: reconstruction summed over every non-batch axis plus
    ``beta·kl_gaussian``.  recon/x ``(N, ...)``, mu/logvar ``(N, ...)``."""
    r, t = np.asarray(recon, np.float64), np.asarray(x, np.float64)
    n = r.shape[0]
    r2, t2 = r.reshape(n, int(np.prod(r.shape[1:]))), t.reshape(n, int(np.prod(r.shape[1:])))
    if recon_loss == "mse":
        d = r2 - t2
        rec, g = np.sum(d * d, axis=1), 2.0 * d
    else:  # bce_logits: softplus(r) - r·t, gradient sigmoid(r) - t
        rec, g = np.sum(_softplus(r2) - r2 * t2, axis=1), _sigmoid(r2) - t2
    mu = np.asarray(mu, np.float64)
    nl = int(np.prod(mu.shape[1:]))
    kl, (gm, gl) = kl_gaussian(mu.reshape(n, nl), np.asarray(logvar, np.float64).reshape(n, nl))
    return rec + beta * kl, (g.reshape(r.shape), beta * gm.reshape(mu.shape), beta * gl.reshape(mu.shape))


# GAN terms as point functions of one logit (target unused).
def gan_real_bce(x, t=None, aux=None):
    return _softplus(-x), _sigmoid(x) - 1.0, _sigmoid(x) * _sigmoid(-x)


def gan_fake_bce(x, t=None, aux=None):
    return _softplus(x), _sigmoid(x), _sigmoid(x) * _sigmoid(-x)


def gan_real_hinge(x, t=None, aux=None):
    v = 1.0 - x
    return np.where(v < 0, 0.0, v), -np.where(v > 0, 1.0, np.where(np.isnan(v), np.nan, 0.0)), 0.0 * x


def gan_fake_hinge(x, t=None, aux=None):
    v = 1.0 + x
    return np.where(v < 0, 0.0, v), np.where(v > 0, 1.0, np.where(np.isnan(v), np.nan, 0.0)), 0.0 * x


def gan_real_wasserstein(x, t=None, aux=None):
    return -x, np.full_like(x, -1.0), np.zeros_like(x)


def gan_fake_wasserstein(x, t=None, aux=None):
    return x.copy(), np.ones_like(x), np.zeros_like(x)


def gan_real_lsgan(x, t=None, aux=None):
    return 0.5 * (x - 1.0) ** 2, x - 1.0, np.ones_like(x)


def gan_fake_lsgan(x, t=None, aux=None):
    return 0.5 * x * x, x.copy(), np.ones_like(x)


# (real term, fake term) of the discriminator and the generator's term per kind
GAN_D = {"bce": ("gan_real_bce", "gan_fake_bce"), "hinge": ("gan_real_hinge", "gan_fake_hinge"),
         "wasserstein": ("gan_real_wasserstein", "gan_fake_wasserstein"),
         "lsgan": ("gan_real_lsgan", "gan_fake_lsgan")}
GAN_G = {"bce": "gan_real_bce", "hinge": "gan_real_wasserstein",
         "wasserstein": "gan_real_wasserstein", "lsgan": "gan_real_lsgan"}
