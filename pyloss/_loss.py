"""The Loss object: value, grad, value_and_grad, hessian and reference.

A concrete loss implements two methods:

``_bind(arrays, opts) -> call``
    validate and coerce the inputs through ``_dispatch`` and return an object
    holding the contiguous arrays, the compute dtype and parsed options.
``_compute(call, backend, reduction, op, out) -> result``
    run the backend's kernel.  ``op`` is ``"value"``, ``"grad"``, ``"vg"``
    (value and grad) or ``"hess"``; ``result`` is the value, the gradient
    (a tuple for several differentiable inputs), ``(value, grad)`` or the
    Hessian diagonal.

Everything else -- argument parsing, reductions, backend choice, checking mode
-- lives here once.  :class:`ElementwiseLoss` is the implementation shared by
every loss that is a function of (pred_i, target_i).
"""
import types

import numpy as np

from . import _dispatch as D
from . import _config
from ._config import _ENV_CHECK, _checking, check_tolerances, get_num_threads
from ._errors import CheckError, PylossError, PylossTypeError

_REGISTRY = {}


class PylossNotImplementedError(PylossError, NotImplementedError):
    """The operation does not exist for this loss (e.g. a Hessian)."""


def losses() -> "tuple[str, ...]":
    """Names of every registered loss, in registration order."""
    return tuple(_REGISTRY)


def get(name: str) -> "Loss":
    """The Loss object registered under `name`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise D.PylossValueError(f"name: expected one of {losses()}, got {name!r}") from None


class _PerLoss:
    """A Loss attribute with a value of its own per loss, built from the loss
    on first access and then kept in the instance's ``__dict__``, which takes
    precedence over this (non-data) descriptor: later reads and calls cost
    what a plain attribute and method call do.  Read on the class it is
    `on_class`."""

    def __init__(self, build, on_class):
        self.build, self.on_class = build, on_class

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, loss, owner=None):
        if loss is None:
            return self.on_class
        value = loss.__dict__[self.name] = self.build(loss)
        return value


def _per_loss_method(fn):
    """Loss method `fn` with, per loss, a copy of it whose ``__signature__``
    names the loss's arrays and options (inspect.signature, help(), IDEs)."""
    def build(loss):
        f = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                               fn.__closure__)
        f.__kwdefaults__ = fn.__kwdefaults__
        f.__doc__ = fn.__doc__
        f.__qualname__ = f"{loss.name}.{fn.__name__}"
        f.__signature__ = loss._signature(fn)
        return types.MethodType(f, loss)
    return _PerLoss(build, fn)


