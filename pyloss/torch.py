"""Differentiable PyTorch drop-ins backed by pyloss kernels.

``import pyloss.torch as plt`` (needs the ``pyloss[torch]`` extra); ``import
pyloss`` never imports torch.  Each function has the signature of its
``torch.nn.functional`` namesake (``sigmoid_focal_loss``: of
``torchvision.ops.sigmoid_focal_loss``, whose default reduction is ``"none"``)
and returns the same value and gradients; ``torch.nn``-style modules
(``MSELoss``, ``HuberLoss``, ``CrossEntropyLoss``, ... table :data:`MODULES`)
wrap them::

    loss = plt.huber_loss(pred, target, delta=0.5)   # like F.huber_loss
    loss.backward()

How it works: a ``torch.autograd.Function`` whose forward hands the detached
CPU tensors to pyloss without a copy (NumPy views through ``Tensor.numpy()``),
runs the fused ``value_and_grad`` kernel once and saves the gradient; backward
scales that gradient by ``grad_output`` (broadcast over the axes a per-sample
loss reduces).  Inputs on another device are copied to the CPU and the
gradients sent back.  float32 and float64 are computed natively; float16 and
bfloat16 are computed in float32 and answered in the input dtype, as torch
does.  Double backward is not supported (``once_differentiable``).

Which torch function maps to which pyloss loss is :data:`SPECS`, built from
the ``torch_functional`` fact of each registered loss (``pyloss.losses()``,
declared where the loss is defined); :func:`available` lists them.  For the regression
losses the gradient with respect to ``target`` is also returned (it is minus
the prediction's); for the others a target that requires grad raises
``RuntimeError`` (detach it) rather than getting a silently missing gradient.

Weighting conventions follow torch, not pyloss: ``huber_loss``,
``binary_cross_entropy`` and ``binary_cross_entropy_with_logits`` divide a
weighted ``mean`` by the element count (pyloss by the weight sum), so these
drop-ins call pyloss with ``reduction="sum"`` and divide by the count.
"""
import dataclasses

import numpy as np
import torch

import pyloss as _pl

__all__ = ["SPECS", "available"]


@dataclasses.dataclass(frozen=True)
class Spec:
    """How a torch loss function maps onto a pyloss loss.

    loss : pyloss name.  ntensors : positional tensors (differentiable ones
    first, in ``diff``).  options : torch keyword -> (pyloss keyword or None
    when it is only used here, default).  tensor_options : the options that
    are tensors (weights).  broadcast : how a per-sample ``grad_output`` of
    ``reduction="none"`` lines up with the input -- ``"same"`` (elementwise),
    ``"class_axis"`` (insert axis 1: cross_entropy), ``"last_axis"`` (insert
    the last axis: triplet).  count_mean : torch divides a weighted mean by
    the element count.  target_grad : ``"neg"`` when d/d target = -d/d pred.
    reductions : the torch reductions accepted.
    """
    loss: str
    ntensors: int
    diff: int = 1
    options: tuple = ()
    tensor_options: tuple = ()
    broadcast: str = "same"
    count_mean: bool = False
    target_grad: str = None
    reductions: tuple = ("mean", "sum", "none")
    default_reduction: str = "mean"


# torch function name -> Spec, and torch.nn module name -> functional drop-in, from
# the registered losses' ``torch_functional`` facts (ntensors, diff and
# reductions default to the loss's inputs, differentiable inputs and reductions).
SPECS, MODULES = {}, {}
for _loss in map(_pl.get, _pl.losses()):
    if _loss.torch_functional:
        _fact = dict(_loss.torch_functional)
        _fn, _cls = _fact.pop("function"), _fact.pop("module", None)
        SPECS[_fn] = Spec(_loss.name, **{"ntensors": len(_loss.inputs), "diff": len(_loss.diff),
                                         "reductions": _loss.reductions, **_fact})
        if _cls:
            MODULES[_cls] = _fn


def available():
    """Names of the drop-ins usable with this pyloss build."""
    return tuple(n for n, s in SPECS.items() if s.loss in _pl.losses())


# ------------------------------------------------------------------ tensors

_NATIVE = (torch.float32, torch.float64)


def _np(t, compute):
    """A NumPy view of a CPU tensor (no copy when already CPU and native)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_floating_point() and t.dtype not in _NATIVE:
        t = t.to(compute)
    return t.numpy()


def _tensor(a, like):
    """A tensor over NumPy array `a` (no copy), in `like`'s dtype and device."""
    a = np.asarray(a)
    t = torch.from_numpy(a if a.flags.c_contiguous else a.copy())
    if t.dtype != like.dtype or t.device != like.device:
        t = t.to(dtype=like.dtype, device=like.device)
    return t


