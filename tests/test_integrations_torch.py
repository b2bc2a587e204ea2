"""pyloss.torch drop-ins: values and gradients match torch, gradcheck passes.

Table-driven: every name in pyloss.torch.available() needs an entry in CASES
below (a test fails otherwise), so a loss merged later is covered by adding it.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
plt = pytest.importorskip("pyloss.torch")


def _focal_ref(x, t, alpha=0.25, gamma=2.0, reduction="none"):
    # torchvision.ops.sigmoid_focal_loss, written out (torchvision is optional)
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _reg(g, dtype):
    return (torch.randn(6, 5, generator=g, dtype=dtype), torch.randn(6, 5, generator=g, dtype=dtype))


def _pos_w(g, dtype):
    return torch.rand(6, 5, generator=g, dtype=dtype) + 0.1


# name -> (make(g, dtype) -> tensors, n differentiable, option sets, reference)
CASES = {
    "mse_loss": (_reg, 2, [{}, {"weight": _pos_w}], F.mse_loss),
    "l1_loss": (_reg, 2, [{}, {"weight": _pos_w}], F.l1_loss),
    "huber_loss": (_reg, 2, [{}, {"delta": 0.4}, {"delta": 0.7, "weight": _pos_w}], F.huber_loss),
    "smooth_l1_loss": (_reg, 2, [{}, {"beta": 0.3}], F.smooth_l1_loss),
    "cross_entropy": (lambda g, dt: (torch.randn(6, 4, 3, generator=g, dtype=dt),
                                     torch.randint(0, 4, (6, 3), generator=g)), 1,
                      [{}, {"weight": lambda g, dt: torch.rand(4, generator=g, dtype=dt) + 0.1,
                            "label_smoothing": 0.1}, {"ignore_index": 2}], F.cross_entropy),
    "binary_cross_entropy": (lambda g, dt: (torch.rand(6, 5, generator=g, dtype=dt) * 0.9 + 0.05,
                                            torch.rand(6, 5, generator=g, dtype=dt)), 1,
                             [{}, {"weight": _pos_w}], F.binary_cross_entropy),
    "binary_cross_entropy_with_logits": (
        lambda g, dt: (torch.randn(6, 5, generator=g, dtype=dt) * 3,
                       torch.rand(6, 5, generator=g, dtype=dt)), 1,
        [{}, {"weight": _pos_w, "pos_weight": lambda g, dt: torch.rand(5, generator=g, dtype=dt) + 0.5}],
        F.binary_cross_entropy_with_logits),
    "kl_div": (lambda g, dt: (torch.log_softmax(torch.randn(6, 5, generator=g, dtype=dt), 1),
                              torch.softmax(torch.randn(6, 5, generator=g, dtype=dt), 1)), 1,
               [{}, {"log_target": True}], F.kl_div),
    "triplet_margin_loss": (lambda g, dt: tuple(torch.randn(6, 5, generator=g, dtype=dt) for _ in range(3)),
                            3, [{}, {"margin": 0.5, "p": 1.0, "swap": True}], F.triplet_margin_loss),
    "sigmoid_focal_loss": (lambda g, dt: (torch.randn(6, 5, generator=g, dtype=dt) * 2,
                                          (torch.rand(6, 5, generator=g) > 0.5).to(dt)), 1,
                           [{}, {"alpha": -1.0, "gamma": 0.5}], _focal_ref),
}


def _inputs(name, dtype, opt_set, seed=0):
    make, ndiff, _, _ = CASES[name]
    g = torch.Generator().manual_seed(seed)
    tensors = make(g, dtype)
    if name == "kl_div" and opt_set.get("log_target"):
        tensors = (tensors[0], torch.log(tensors[1]))
    opts = {k: (v(g, dtype) if callable(v) else v) for k, v in opt_set.items()}
    return tensors, ndiff, opts


def _reductions(name):
    return plt.SPECS[name].reductions


def test_every_dropin_has_a_case():
    assert set(plt.available()) <= set(CASES)
    assert {"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"} <= set(plt.available())


@pytest.mark.parametrize("name", plt.available())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_grads_match_torch(name, dtype):
    ref = CASES[name][3]
    for k, opt_set in enumerate(CASES[name][2]):
        for reduction in _reductions(name):
            tensors, ndiff, opts = _inputs(name, dtype, opt_set, seed=k)
            a = [t.clone().requires_grad_(i < ndiff) for i, t in enumerate(tensors)]
            b = [t.clone().requires_grad_(i < ndiff) for i, t in enumerate(tensors)]
            got = getattr(plt, name)(*a, reduction=reduction, **opts)
            with _quiet():
                want = ref(*b, reduction=reduction, **opts)
            assert got.dtype == want.dtype and got.shape == want.shape
            tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(got, want, **tol)
            seed_grad = torch.randn(want.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
            got.backward(seed_grad)
            want.backward(seed_grad)
            for x, y in zip(a, b):
                if y.grad is not None:
                    torch.testing.assert_close(x.grad, y.grad, **tol)


@pytest.mark.parametrize("name", plt.available())
def test_gradcheck(name):
    for k, opt_set in enumerate(CASES[name][2]):
        for reduction in _reductions(name):
            tensors, ndiff, opts = _inputs(name, torch.float64, opt_set, seed=10 + k)
            xs = [t.clone().requires_grad_(i < ndiff) for i, t in enumerate(tensors)]
            f = getattr(plt, name)
            assert torch.autograd.gradcheck(lambda *x: f(*x, reduction=reduction, **opts), xs,
                                            eps=1e-6, atol=1e-6)


def test_no_copy_of_inputs():
    """pyloss sees the tensor's memory: a view of the same buffer."""
    import pyloss._dispatch as D
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    a = plt._np(x, torch.float64)
    assert a.__array_interface__["data"][0] == x.data_ptr()
    assert D._asarray(x.detach(), "pred").__array_interface__["data"][0] == x.data_ptr()


