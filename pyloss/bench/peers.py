"""The peers of ``pyloss bench`` (each optional, imported only when present):
PyTorch CPU (forward, and forward+backward), JAX (``jit(f)``,
``jit(value_and_grad(f))``), scikit-learn's ``sklearn._loss`` and the loss
written as a NumPy user would ("numpy"; "numpy-ref" is pyloss's own NumPy
backend).  PyTorch uses its own function where it has one, else the loss
written out once over torch or JAX operations; the backward pass goes to every
differentiable input, as pyloss's does.  The per-loss formulas are facts of
the loss (``peers``, ``peers_apply``, ``sklearn_peer``) declared in
``pyloss/_defs/*_peers.py``; this module only asks the registry and calls them.
A peer is left out where its formula is not pyloss's (weights, ``pos_weight``,
per-class ``alpha``, probability targets, label-map targets)."""
from types import SimpleNamespace

import numpy as np


def _fact(name, key):
    """Fact `key` (see Loss.declare) of the registered loss called `name`, or None."""
    import pyloss as pl
    return getattr(pl.get(name), key) if name in pl.losses() else None


def _peer_fact(name, key):
    """The loss's peer `key` ("formula", "torch", "numpy"; see Loss.peers), or None."""
    return (_fact(name, "peers") or {}).get(key)


def _opts_of(loss, opts):
    merged = dict(loss.options)
    merged.update(opts)
    return merged


def _numpy_peer(name, arrays, o):
    """The loss as a NumPy user writes it (its ``peers["numpy"]``): (value_fn, vg_fn) or None."""
    if len(arrays) != 2 or o.get("weight") is not None:
        return None
    make = _peer_fact(name, "numpy")
    return make(*arrays, o) if make is not None else None


# The peers' formulas (``loss.peers["formula"]``) are written once, over a
# small namespace of array operations (`ns`) that `_torch_ops` and `_jax_ops`
# fill for each framework; each function of the inputs, in `loss.inputs`
# order, returns the loss with the example's options and reduction "mean"
# exactly as pyloss defines it.  PyTorch uses its own function where it has
# one (``loss.peers["torch"]``, `_torch_native`).

def _torch_ops(torch):
    F = torch.nn.functional

    def reduce(fn):
        def r(x, axis=None):
            if axis is None:
                return fn(x)
            return x if axis == () else fn(x, dim=axis)   # torch reads dim=() as "all"
        return r

    return SimpleNamespace(
        exp=torch.exp, log=torch.log, log1p=torch.log1p, abs=torch.abs, sqrt=torch.sqrt,
        where=torch.where, maximum=torch.maximum, minimum=torch.minimum,
        logaddexp=torch.logaddexp, xlogy=torch.xlogy, relu=torch.relu, sigmoid=torch.sigmoid,
        softplus=F.softplus, sum=reduce(torch.sum), mean=reduce(torch.mean),
        amax=lambda x, axis: torch.amax(x, dim=axis),
        softmax=lambda x, axis: torch.softmax(x, dim=axis),
        log_softmax=lambda x, axis: torch.log_softmax(x, dim=axis),
        clip_min=lambda x, lo: torch.clamp(x, min=lo),
        take1=lambda x, idx: torch.gather(x, 1, idx.long().unsqueeze(1)).squeeze(1),
        bce_logits=lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
        smooth_l1=lambda p, t, beta: F.smooth_l1_loss(p, t, beta=beta, reduction="none"),
        cat=lambda xs: torch.cat(xs, 0), arange=torch.arange,
        atan=torch.atan, stop_gradient=lambda x: x.detach(),
        cumsum=lambda x, axis: torch.cumsum(x, dim=axis),
        sort_desc=lambda x, axis: torch.sort(x, dim=axis, descending=True, stable=True),
        gather=lambda x, idx, axis: torch.gather(x, axis, idx),
        one_hot=lambda t, c, like: F.one_hot(t.long(), c).movedim(-1, 1).to(like.dtype),
        swapaxes=lambda x, a, b: x.transpose(a, b),
        concat=lambda xs, axis: torch.cat(xs, dim=axis))


def _jax_ops(jax):
    import jax.scipy.special
    jnp = jax.numpy
    softplus = jax.nn.softplus

    def smooth_l1(p, t, beta):
        r = p - t
        a = jnp.abs(r)
        if beta == 0:   # no 0.5 r^2 / 0 branch: jnp.where would carry its nan gradient
            return a
        return jnp.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)

    def sort_desc(x, axis):
        perm = jnp.argsort(-x, axis=axis, stable=True)
        return jnp.take_along_axis(x, perm, axis=axis), perm

    return SimpleNamespace(
        exp=jnp.exp, log=jnp.log, log1p=jnp.log1p, abs=jnp.abs, sqrt=jnp.sqrt,
        where=jnp.where, maximum=jnp.maximum, minimum=jnp.minimum,
        logaddexp=jnp.logaddexp, xlogy=jax.scipy.special.xlogy, relu=jax.nn.relu,
        sigmoid=jax.nn.sigmoid, softplus=softplus, sum=jnp.sum, mean=jnp.mean,
        amax=lambda x, axis: jnp.max(x, axis=axis),
        softmax=lambda x, axis: jax.nn.softmax(x, axis=axis),
        log_softmax=lambda x, axis: jax.nn.log_softmax(x, axis=axis),
        clip_min=jnp.maximum,
        take1=lambda x, idx: jnp.take_along_axis(x, idx[:, None], axis=1)[:, 0],
        bce_logits=lambda x, t: (1 - t) * x + softplus(-x),
        smooth_l1=smooth_l1, cat=lambda xs: jnp.concatenate(xs, 0), arange=jnp.arange,
        atan=jnp.arctan, stop_gradient=jax.lax.stop_gradient,
        cumsum=lambda x, axis: jnp.cumsum(x, axis=axis),
        sort_desc=sort_desc,
        gather=lambda x, idx, axis: jnp.take_along_axis(x, idx, axis=axis),
        one_hot=lambda t, c, like: jnp.moveaxis(jax.nn.one_hot(t, c, dtype=like.dtype), -1, 1),
        swapaxes=jnp.swapaxes,
        concat=lambda xs, axis: jnp.concatenate(xs, axis=axis))


