"""giou, diou, ciou against torchvision's formulas and PyTorch autograd.

torchvision does not import next to this CPU build of PyTorch, so its
formulas are re-derived here with torch ops, line for line, from
torchvision/ops/_utils.py (``_loss_inter_union``), giou_loss.py
(``generalized_box_iou_loss``), diou_loss.py (``_diou_iou_loss``) and
ciou_loss.py (``complete_box_iou_loss``); autograd gives the reference
gradient.  The one deliberate difference (SPEC 6.5): the CIoU aspect term
uses atan2(w, h) where torchvision writes atan(w / h) -- equal for h > 0.
"""
import numpy as np
import pytest

import pyloss as pl

BACKENDS = pl.backends()
NAMES = ("giou", "diou", "ciou")


def _tv_inter_union(torch, b1, b2):
    x1, y1, x2, y2 = b1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
    xkis1 = torch.max(x1, x1g)
    ykis1 = torch.max(y1, y1g)
    xkis2 = torch.min(x2, x2g)
    ykis2 = torch.min(y2, y2g)
    intsctk = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def _tv_giou(torch, b1, b2, eps):
    intsctk, unionk = _tv_inter_union(torch, b1, b2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = b1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    miouk = iouk - ((area_c - unionk) / (area_c + eps))
    return 1 - miouk


def _tv_diou_iou(torch, b1, b2, eps):
    intsct, union = _tv_inter_union(torch, b1, b2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = b1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    diagonal_distance_squared = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x_p = (x2 + x1) / 2
    y_p = (y2 + y1) / 2
    x_g = (x1g + x2g) / 2
    y_g = (y1g + y2g) / 2
    centers_distance_squared = ((x_p - x_g) ** 2) + ((y_p - y_g) ** 2)
    loss = 1 - iou + (centers_distance_squared / diagonal_distance_squared)
    return loss, iou


def _tv_ciou(torch, b1, b2, eps):
    diou_loss, iou = _tv_diou_iou(torch, b1, b2, eps)
    x1, y1, x2, y2 = b1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
    w_pred = x2 - x1
    h_pred = y2 - y1
    w_gt = x2g - x1g
    h_gt = y2g - y1g
    v = (4 / (torch.pi ** 2)) * torch.pow((torch.atan(w_gt / h_gt)
                                           - torch.atan(w_pred / h_pred)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou_loss + alpha * v


def _torch_loss(name, p, t, eps, reduction, weight=None):
    torch = pytest.importorskip("torch")
    P = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    T = torch.tensor(t, dtype=torch.float64)
    if name == "giou":
        l = _tv_giou(torch, P, T, eps)
    elif name == "diou":
        l = _tv_diou_iou(torch, P, T, eps)[0]
    else:
        l = _tv_ciou(torch, P, T, eps)
    if weight is not None:
        w = torch.tensor(weight, dtype=torch.float64)
        out = (l * w).sum() / (w.sum() if reduction == "mean" else 1.0)
    else:
        out = {"mean": l.mean(), "sum": l.sum(), "none": l}[reduction]
    out.sum().backward()
    return out.detach().numpy(), P.grad.numpy()


def _boxes(rng, n):
    """Random pairs plus the awkward ones: disjoint, nested, identical, shared
    edges (min/max ties), touching, zero-width and zero-height."""
    xy = rng.uniform(0, 10, (n, 2))
    wh = rng.uniform(0.5, 5, (n, 2))
    txy = xy + rng.normal(0, 2, (n, 2))
    twh = wh * rng.uniform(0.3, 2.0, (n, 2))
    p = np.concatenate([xy, xy + wh], 1)
    t = np.concatenate([txy, txy + twh], 1)
    special_p = [[0, 0, 1, 1], [0, 0, 4, 4], [1, 2, 3, 5], [0, 0, 2, 2], [0, 0, 1, 1],
                 [0, 0, 2, 3], [1, 1, 3, 2]]
    special_t = [[5, 5, 6, 7], [1, 1, 2, 2], [1, 2, 3, 5], [0, 0, 1, 3], [1, 0, 2, 1],
                 [0, 1, 2, 2], [0, 1, 4, 3]]
    return np.vstack([p, special_p]).astype(float), np.vstack([t, special_t]).astype(float)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", NAMES)
def test_equals_torchvision_formula_and_autograd(name, reduction, backend):
    rng = np.random.default_rng(1)
    p, t = _boxes(rng, 200)
    for eps in (1e-7, 1e-3):
        want_v, want_g = _torch_loss(name, p, t, eps, reduction)
        v, g = pl.get(name).value_and_grad(p, t, eps=eps, reduction=reduction, backend=backend)
        np.testing.assert_allclose(v, want_v, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_weights_and_leading_shape(name, backend):
    rng = np.random.default_rng(2)
    p, t = _boxes(rng, 40)
    w = rng.uniform(0.2, 3.0, len(p))
    want_v, want_g = _torch_loss(name, p, t, 1e-7, "mean", weight=w)
    v, g = pl.get(name).value_and_grad(p, t, weight=w, backend=backend)
    np.testing.assert_allclose(v, want_v, rtol=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-14)
    n = len(p) // 2 * 2
    p3, t3 = p[:n].reshape(2, n // 2, 4), t[:n].reshape(2, n // 2, 4)
    none = pl.get(name)(p3, t3, reduction="none", backend=backend)
    assert none.shape == (2, n // 2)
    np.testing.assert_allclose(none.ravel(), pl.get(name)(p[:n], t[:n], reduction="none"),
                               rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_degenerate_boxes_are_finite(name, backend):
    """Disjoint, nested, identical and zero-area boxes: finite values and
    gradients; identical boxes have a (near) zero gradient (ties split)."""
    p = np.array([[0, 0, 1, 1], [0, 0, 4, 4], [1, 2, 3, 5], [2, 2, 2, 2], [0, 0, 0, 3],
                  [0, 1, 5, 1], [3, 3, 3, 3]], float)
    t = np.array([[5, 5, 6, 7], [1, 1, 2, 2], [1, 2, 3, 5], [2, 2, 2, 2], [0, 0, 2, 3],
                  [0, 1, 5, 2], [0, 0, 1, 1]], float)
    for dt in (np.float32, np.float64):
        v, g = pl.get(name).value_and_grad(p.astype(dt), t.astype(dt), reduction="none",
                                           backend=backend)
        assert np.isfinite(v).all() and np.isfinite(g).all(), (v, g)
        assert np.abs(g[2]).max() < 1e-6, g[2]     # identical boxes
        assert abs(float(v[2])) < 1e-6
        assert np.abs(g[3]).max() == 0              # identical zero-size boxes


@pytest.mark.parametrize("name", NAMES)
def test_inverted_box_is_a_value_error_naming_its_index(name):
    p = np.zeros((2, 3, 4))
    p[..., 2:] = 1.0
    t = p.copy()
    p[1, 2] = [2.0, 0.0, 1.0, 1.0]                  # x2 < x1
    with pytest.raises(pl.PylossValueError, match=r"pred_boxes.*\(1, 2\)"):
        pl.get(name)(p, t)
    t[0, 1] = [0.0, 3.0, 1.0, 1.0]                  # y2 < y1
    with pytest.raises(pl.PylossValueError, match=r"target_boxes.*\(0, 1\)"):
        pl.get(name)(t * 0 + [0.0, 0.0, 1.0, 1.0], t)
    with pytest.raises(pl.PylossValueError, match=r"\(\.\.\., 4\)"):
        pl.get(name)(np.zeros((3, 5)), np.zeros((3, 5)))


def test_ciou_zero_height_stays_finite_where_atan_of_ratio_does_not():
    """SPEC 6.5: atan2(w, h) keeps a zero-height box finite (angle pi/2)."""
    p = np.array([[0.0, 1.0, 2.0, 1.0]])
    t = np.array([[0.0, 0.0, 2.0, 2.0]])
    v, g = pl.ciou.value_and_grad(p, t)
    assert np.isfinite(v) and np.isfinite(g).all()
    k = 4 / np.pi ** 2 * (np.pi / 4 - np.pi / 2) ** 2
    want = 1 - 0 + 0 + k * k / (1 - 0 + k + 1e-7)     # I = 0, same centre
    np.testing.assert_allclose(v, want, rtol=1e-6)
