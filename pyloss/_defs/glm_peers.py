"""The GLM losses' peers for ``pyloss bench`` and the tests (see
regression_peers): formulas over ``ns``, scikit-learn's half losses, and the
exp/log costs.  Declared on the losses by pyloss._defs.glm."""


# -------------------------------------------- exp/log costs (sizes, opts) -> (exps, logs)

def log_link_cost(sizes, opts):
    """One exp per element; the deviance adds log(target)."""
    return sizes[0], (sizes[0] if opts.get("deviance") else 0)


def tweedie_cost(sizes, opts):
    """Two exps, e^{(1-p)r} and e^{(2-p)r}, outside sklearn's special powers
    0, 1, 2 (the deviance then adds a third: max(y, 0)^(2-p) = exp((2-p) log y))."""
    n_exp, n_log = log_link_cost(sizes, opts)
    if opts.get("power", 1.5) not in (0, 1, 2):
        n_exp += (2 if opts.get("deviance") else 1) * sizes[0]
    return n_exp, n_log


# ------------------------------------------------------------------ scikit-learn

def sklearn_half(cls, **params):
    """sklearn._loss.loss.`cls`(**params) for the half loss (deviance=False);
    `params` values are option names."""
    def peer(skl, p, t, o):
        if o.get("deviance"):
            return None
        return getattr(skl, cls)(**{k: o[v] for k, v in params.items()}), t
    return peer


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_poisson(ns, o):
    dev = o["deviance"]

    def f(x, y):
        mu = ns.exp(x)
        if dev:
            return ns.mean(2 * (ns.xlogy(y, y) - y * x - y + mu))
        return ns.mean(mu - y * x)
    return f


def f_gamma(ns, o):
    dev = o["deviance"]

    def f(x, y):
        ye = y * ns.exp(-x)
        if dev:
            return ns.mean(2 * (x - ns.log(y) + ye - 1))
        return ns.mean(x + ye)
    return f


def f_tweedie(ns, o):
    p, dev = o["power"], o["deviance"]

    def f(x, y):
        if p == 0:
            l, c = 0.5 * (ns.exp(x) - y) ** 2, 0.0
        elif p == 1:
            l, c = ns.exp(x) - y * x, ns.xlogy(y, y) - y
        elif p == 2:
            l, c = x + y * ns.exp(-x), -ns.log(y) - 1
        else:
            l = ns.exp((2 - p) * x) / (2 - p) - y * ns.exp((1 - p) * x) / (1 - p)
            c = ns.relu(y) ** (2 - p) / ((1 - p) * (2 - p))
        return ns.mean(2 * (l + c) if dev else l)
    return f


def f_exponential(ns, o):
    return lambda x, y: ns.mean(y * ns.exp(-x) + (1 - y) * ns.exp(x))
