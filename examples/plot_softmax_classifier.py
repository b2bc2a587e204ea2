"""
A softmax classifier with ``pl.cross_entropy``
==============================================

Multinomial logistic regression on three Gaussian blobs, trained by gradient descent.
``pl.cross_entropy.value_and_grad`` returns the mean loss and its gradient with respect
to the logits in one fused pass per row (it never materialises a log-softmax);
``label_smoothing`` works as in ``torch.nn.functional.cross_entropy``.
"""
import matplotlib.pyplot as plt
import numpy as np

import pyloss as pl

rng = np.random.default_rng(1)
centers = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
labels = rng.integers(0, 3, 1_500)
X = centers[labels] + 0.9 * rng.standard_normal((labels.size, 2))
Xb = np.column_stack([X, np.ones(len(X))])

W = np.zeros((3, 3))            # (features + bias, classes)
losses = []
for step in range(200):
    logits = Xb @ W
    value, g = pl.cross_entropy.value_and_grad(logits, labels, label_smoothing=0.05)
    W -= 0.5 * Xb.T @ g
    losses.append(float(value))
accuracy = np.mean(np.argmax(Xb @ W, axis=1) == labels)
print(f"final loss {losses[-1]:.4f}, training accuracy {accuracy:.3f}")

xx, yy = np.meshgrid(np.linspace(-5, 5, 200), np.linspace(-4, 5, 200))
grid = np.column_stack([xx.ravel(), yy.ravel(), np.ones(xx.size)])
region = np.argmax(grid @ W, axis=1).reshape(xx.shape)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
ax0.contourf(xx, yy, region, alpha=0.25, levels=[-0.5, 0.5, 1.5, 2.5])
ax0.scatter(X[:, 0], X[:, 1], c=labels, s=4)
ax0.set_title(f"decision regions (accuracy {accuracy:.2f})")
ax1.plot(losses)
ax1.set_xlabel("step")
ax1.set_title("cross-entropy")
plt.show()