class Loss:
    """A loss with value, gradient, fused value-and-gradient and Hessian.

    Parameters
    ----------
    name : str
        Public name (``pl.<name>``).
    family : str
        Family module under ``reference/``, ``_numba/``, ``losses/`` and
        ``csrc/``.
    inputs : tuple of str
        Names of the positional array arguments.
    diff : tuple of str
        The inputs that ``grad`` differentiates with respect to.
    options : dict
        Keyword-only options and their defaults (``weight`` included where
        the loss takes one).
    hessian : bool
        Whether ``hessian`` is offered.
    example : callable ``(rng, n, dtype) -> (arrays, opts)``
        Typical inputs of about `n` elements (benchmarks, smoke tests).
    """

    reductions = D.REDUCTIONS
    # ---- facts about the loss, declared by its definition module with
    # ``loss.declare(name=value, ...)``.  Integrations, the bench, streaming
    # and plots read them here; none of them keeps a table of loss names.
    # pyloss._boostfacts.BoostFacts for losses usable as boosting objectives
    # (layout, library profiles, init score); set by the loss definitions.
    boosting = None
    # pyloss.torch drop-in: dict with "function" (torch's name), optional "module"
    # (torch.nn class) and pyloss.torch.Spec fields (ntensors, diff, reductions default to the loss's).
    torch_functional = None
    # pyloss.sklearn scorer: (response method, adapter kind "regression" | "multiclass" | "binary").
    sklearn_scorer = None
    # What the "weight" option weights: "element", "class" or "sample" (None: no weight, or
    # "element" for an ElementwiseLoss).
    weight_applies_to = None
    # pyloss.stream rule for one chunk's "mean" denominator: "element" (weight sum or count),
    # "class_targets", "rows" or "batchmean"; None: "element" for an ElementwiseLoss, else not streamable.
    stream_denominator = None
    # The variable `pyloss plot` draws the loss against: "residual", "logit", "prob", "class_logit".
    plot_axis = None
    # `pyloss plot` presets this loss is drawn in: ((preset, axis, title, ((label, options), ...)), ...).
    plot_presets = ()
    # In the few losses `pyloss bench --quick` times.
    bench_quick = False
    # The exps and logs a fused implementation evaluates (the bench's compute floor): (exps,
    # logs) per element of the first input, or (sizes of the inputs, opts) -> (exps, logs); None: none.
    bench_cost = None
    # Peers the bench and tests compare against: {"formula": (ns, opts) -> f over torch/jax.numpy
    # ops, "torch": (torch, opts) -> f (its own function), "numpy": (p, t, opts) -> (value, vg)}.
    peers = None
    # Whether the "formula"/"torch" peers are this loss for (arrays, opts) beyond weight/reduction.
    peers_apply = None
    # scikit-learn peer: a sklearn._loss.loss class name, or (skl, pred, target, opts) -> (loss, target).
    sklearn_peer = None

    def declare(self, **facts):
        """Set facts about this loss (class attributes of :class:`Loss` only:
        a misspelt fact raises instead of being ignored).  Returns the loss."""
        for key, value in facts.items():
            default = getattr(Loss, key, Loss.declare)
            if key.startswith("_") or callable(default) or isinstance(default, property):
                raise AttributeError(f"{self.name}.declare: {key!r} is not a fact of Loss")
            setattr(self, key, value)
        return self

    def __init__(self, name, family, inputs, diff, options, doc, hessian=True, example=None):
        self.name = name
        self.family = family
        self.inputs = tuple(inputs)
        self.diff = tuple(diff)
        self.options = dict(options)
        self.has_hessian = hessian
        self.__doc__ = doc
        self.__name__ = name
        self.example = example
        _REGISTRY[name] = self

    def __reduce__(self):
        # Loss objects hold compiled kernels; pickle them by registry name so
        # they travel to multiprocessing/Dask workers.
        return (get, (self.name,))

    def __repr__(self):
        return f"<pyloss loss {self.name}({', '.join(self.inputs)})>"

    # ------------------------------------------------------------ public API
    # Each loss's signature names its arrays and options, e.g. pl.huber's is
    # (pred, target, *, weight=None, delta=1.0, reduction='mean', backend='auto'):
    # __signature__ here, and per-loss copies of the methods below (_PerLoss).
    __signature__ = _PerLoss(lambda loss: loss._signature(type(loss).__call__, bound=True), None)

    def __call__(self, *arrays, reduction="mean", backend="auto", **opts):
        """The loss value (reduced; per sample for ``reduction="none"``)."""
        return self._run("value", arrays, opts, reduction, backend, None)

    @_per_loss_method
    def grad(self, *arrays, reduction="mean", backend="auto", out=None, **opts):
        """Gradient of the returned value w.r.t. the differentiable inputs."""
        return self._run("grad", arrays, opts, reduction, backend, out)

    @_per_loss_method
    def value_and_grad(self, *arrays, reduction="mean", backend="auto", out=None, **opts):
        """``(value, grad)`` from one fused pass over the inputs."""
        return self._run("vg", arrays, opts, reduction, backend, out)

    @_per_loss_method
    def hessian(self, *arrays, reduction="mean", backend="auto", out=None, **opts):
        """Diagonal of the Hessian of the returned value w.r.t. the prediction."""
        if not self.has_hessian:
            raise PylossNotImplementedError(f"{self.name} offers no Hessian")
        return self._run("hess", arrays, opts, reduction, backend, out)

    @_per_loss_method
    def reference(self, *arrays, reduction="mean", **opts):
        """The NumPy reference value (same as ``backend="numpy"``)."""
        return self._run("value", arrays, opts, reduction, "numpy", None)

    def _signature(self, fn, bound=False):
        """The signature of method `fn` with ``*arrays`` replaced by this
        loss's inputs and ``**opts`` by its options (keyword-only, before
        fn's own keyword-only parameters); without ``self`` if `bound`."""
        import inspect
        P = inspect.Parameter
        params = []
        for p in list(inspect.signature(fn).parameters.values())[1 if bound else 0:]:
            if p.kind is P.VAR_POSITIONAL:
                params += [P(n, P.POSITIONAL_OR_KEYWORD) for n in self.inputs]
                params += [P(k, P.KEYWORD_ONLY, default=v) for k, v in self.options.items()]
            elif p.kind is not P.VAR_KEYWORD:
                params.append(p)
        return inspect.Signature(params)

    # ------------------------------------------------------------ machinery
    def _keyword_arrays(self, arrays, opts):
        """Arrays passed by name, as the signature allows (``pl.huber(pred=p,
        target=t)``), moved from the keywords to their positions; None unless
        every array missing from the positions came by name."""
        named = self.inputs[len(arrays):]
        if not named or not all(n in opts for n in named):
            return None
        opts = dict(opts)
        return tuple(arrays) + tuple(opts.pop(n) for n in named), opts

    def _parse(self, arrays, opts):
        if len(arrays) != len(self.inputs):
            raise PylossTypeError(
                f"{self.name}() takes {len(self.inputs)} positional arrays "
                f"({', '.join(self.inputs)}), got {len(arrays)}")
        unknown = set(opts) - set(self.options)
        if unknown:
            raise PylossTypeError(
                f"{self.name}() got unexpected keyword argument(s) {sorted(unknown)}; "
                f"options are {sorted(self.options) + ['reduction', 'backend']}")
        merged = dict(self.options)
        merged.update(opts)
        return merged

    # Reductions accepted only for some options (checked by _check_reduction
    # once the call is bound), e.g. "none" for lovasz_softmax with per_image.
    conditional_reductions = ()

    def _check_reduction(self, call, reduction):
        """Raise if `reduction` (one of conditional_reductions) does not apply to call."""

    def _run(self, op, arrays, opts, reduction, backend, out):
        try:
            opts = self._parse(arrays, opts)
        except PylossTypeError:  # not for every call: only where arrays came by name
            moved = self._keyword_arrays(arrays, opts)
            if moved is None:
                raise
            arrays, opts = moved
            opts = self._parse(arrays, opts)
        reduction = D.check_reduction(reduction, self.reductions + self.conditional_reductions)
        backend = D.check_backend(backend)
        call = self._bind(arrays, opts)
        if backend == "numba":
            _read_only_inputs(call)
        if reduction in self.conditional_reductions:
            self._check_reduction(call, reduction)
        if out is not None and op == "value":
            raise PylossTypeError("out: only grad, value_and_grad and hessian take out=")
        tol = check_tolerances()
        if tol is not None and backend != "numpy":
            # Run the reference first: `out` may alias an input.
            expect = self._compute(call, "numpy", reduction, op, None)
            got = self._compute(call, backend, reduction, op, out)
            self._check(call, backend, op, got, expect, tol)
            return got
        return self._compute(call, backend, reduction, op, out)

    def _check(self, call, backend, op, got, expect, tol):
        rtol, atol = tol

        def flat(x):
            if isinstance(x, tuple):
                return [a for y in x for a in flat(y)]
            return [np.asarray(x, dtype=np.float64)]

        for a, b in zip(flat(got), flat(expect)):
            if a.shape != b.shape:
                raise CheckError(f"{self.name}: backend={backend} {op} has shape {a.shape}, "
                                 f"reference {b.shape}")
            with np.errstate(all="ignore"):
                diff = np.abs(a - b)
                bad = ~((diff <= atol + rtol * np.abs(b)) | (np.isnan(a) & np.isnan(b)) | (a == b))
            if bad.any():
                worst = float(np.nanmax(np.where(bad, diff, 0.0))) if a.size else float("nan")
                raise CheckError(
                    f"{self.name}: backend={backend} dtype={call.dtype} shape={call.shape} {op}: "
                    f"largest difference from the NumPy reference {worst:.3g} "
                    f"(rtol={rtol}, atol={atol}, {int(bad.sum())} element(s) off)")


