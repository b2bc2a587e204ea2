"""lovasz_softmax against the reference algorithm of Berman et al. and kornia.

The reference is bermanmaxim/LovaszSoftmax ``pytorch/lovasz_losses.py``
(``lovasz_grad``, ``lovasz_softmax_flat``, ``flatten_probas``,
``lovasz_softmax``, ``mean``), re-derived here with torch ops, line for line,
except that ``torch.sort`` is asked to be stable (ties keep pixel order, the
order pyloss documents; the value does not depend on it); autograd gives the
reference gradient.  kornia's ``lovasz_softmax_loss`` (pip package kornia) is
pyloss's ``from_logits="softmax", classes="all", per_image=True``; kornia has
no ``ignore_index`` and no "present" classes.
"""
import numpy as np
import pytest

import pyloss as pl

BACKENDS = pl.backends()


def _lovasz_grad(torch, gt_sorted, dtype):
    # Berman writes .float(): the Jaccard weights in float32.  dtype=float64
    # keeps them in double so the comparison can be at 1e-12; the float32
    # original is checked too, at its own precision.
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.to(dtype).cumsum(0)
    union = gts + (1 - gt_sorted).to(dtype).cumsum(0)
    jaccard = 1. - intersection / union
    if p > 1:  # cover 1-pixel case
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def _mean(values, empty=0):
    values = list(values)
    if not values:
        return empty
    acc = values[0]
    for v in values[1:]:
        acc = acc + v
    return acc / len(values)


def _flat(torch, probas, labels, classes, dtype):
    if probas.numel() == 0:
        return probas * 0.
    C = probas.size(1)
    losses = []
    for c in range(C):
        fg = (labels == c).to(probas.dtype)
        if classes == "present" and fg.sum() == 0:
            continue
        class_pred = probas[:, c]
        errors = (fg - class_pred).abs()
        errors_sorted, perm = torch.sort(errors, dim=0, descending=True, stable=True)
        fg_sorted = fg[perm]
        weights = _lovasz_grad(torch, fg_sorted, dtype).to(probas.dtype)
        losses.append(torch.dot(errors_sorted, weights))
    return _mean(losses)


def _flatten(probas, labels, ignore):
    B, C = probas.shape[:2]
    probas = probas.reshape(B, C, -1).permute(0, 2, 1).reshape(-1, C)
    labels = labels.reshape(-1)
    if ignore is None:
        return probas, labels
    valid = labels != ignore
    return probas[valid], labels[valid]


def berman(torch, probas, labels, classes="present", per_image=False, ignore=None, dtype=None):
    dtype = dtype or torch.float64
    if per_image:
        return _mean(_flat(torch, *_flatten(p.unsqueeze(0), l.unsqueeze(0), ignore), classes,
                           dtype)
                     for p, l in zip(probas, labels))
    return _flat(torch, *_flatten(probas, labels, ignore), classes, dtype)


def _torch_ref(x, labels, from_logits, float32_weights=False, **kw):
    torch = pytest.importorskip("torch")
    X = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    L = torch.tensor(labels)
    P = torch.softmax(X, 1) if from_logits == "softmax" else X
    v = berman(torch, P, L, dtype=torch.float32 if float32_weights else torch.float64, **kw)
    v = v.sum() if torch.is_tensor(v) else torch.zeros((), dtype=torch.float64) + v
    if v.requires_grad:
        v.backward()
        g = X.grad.numpy()
    else:
        g = np.zeros_like(x)
    return float(v.detach()), g