class _Function(torch.autograd.Function):
    @staticmethod
    def forward(ctx, name, kw, reduction, *tensors):
        spec = SPECS[name]
        loss = _pl.get(spec.loss)
        for i in range(spec.diff + (spec.target_grad is not None), spec.ntensors):
            if ctx.needs_input_grad[3 + i]:
                raise RuntimeError(
                    f"pyloss.torch.{name}: the gradient with respect to input {i} "
                    f"({loss.inputs[i]}) is not computed; detach it")
        floats = [t for t in tensors if t.is_floating_point()]
        out_dtype = floats[0].dtype
        for t in floats[1:spec.diff]:
            out_dtype = torch.promote_types(out_dtype, t.dtype)
        compute = torch.float64 if any(t.dtype == torch.float64 for t in floats) else torch.float32
        arrays = [_np(t, compute) for t in tensors[:spec.ntensors]]
        opts = {}
        for (tname, pname, _), value in zip(spec.options, kw):
            if value is None or pname is None:
                continue
            opts[pname] = _np(value, compute) if torch.is_tensor(value) else value
        count_div = None
        red = reduction
        if spec.count_mean and reduction == "mean" and opts.get("weight") is not None:
            red, count_div = "sum", float(arrays[0].size)
        if any(ctx.needs_input_grad[3:3 + spec.ntensors]):
            value, grad = loss.value_and_grad(*arrays, reduction=red, **opts)
            grads = grad if isinstance(grad, tuple) else (grad,)
        else:   # inference: the value kernel alone, no gradient buffer
            value, grads = loss(*arrays, reduction=red, **opts), ()
        if count_div is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                value = value / value.dtype.type(count_div)
                grads = tuple(g / g.dtype.type(count_div) for g in grads)
        ctx.spec_name = name
        ctx.reduction = reduction
        ctx.save_for_backward(*(_tensor(g, t) for g, t in zip(grads, tensors)))
        return _tensor(np.asarray(value), floats[0]).to(out_dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        spec = SPECS[ctx.spec_name]
        saved = ctx.saved_tensors
        go = grad_output
        if ctx.reduction == "none":
            if spec.broadcast == "class_axis" and saved[0].dim() > 1:
                go = go.unsqueeze(1)
            elif spec.broadcast == "last_axis":
                go = go.unsqueeze(-1)
        grads = [g * go for g in saved]
        if spec.target_grad == "neg" and ctx.needs_input_grad[4]:
            grads.append(-grads[0])
        else:
            grads.append(None)
        n_rest = spec.ntensors - len(grads)
        grads += [None] * n_rest
        return (None, None, None, *grads[:spec.ntensors])


def _make(name, spec):
    option_names = [o[0] for o in spec.options]
    defaults = {o[0]: o[2] for o in spec.options}

    def fn(*tensors, reduction=spec.default_reduction, **kw):
        if len(tensors) != spec.ntensors:
            raise TypeError(f"{name}() takes {spec.ntensors} tensors, got {len(tensors)}")
        unknown = set(kw) - set(option_names)
        if unknown:
            raise TypeError(f"{name}() got unexpected keyword argument(s) {sorted(unknown)}")
        if reduction not in spec.reductions:
            raise ValueError(f"{name}: reduction must be one of {spec.reductions}, got {reduction!r}")
        tensors = tuple(t if torch.is_tensor(t) else torch.as_tensor(t) for t in tensors)
        values = tuple(kw.get(o, defaults[o]) for o in option_names)
        return _Function.apply(name, values, reduction, *tensors)

    fn.__name__ = fn.__qualname__ = name
    args = ", ".join(f"{o}={defaults[o]!r}" for o in option_names)
    fn.__doc__ = (f"Drop-in for torch's ``{name}`` computed by ``pyloss.{spec.loss}``.\n\n"
                  f"    Keywords: ``reduction={spec.default_reduction!r}``"
                  f"{', ' + args if args else ''}.  See the module docstring.\n")
    return fn


for _name in available():
    globals()[_name] = _make(_name, SPECS[_name])
    __all__.append(_name)

def _module(cls_name, fn_name):
    spec = SPECS[fn_name]
    tensor_opts = spec.tensor_options

    def __init__(self, reduction=spec.default_reduction, **kw):
        torch.nn.Module.__init__(self)
        self.reduction = reduction
        self._kw = {}
        for k, v in kw.items():
            if k in tensor_opts and v is not None:
                self.register_buffer(k, torch.as_tensor(v))   # follows .to()/.double()
            else:
                self._kw[k] = v

    def forward(self, *tensors):
        kw = dict(self._kw)
        kw.update({k: getattr(self, k) for k in tensor_opts if k in self._buffers})
        return globals()[fn_name](*tensors, reduction=self.reduction, **kw)

    doc = f"``torch.nn.{cls_name}`` computed by pyloss (see :func:`{fn_name}`)."
    return type(cls_name, (torch.nn.Module,), {"__init__": __init__, "forward": forward,
                                               "__doc__": doc, "__module__": __name__})


for _cls, _fn in MODULES.items():
    if _fn in globals():
        globals()[_cls] = _module(_cls, _fn)
        __all__.append(_cls)
