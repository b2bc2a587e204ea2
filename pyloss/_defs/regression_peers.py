"""The regression losses' peers for ``pyloss bench`` and the tests: the loss
written over an array namespace ``ns`` (torch or jax.numpy operations, filled
by pyloss.bench.peers), PyTorch's own function where it has one, and the NumPy
one-liner a user writes.  Declared on the losses by pyloss._defs.regression;
nothing here imports torch or jax."""
import math

import numpy as np


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_mse(ns, o):
    return lambda p, t: ns.mean((p - t) ** 2)


def f_mae(ns, o):
    return lambda p, t: ns.mean(ns.abs(p - t))


def f_huber(ns, o):
    dl = o["delta"]

    def f(p, t):
        r = p - t
        a = ns.abs(r)
        return ns.mean(ns.where(a <= dl, 0.5 * r * r, dl * (a - 0.5 * dl)))
    return f


def f_smooth_l1(ns, o):
    return lambda p, t: ns.mean(ns.smooth_l1(p, t, o["beta"]))


def f_log_cosh(ns, o):
    ln2 = math.log(2.0)

    def f(p, t):
        r = p - t
        return ns.mean(ns.logaddexp(r, -r) - ln2)
    return f


def f_quantile(ns, o):
    q = o["q"]

    def f(p, t):
        u = t - p
        return ns.mean(ns.maximum(q * u, (q - 1) * u))
    return f


def f_pseudo_huber(ns, o):
    d = o["delta"]
    return lambda p, t: ns.mean(d * d * (ns.sqrt(1 + ((p - t) / d) ** 2) - 1))


def f_fair(ns, o):
    c = o["c"]

    def f(p, t):
        x = ns.abs(p - t) / c
        return ns.mean(c * c * (x - ns.log1p(x)))
    return f


def f_expectile(ns, o):
    tau = o["tau"]

    def f(p, t):
        u = t - p
        return ns.mean(ns.where(u < 0, 1 - tau, tau) * u * u)
    return f


# ------------------------------------------------ PyTorch's own (torch, opts) -> f

def torch_mse(torch, o):
    return lambda p, t: torch.nn.functional.mse_loss(p, t)


def torch_mae(torch, o):
    return lambda p, t: torch.nn.functional.l1_loss(p, t)


def torch_huber(torch, o):
    return lambda p, t: torch.nn.functional.huber_loss(p, t, delta=o["delta"])


def torch_smooth_l1(torch, o):
    return lambda p, t: torch.nn.functional.smooth_l1_loss(p, t, beta=o["beta"])


def torch_log_cosh(torch, o):
    F = torch.nn.functional
    ln2 = math.log(2.0)
    return lambda p, t: torch.mean((p - t).abs() + F.softplus(-2 * (p - t).abs()) - ln2)


def torch_quantile(torch, o):
    q = o["q"]
    return lambda p, t: torch.mean(torch.maximum(q * (t - p), (q - 1) * (t - p)))


# ------------------------------------- NumPy one-liners (p, t, opts) -> (value, vg)

def residual_one_liners(p, t, value, grad, residual=np.subtract):
    """(value_fn, vg_fn) of a loss of the residual d = residual(p, t):
    mean(value(d)), and with it the gradient grad(d) / n."""
    n = p.size

    def v():
        return np.mean(value(residual(p, t)))

    def vg():
        d = residual(p, t)
        return np.mean(value(d)), grad(d) / n
    return v, vg


def numpy_mse(p, t, o):
    return residual_one_liners(p, t, lambda d: d ** 2, lambda d: 2 * d)


def numpy_mae(p, t, o):
    return residual_one_liners(p, t, np.abs, np.sign)


def numpy_huber(p, t, o):
    dl = o["delta"]

    def value(r):
        a = np.abs(r)
        return np.where(a <= dl, 0.5 * r * r, dl * (a - 0.5 * dl))
    return residual_one_liners(p, t, value, lambda r: np.clip(r, -dl, dl))


def numpy_smooth_l1(p, t, o):
    n = p.size
    b = o["beta"]
    if b <= 0:
        return None

    def v():
        r = p - t
        a = np.abs(r)
        return np.mean(np.where(a < b, 0.5 * r * r / b, a - 0.5 * b))

    def vg():   # |r| once for the value and the gradient
        r = p - t
        a = np.abs(r)
        return (np.mean(np.where(a < b, 0.5 * r * r / b, a - 0.5 * b)),
                np.where(a < b, r / b, np.sign(r)) / n)
    return v, vg


def numpy_log_cosh(p, t, o):
    return residual_one_liners(p, t, lambda r: np.logaddexp(r, -r) - np.log(2.0), np.tanh)


def numpy_quantile(p, t, o):
    q = o["q"]
    return residual_one_liners(p, t, lambda u: np.maximum(q * u, (q - 1) * u),
                               lambda u: np.where(u > 0, -q, 1 - q),
                               residual=lambda p, t: t - p)


# ------------------------------------------------------------------ scikit-learn

def sklearn_quantile(skl, p, t, o):
    return skl.PinballLoss(quantile=o["q"]), t