def _applies(name, arrays, o):
    """Whether the peers' formulas are pyloss's for these inputs and options
    (no weights, then the loss's ``peers_apply``: class-index targets, one-hot
    segmentation targets...)."""
    if o.get("weight") is not None or o.get("pos_weight") is not None \
            or o.get("reduction", "mean") != "mean":
        return False
    check = _fact(name, "peers_apply")
    return True if check is None else check([np.asarray(a) for a in arrays], o)


def _formula(name, ns, o):
    make = _peer_fact(name, "formula")
    return make(ns, o) if make is not None else None


def _diff_positions(loss):
    """Positions in `loss.inputs` of the differentiable inputs (`loss.diff`)."""
    return tuple(loss.inputs.index(d) for d in loss.diff if d in loss.inputs)


def _diff_of(name, diff):
    if diff is not None:
        return tuple(diff)
    import pyloss as pl
    return _diff_positions(pl.get(name))


def _torch_native(torch, name, o):
    """PyTorch's own function for the loss (what a PyTorch user calls), or None."""
    make = _peer_fact(name, "torch")
    return make(torch, o) if make is not None else None


def _torch_fn(torch, name, o):
    """A function of the input tensors (loss.inputs order) giving the mean loss, or None."""
    return _torch_native(torch, name, o) or _formula(name, _torch_ops(torch), o)


def _torch_peer(name, arrays, o, threads, diff=None):
    """(forward, forward+backward) in PyTorch; backward to every input in
    `diff` (positions, default the loss's differentiable inputs)."""
    try:
        import torch
    except ImportError:
        return None
    if not _applies(name, arrays, o):
        return None
    f = _torch_fn(torch, name, o)
    if f is None:
        return None
    torch.set_num_threads(threads)
    diff = _diff_of(name, diff)
    X = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    leaves = [X[i].clone().requires_grad_(True) for i in diff]
    Xg = list(X)
    for i, leaf in zip(diff, leaves):
        Xg[i] = leaf

    def v():
        with torch.no_grad():
            return f(*X)

    def vg():
        for leaf in leaves:
            leaf.grad = None
        y = f(*Xg)
        y.backward()
        g = tuple(leaf.grad for leaf in leaves)
        return y, (g[0] if len(g) == 1 else g)
    return v, vg


def _jax_peer(name, arrays, o, diff=None):
    """(jit(f), jit(value_and_grad(f, argnums=diff))) in JAX."""
    try:
        import jax
    except ImportError:
        return None
    if not _applies(name, arrays, o):
        return None
    if any(np.asarray(a).dtype == np.float64 for a in arrays):
        jax.config.update("jax_enable_x64", True)
    f = _formula(name, _jax_ops(jax), o)
    if f is None:
        return None
    diff = _diff_of(name, diff)
    args = [jax.device_put(np.asarray(a)) for a in arrays]
    jv = jax.jit(f)
    jvg = jax.jit(jax.value_and_grad(f, argnums=diff[0] if len(diff) == 1 else diff))

    def v():
        return jv(*args).block_until_ready()

    def vg():
        return jax.block_until_ready(jvg(*args))
    return v, vg


def _sklearn_peer(name, arrays, o, threads):
    """(value, value_and_grad) with scikit-learn's loss object (the loss's
    ``sklearn_peer``), or None."""
    try:
        from sklearn._loss import loss as skl
    except ImportError:
        return None
    if o.get("weight") is not None or len(arrays) != 2:
        return None
    spec = _fact(name, "sklearn_peer")
    p, t = arrays
    if spec is None:
        return None
    if isinstance(spec, str):
        L = getattr(skl, spec)()
    else:
        found = spec(skl, p, t, o)
        if found is None:
            return None
        L, t = found
    yt = np.ascontiguousarray(t, dtype=p.dtype)
    raw = np.ascontiguousarray(p)
    lo = np.empty(yt.shape, p.dtype)
    go = np.empty_like(raw)

    def v():
        return L.loss(yt, raw, loss_out=lo, n_threads=threads).mean()

    def vg():
        l, g = L.loss_gradient(yt, raw, loss_out=lo, gradient_out=go, n_threads=threads)
        return l.mean(), g
    return v, vg