def _read_only_inputs(call):
    """Every array of a bound call as pyloss._numba.read_only gives it,
    before a Numba kernel sees it: one compiled variant whoever made the
    arrays.  Outputs are allocated later and stay writeable."""
    from ._numba import read_only       # only on the Numba path: numba is loaded
    names = getattr(type(call), "__slots__", None)
    if names is None:
        d = vars(call)
        for k, v in d.items():
            d[k] = read_only(v)
        return
    for k in names:
        v = getattr(call, k, None)
        if v is not None:
            setattr(call, k, read_only(v))


def _denominator(n, weight):
    return float(n) if weight is None else float(np.sum(weight, dtype=np.float64))


def scalar_of(total, dtype):
    """A float64 total as a NumPy scalar of dtype: a float32 total beyond
    float32's range is inf (IEEE), not a RuntimeWarning from the cast."""
    with np.errstate(over="ignore"):
        return dtype.type(total)


def mean_of(total, denom, dtype):
    """total/denom as a NumPy scalar of dtype; 0/0 is nan without warnings."""
    # over: a float32 loss whose float64 total exceeds float32 is inf (IEEE),
    # not a RuntimeWarning from the cast.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return dtype.type(np.float64(total) / np.float64(denom))


class _EwCall:
    __slots__ = ("pred", "target", "weight", "aux", "dtype", "gdtype", "shape", "p0", "p1", "ref_params")