OPTS = [dict(), dict(classes="all"), dict(per_image=True), dict(ignore_index=2),
        dict(per_image=True, classes="all", ignore_index=0)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("from_logits", [None, "softmax"])
@pytest.mark.parametrize("opts", OPTS, ids=str)
def test_equals_berman_reference_and_autograd(opts, from_logits, backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 6, 5))
    if from_logits is None:
        x = np.abs(x) / (1 + np.abs(x))
    labels = rng.integers(0, 4, (3, 6, 5))
    labels[1] = np.where(labels[1] == 3, 1, labels[1])     # class 3 absent from image 1
    labels[2, :3] = 0 if opts.get("ignore_index") != 0 else 0
    kw = dict(classes=opts.get("classes", "present"), per_image=opts.get("per_image", False),
              ignore=opts.get("ignore_index"))
    want_v, want_g = _torch_ref(x, labels, from_logits, **kw)
    v, g = pl.lovasz_softmax.value_and_grad(x, labels, from_logits=from_logits, backend=backend,
                                            **opts)
    np.testing.assert_allclose(v, want_v, rtol=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-15)
    orig_v, orig_g = _torch_ref(x, labels, from_logits, float32_weights=True, **kw)
    np.testing.assert_allclose(v, orig_v, rtol=1e-6)
    np.testing.assert_allclose(g, orig_g, rtol=1e-5, atol=1e-7)
    if opts.get("per_image"):
        none = pl.lovasz_softmax(x, labels, from_logits=from_logits, reduction="none",
                                 backend=backend, **opts)
        assert none.shape == (3,)
        np.testing.assert_allclose(none.mean(), want_v, rtol=1e-12)
        np.testing.assert_allclose(pl.lovasz_softmax(x, labels, from_logits=from_logits,
                                                     reduction="sum", backend=backend, **opts),
                                   none.sum(), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_are_stable_and_equal_across_backends(backend):
    """Quantised probabilities: many exact ties; the gradient follows the
    stable decreasing order (Berman's code with a stable sort), on every backend."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, (2, 3, 7, 7)) / 4.0
    labels = rng.integers(0, 3, (2, 7, 7))
    for opts in (dict(), dict(per_image=True, classes="all")):
        want_v, want_g = _torch_ref(x, labels, None, classes=opts.get("classes", "present"),
                                    per_image=opts.get("per_image", False), ignore=None)
        v, g = pl.lovasz_softmax.value_and_grad(x, labels, backend=backend, **opts)
        np.testing.assert_allclose(v, want_v, rtol=1e-12)
        np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-15)
        g32 = pl.lovasz_softmax.grad(x.astype(np.float32), labels, backend=backend, **opts)
        np.testing.assert_allclose(g32, want_g, rtol=1e-5, atol=1e-7)


def test_kornia_where_conventions_coincide():
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 9, 8))
    labels = rng.integers(0, 4, (2, 9, 8))
    labels[0] = np.where(labels[0] == 2, 1, labels[0])    # an absent class: "all" counts it
    X = torch.tensor(x, requires_grad=True)
    want = kornia.losses.lovasz_softmax_loss(X, torch.tensor(labels))
    want.backward()
    for backend in BACKENDS:
        v, g = pl.lovasz_softmax.value_and_grad(x, labels, from_logits="softmax", classes="all",
                                                per_image=True, backend=backend)
        np.testing.assert_allclose(v, float(want.detach()), rtol=1e-12)
        # kornia's torch.sort is not stable, but random logits have no ties
        np.testing.assert_allclose(g, X.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_everything_ignored_is_zero_with_zero_gradient(backend):
    x = np.full((2, 3, 4), 0.3)
    labels = np.full((2, 4), 7)
    labels[1, 0] = 1
    v, g = pl.lovasz_softmax.value_and_grad(x, labels, ignore_index=7, backend=backend)
    want_v, want_g = _torch_ref(x, labels, None, classes="present", per_image=False, ignore=7)
    np.testing.assert_allclose(v, want_v, rtol=1e-12)
    np.testing.assert_allclose(g, want_g, atol=1e-15)
    none = pl.lovasz_softmax(x, labels, ignore_index=7, per_image=True, reduction="none",
                             backend=backend)
    assert none[0] == 0.0                                # image 0: every pixel ignored
    labels[1, 0] = 7
    v, g = pl.lovasz_softmax.value_and_grad(x, labels, ignore_index=7, backend=backend)
    assert v == 0.0 and not g.any()


def test_reduction_none_needs_per_image_and_options_are_checked():
    x = np.full((2, 3, 4), 0.3)
    y = np.zeros((2, 4), int)
    with pytest.raises(pl.PylossValueError, match="per_image=True"):
        pl.lovasz_softmax(x, y, reduction="none")
    with pytest.raises(pl.PylossValueError, match="from_logits"):
        pl.lovasz_softmax(x, y, from_logits="sigmoid")
    with pytest.raises(pl.PylossValueError, match="classes"):
        pl.lovasz_softmax(x, y, classes="some")
    with pytest.raises(pl.PylossValueError, match=r"labels.*3 at position \(1, 2\)"):
        y[1, 2] = 3
        pl.lovasz_softmax(x, y)
    with pytest.raises(pl.PylossValueError, match="shape"):
        pl.lovasz_softmax(x, np.zeros((2, 5), int))


def test_threads_do_not_change_the_bits(restore_threads):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3, 200, 200)).astype(np.float32)
    y = rng.integers(0, 3, (4, 200, 200))
    for backend in [b for b in BACKENDS if b != "numpy"]:
        for opts in (dict(), dict(per_image=True)):
            first = None
            for n in (1, 2, 3):
                pl.set_num_threads(n)
                v, g = pl.lovasz_softmax.value_and_grad(x, y, from_logits="softmax",
                                                        backend=backend, **opts)
                if first is None:
                    first = (v, g)
                assert v == first[0] and np.array_equal(g, first[1]), (backend, opts, n)
