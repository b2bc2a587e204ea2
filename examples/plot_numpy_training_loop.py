"""
A NumPy training loop with ``pl.mse`` and ``pl.huber``
======================================================

Fit a linear model by gradient descent on data with a few gross outliers. The loss
and its gradient with respect to the predictions come from one fused pass
(``value_and_grad``); the chain rule through the linear model is one matrix product.
Huber's bounded gradient keeps the outliers from dragging the fit.
"""
import matplotlib.pyplot as plt
import numpy as np

import pyloss as pl

rng = np.random.default_rng(0)
n = 2_000
x = rng.uniform(-3, 3, n)
y = 1.5 * x + 0.5 + 0.3 * rng.standard_normal(n)
y[rng.choice(n, 60, replace=False)] += rng.uniform(15, 25, 60)     # outliers
X = np.column_stack([x, np.ones(n)])


def fit(loss, steps=300, lr=0.1, **opts):
    w = np.zeros(2)
    history = []
    for _ in range(steps):
        pred = X @ w
        value, g = loss.value_and_grad(pred, y, **opts)   # g = d mean-loss / d pred
        w -= lr * (X.T @ g)                                # chain rule through pred = X w
        history.append(float(value))
    return w, history


w_mse, h_mse = fit(pl.mse)
w_hub, h_hub = fit(pl.huber, delta=1.0)
print("true  slope 1.5, intercept 0.5")
print(f"mse   slope {w_mse[0]:.3f}, intercept {w_mse[1]:.3f}")
print(f"huber slope {w_hub[0]:.3f}, intercept {w_hub[1]:.3f}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
ax0.scatter(x, y, s=3, alpha=0.4, color="0.5")
grid = np.linspace(-3, 3, 2)
ax0.plot(grid, 1.5 * grid + 0.5, "k--", label="truth")
ax0.plot(grid, w_mse[0] * grid + w_mse[1], label="fit with pl.mse")
ax0.plot(grid, w_hub[0] * grid + w_hub[1], label="fit with pl.huber")
ax0.set_ylim(-6, 10)
ax0.legend()
ax0.set_title("fits")
ax1.semilogy(h_mse, label="mse")
ax1.semilogy(h_hub, label="huber")
ax1.set_xlabel("step")
ax1.set_title("training loss")
ax1.legend()
plt.show()