class ElementwiseLoss(Loss):
    """A loss that is a sum over elements of l(pred_i, target_i).

    ``params(opts) -> (p0, p1, ref_params)`` validates the options and maps
    them to the two scalars the C/Numba kernels take and to the keyword
    arguments of the reference point function.  ``aux`` names an optional
    per-element array option broadcast to the prediction's shape (e.g.
    ``pos_weight``).  ``target_check(target_array)`` may validate target values.
    """

    def __init__(self, name, family, doc, *, params=None, inputs=("pred", "target"),
                 extra_options=None, aux=None, target_check=None, float_target=False,
                 hessian=True, example=None):
        options = {"weight": None}
        options.update(extra_options or {})
        if aux:
            options[aux] = None
        super().__init__(name, family, inputs, inputs[:1], options, doc, hessian,
                         example or _normal_example)
        self._params = params or (lambda o: (0.0, 0.0, {}))
        self._aux = aux
        self._target_check = target_check
        self._float_target = float_target
        self._kernels = {}
        self._fast = None
        self._fast_opts = {}
        self._scalar_options = frozenset(self.options) - {"weight", aux}

    def _run(self, op, arrays, opts, reduction, backend, out):
        # Fast path for the common call -- two C-contiguous ndarrays of one
        # native float dtype, default options, C backend, no checking mode --
        # which skips the general validation because every check it would do
        # is answered by the tests below.  Anything else (or a failed test)
        # takes the general path, which gives the same result or the error.
        # Scalar options (huber's delta, ...) stay on it: their kernel scalars
        # come from the same params() as on the general path, cached per value.
        if ((reduction == "mean" or reduction == "sum") and len(arrays) == 2
                and (backend == "auto" or backend == "c")):
            p, t = arrays
            if type(p) is np.ndarray and type(t) is np.ndarray:
                fast = (self._fast or self._build_fast()).get(p.dtype)
                pf, tf = p.flags, t.flags
                if (fast is not None and t.dtype is p.dtype and p.shape == t.shape
                        and pf.c_contiguous and tf.c_contiguous and pf.aligned and tf.aligned
                        and _checking.get() is None and not _ENV_CHECK):
                    n = p.size
                    w = opts.get("weight") if opts else None
                    # a weight that needs no broadcast, cast or copy
                    if n and (w is None or (
                            type(w) is np.ndarray and w.dtype is p.dtype and w.shape == p.shape
                            and w.flags.c_contiguous and w.flags.aligned)):
                        params = self._fast_params(opts) if opts else self._fast[None]
                        if params is not None:
                            r = fast(op, p, t, n, reduction == "mean", out, params, w)
                            if r is not None:
                                return r
        return Loss._run(self, op, arrays, opts, reduction, backend, out)

    def _fast_params(self, opts):
        """The kernel scalars (p0, p1) for `opts` when the fast path can take
        them (scalar options only, valid values), else None: the general path
        then handles the call, or raises the error.  Cached per (name, type,
        value), so that True never stands in for 1.0."""
        try:  # the weight (checked by the caller) is not a kernel scalar
            key = tuple([(k, type(v), v) for k, v in opts.items() if k != "weight"])
            if not key:
                return self._fast[None]
            params = self._fast_opts.get(key)
        except TypeError:  # an unhashable value (an array): the general path
            return None
        if params is None:
            if not self._scalar_options.issuperset(k for k, _, _ in key):
                return None
            merged = dict(self.options)
            merged.update(opts)
            try:
                p0, p1, _ = self._params(merged)
            except PylossError:
                return None
            params = (p0, p1)
            if len(self._fast_opts) < 64:
                self._fast_opts[key] = params
        return params

    def _build_fast(self):
        """dtype -> fast-path runner (empty when C is unavailable or the loss
        validates targets or has no default parameters); built on first use."""
        # [None]: the default options' (p0, p1), or None; never empty, so
        # `self._fast or ...` builds once.
        fast = {None: None}
        # Only losses whose whole validation is ElementwiseLoss._bind with no
        # value checks qualify: a subclass that checks values (probabilities in
        # [0, 1]) or changes reductions always takes the general path.
        plain = (type(self)._bind is ElementwiseLoss._bind and type(self)._compute is ElementwiseLoss._compute
                 and self.reductions == D.REDUCTIONS)
        if plain and self._target_check is None and D.check_backend("auto") == "c":
            try:
                p0, p1, _ = self._params(dict(self.options))
            except PylossError:  # no valid defaults: always the general path
                p0 = None
            from . import _c
            if p0 is not None and _c.has_kernel(self.name):
                fast[None] = (p0, p1)
                for dt in (D._F32, D._F64):
                    fast[dt] = _fast_runner(_c, _c.kernel(self.name, dt), dt)
        self._fast = fast
        return fast

    def _bind(self, arrays, opts):
        pname, tname = self.inputs
        pred = D.float_input(arrays[0], pname)
        target = D.float_input(arrays[1], tname) if self._float_target else D.real_input(arrays[1], tname)
        D.same_shape(pred, target, pname, tname)
        c = _EwCall()
        c.dtype = dt = D.compute_dtype(pred, target)
        c.gdtype = D.grad_dtype(pred)
        c.shape = pred.shape
        c.p0, c.p1, c.ref_params = self._params(opts)
        if self._target_check is not None:
            self._target_check(target)
        c.pred = D.contiguous(pred, dt)
        c.target = D.contiguous(target, dt)
        w = opts["weight"]
        c.weight = None if w is None else D.broadcast_weight(w, pred.shape, dt)
        a = opts.get(self._aux) if self._aux else None
        c.aux = None if a is None else D.broadcast_weight(a, pred.shape, dt, self._aux)
        return c

    def _kernel(self, backend, dtype):
        key = (backend, dtype)
        k = self._kernels.get(key)
        if k is None:
            if backend == "c":
                from . import _c
                k = _c.elementwise(self.name, dtype)
            elif backend == "numba":
                import importlib
                from ._numba import elementwise
                k = elementwise(importlib.import_module(f"pyloss._numba.{self.family}"), self.name, dtype)
            else:
                k = _reference_elementwise(self)
            self._kernels[key] = k
        return k

    def _compute(self, c, backend, reduction, op, out):
        dt, shape = c.dtype, c.shape
        n = c.pred.size
        scale = 1.0
        if reduction == "mean":
            denom = _denominator(n, c.weight)
            with np.errstate(divide="ignore"):
                scale = float(np.float64(1.0) / np.float64(denom)) if denom != 0 else float("inf")
        loss = np.empty(shape, dt) if op in ("value", "vg") and reduction == "none" else None
        deriv = None
        if op != "value":
            name = "out"
            if out is not None:
                D.check_out(out, shape, c.gdtype, name)
                direct = c.gdtype == dt and not D.overlaps_unsafely(
                    out, c.pred, c.target, c.weight, c.aux)
                deriv = out if direct else np.empty(shape, dt)
            else:
                deriv = np.empty(shape, dt)
        grad = deriv if op in ("grad", "vg") else None
        hess = deriv if op == "hess" else None
        kern = self._kernel(backend, dt)
        total = kern(c.pred, c.target, c.weight, c.aux, c.p0, c.p1, scale, loss, grad, hess,
                     get_num_threads()) if backend != "numpy" else \
            kern(c, scale, loss, grad, hess)
        if out is not None and deriv is not out:
            out[...] = deriv
            deriv = out
        elif deriv is not None and deriv.dtype != c.gdtype:
            deriv = deriv.astype(c.gdtype)
        if op in ("grad", "hess"):
            return deriv
        if reduction == "none":
            value = loss
        elif reduction == "sum":
            value = scalar_of(total, dt)
        else:
            value = mean_of(total, denom, dt)
        return value if op == "value" else (value, deriv)