def test_half_precision_and_noncontiguous():
    x = torch.randn(8, 6, dtype=torch.float64).t()           # non-contiguous
    t = torch.randn(6, 8, dtype=torch.float64)
    torch.testing.assert_close(plt.mse_loss(x, t), F.mse_loss(x, t), rtol=1e-12, atol=0)
    h = torch.randn(16, dtype=torch.float16, requires_grad=True)
    out = plt.huber_loss(h, torch.zeros(16, dtype=torch.float16))
    assert out.dtype == torch.float16
    out.backward()
    assert h.grad.dtype == torch.float16


def test_target_gradient_and_errors():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    t = torch.randn(5, dtype=torch.float64, requires_grad=True)
    plt.smooth_l1_loss(x, t, beta=0.5).backward()
    torch.testing.assert_close(t.grad, -x.grad)
    with pytest.raises(ValueError, match="reduction"):
        plt.mse_loss(x, t, reduction="batchmean")
    with pytest.raises(TypeError, match="unexpected"):
        plt.mse_loss(x, t, delta=1.0)


def _quiet():
    import warnings
    cm = warnings.catch_warnings()
    cm.__enter__()
    warnings.simplefilter("ignore")   # F.kl_div(reduction="mean") warns about its definition

    class _Exit:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            cm.__exit__(*a)
    return _Exit()


def test_nn_modules_match_torch():
    x = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(7, 3, dtype=torch.float64)
    for cls, fn in plt.MODULES.items():
        if not hasattr(plt, cls):
            continue
        if fn in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"):
            ours = getattr(plt, cls)(reduction="sum")(x, y)
            theirs = getattr(torch.nn, cls)(reduction="sum")(x, y)
            torch.testing.assert_close(ours, theirs)
    m = plt.HuberLoss(delta=0.3, weight=torch.rand(7, 3, dtype=torch.float64))
    assert "weight" in dict(m.named_buffers())
    torch.testing.assert_close(m(x, y), F.huber_loss(x, y, delta=0.3, weight=m.weight))


@pytest.mark.skipif("kl_div" not in plt.available(), reason="generative family absent")
def test_target_requiring_grad_is_an_error_where_unsupported():
    q = torch.log_softmax(torch.randn(4, 3, dtype=torch.float64), 1).requires_grad_()
    p = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1).requires_grad_()
    with pytest.raises(RuntimeError, match="detach"):
        plt.kl_div(q, p, reduction="batchmean")


def test_inference_without_grad():
    x = torch.randn(9, dtype=torch.float32)
    y = torch.randn(9, dtype=torch.float32)
    with torch.no_grad():
        v = plt.huber_loss(x, y, delta=0.2)
    torch.testing.assert_close(v, F.huber_loss(x, y, delta=0.2))
    assert not v.requires_grad
    torch.testing.assert_close(plt.l1_loss(x, y, reduction="none"), F.l1_loss(x, y, reduction="none"))
