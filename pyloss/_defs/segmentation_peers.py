"""The segmentation losses' peers for ``pyloss bench`` and the tests (see
regression_peers), when they apply, and the exp/log cost of the activation.
Declared on the losses by pyloss._defs.segmentation (dice_bce and lovasz
share the building blocks)."""

ACTIVATIONS = {None: lambda ns, x: x, "sigmoid": lambda ns, x: ns.sigmoid(x),
               "softmax": lambda ns, x: ns.softmax(x, 1)}


def from_logits_cost(sizes, opts):
    """One exp per element for a sigmoid or softmax activation, none on probabilities."""
    return (sizes[0], 0) if opts.get("from_logits") else (0, 0)


def one_hot_targets(arrays, o):
    """The formulas' inputs: one-hot (or soft) targets of the prediction's shape,
    no ignore_index."""
    return (arrays[0].ndim >= 2 and arrays[1].shape == arrays[0].shape
            and o.get("ignore_index") is None)


def region_sums(ns, p, t, squared=False, batch=False):
    """Per (sample, class) sums over the spatial axes: sum(p t), sum(p), sum(t)
    (sum(p^2), sum(t^2) when squared); per class over the batch too when batch."""
    axes = ((0,) if batch else ()) + tuple(range(2, p.ndim))
    if squared:
        p2, t2 = p * p, t * t
    else:
        p2, t2 = p, t
    return ns.sum(p * t, axes), ns.sum(p2, axes), ns.sum(t2, axes)


def dice_nc(ns, p, t, smooth, squared=False, batch=False):
    inter, sp, st = region_sums(ns, p, t, squared, batch)
    return 1 - (2 * inter + smooth) / (sp + st + smooth)


def region_pt(ns, o):
    """x, t -> (p, t): the activation, then class 0 dropped without the
    background (SPEC 6.4; the softmax spans every class)."""
    act = ACTIVATIONS[o["from_logits"]]
    c0 = 0 if o.get("include_background", True) else 1
    return lambda x, t: (act(ns, x)[:, c0:], t[:, c0:])


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_dice(ns, o):
    pt, batch = region_pt(ns, o), o.get("batch", False)
    return lambda x, t: ns.mean(dice_nc(ns, *pt(x, t), o["smooth"], o["squared"], batch))


def f_iou(ns, o):
    pt, s, batch = region_pt(ns, o), o["smooth"], o.get("batch", False)

    def f(x, t):
        inter, sp, st = region_sums(ns, *pt(x, t), batch=batch)
        return ns.mean(1 - (inter + s) / (sp + st - inter + s))
    return f


def f_tversky(ns, o):
    pt, s, batch = region_pt(ns, o), o["smooth"], o.get("batch", False)
    a, b, g = o["alpha"], o["beta"], o["gamma"]

    def f(x, t):
        inter, sp, st = region_sums(ns, *pt(x, t), batch=batch)
        base = 1 - (inter + s) / (inter + a * (sp - inter) + b * (st - inter) + s)
        return ns.mean(base if g == 1 else base ** g)
    return f


def f_generalized_dice(ns, o):
    pt, s, wt = region_pt(ns, o), o["smooth"], o["weight_type"]

    def f(x, t):
        p, t = pt(x, t)
        inter, sp, st = region_sums(ns, p, t)
        if wt == "uniform":
            w = st * 0 + 1
        else:
            # 1/T^2 (1/T); a class absent from the sample (T = 0, infinite
            # weight) takes the sample's largest finite weight (for T >= 0)
            pos = st > 0
            safe = ns.where(pos, st, 1.0)
            w = ns.where(pos, 1 / (safe * safe) if wt == "square" else 1 / safe, 0.0)
            w = ns.where(pos, w, ns.amax(w, 1)[:, None])
        return ns.mean(1 - (2 * ns.sum(w * inter, 1) + s) / (ns.sum(w * (sp + st), 1) + s))
    return f
