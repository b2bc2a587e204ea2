"""
Comparing losses and their derivatives
======================================

Every elementwise loss in the registry that takes ``(pred, target)`` drawn against
the residual ``r = pred - target``, with its gradient and (where offered) its Hessian,
all computed by pyloss with ``reduction="none"``. The list comes from
``pl.losses()``, so a newly registered loss appears here without editing this file.
"""
import matplotlib.pyplot as plt
import numpy as np

import pyloss as pl

r = np.linspace(-3, 3, 601)
zero = np.zeros_like(r)
fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
for name in pl.losses():
    loss = pl.get(name)
    if loss.family != "regression" or loss.inputs != ("pred", "target"):
        continue
    try:
        value = loss(r, zero, reduction="none")
        grad = loss.grad(r, zero, reduction="none")
    except pl.PylossError:          # a loss whose domain is not the whole line
        continue
    axes[0].plot(r, value, label=name)
    axes[1].plot(r, grad, label=name)
    if loss.has_hessian:
        axes[2].plot(r, loss.hessian(r, zero, reduction="none"), label=name)
for ax, title in zip(axes, ["loss", "gradient", "Hessian (diagonal)"]):
    ax.set_title(title)
    ax.set_xlabel("residual r = pred - target")
    ax.grid(True, alpha=0.3)
axes[0].set_ylim(-0.1, 4)
axes[2].set_ylim(-0.1, 2.5)
axes[0].legend(fontsize=8)
plt.show()