def _fast_runner(_c, fn, dt):
    """The C elementwise kernel called straight from two validated arrays
    (see ElementwiseLoss._run); returns None to defer to the general path."""
    ffi = _c.ffi
    fb = ffi.from_buffer
    NULL = ffi.NULL
    ctype = _c._CTYPE[dt]
    big = float(np.finfo(dt).max)

    def make(v):
        if -big <= v <= big:
            return dt.type(v)
        return scalar_of(v, dt)  # inf or nan
    empty = np.empty
    add_reduce, f64 = np.add.reduce, np.float64
    threads = _config._threads

    def run(op, p, t, n, mean, out, params, w):
        p0, p1 = params
        if w is None:
            wp, denom = NULL, n
        else:  # the general path's denominator, sum(w) in float64
            wp, denom = fb(ctype, w), float(add_reduce(w, axis=None, dtype=f64))
            if mean and denom == 0:
                return None  # inf scale and 0/0: the general path's errstate rules
        scale = 1.0 / denom if mean else 1.0
        if op == "value":
            total = fn(n, fb(ctype, p), fb(ctype, t), wp, NULL, p0, p1, scale,
                       NULL, NULL, NULL, threads[0])
            return make(total / denom if mean else total)
        if out is None:
            d = empty(p.shape, dt)
        elif (type(out) is np.ndarray and out.dtype is dt and out.shape == p.shape
              and out.flags.c_contiguous and out.flags.writeable and out.flags.aligned
              and not D.overlaps_unsafely(out, p, t, w)):
            d = out
        else:
            return None  # the general path raises the right error
        dp = fb(ctype, d)
        if op == "hess":
            fn(n, fb(ctype, p), fb(ctype, t), wp, NULL, p0, p1, scale, NULL, NULL, dp, threads[0])
            return d
        total = fn(n, fb(ctype, p), fb(ctype, t), wp, NULL, p0, p1, scale, NULL, dp, NULL,
                   threads[0])
        if op == "grad":
            return d
        return make(total / denom if mean else total), d
    return run


def _normal_example(rng, n, dtype):
    return (rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)), {}


def _reference_elementwise(loss):
    """The numpy backend for an elementwise loss: its reference point function."""
    import importlib
    mod = importlib.import_module(f"pyloss.reference.{loss.family}")
    point = getattr(mod, loss.name)

    def run(c, scale, out_loss, grad, hess):
        p = c.pred.astype(np.float64)
        t = c.target.astype(np.float64)
        a = None if c.aux is None else c.aux.astype(np.float64)
        w = 1.0 if c.weight is None else c.weight.astype(np.float64)
        with np.errstate(all="ignore"):
            l, g, h = point(p, t, a, **c.ref_params)
            wl = w * l
            if out_loss is not None:
                out_loss[...] = wl
            if grad is not None:
                grad[...] = scale * (w * g)
            if hess is not None:
                hess[...] = scale * (w * h)
            return float(np.sum(wl)) if out_loss is None else 0.0
    return run
