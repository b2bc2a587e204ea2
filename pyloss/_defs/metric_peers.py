"""The metric-learning losses' peers for ``pyloss bench`` and the tests (see
regression_peers): the N x N matrix written as a PyTorch / JAX user would
(SPEC 6.3).  Declared on the losses by pyloss._defs.metric."""


def l2n(ns, x):
    """F.normalize: x / max(||x||, 1e-12) per row."""
    return x / ns.clip_min(ns.sqrt(ns.sum(x * x, -1)), 1e-12)[:, None]


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_info_nce(ns, o):
    t, norm, sym = o["temperature"], o["normalize"], o["symmetric"]

    def f(q, k):
        if norm:
            q, k = l2n(ns, q), l2n(ns, k)
        s = (q @ k.T) / t
        idx = ns.arange(s.shape[0])
        l = -ns.mean(ns.take1(ns.log_softmax(s, 1), idx))
        if sym:
            l = 0.5 * (l - ns.mean(ns.take1(ns.log_softmax(s.T, 1), idx)))
        return l
    return f


def f_nt_xent(ns, o):
    t = o["temperature"]

    def f(z1, z2):
        z = l2n(ns, ns.cat([z1, z2]))
        m = z.shape[0]
        idx = ns.arange(m)
        s = ns.where(idx[:, None] == idx[None, :], -float("inf"), (z @ z.T) / t)
        return -ns.mean(ns.take1(ns.log_softmax(s, 1), (idx + m // 2) % m))
    return f


def f_supcon(ns, o):
    t = o["temperature"]

    def f(x, y):
        z = l2n(ns, x)
        idx = ns.arange(z.shape[0])
        eye = idx[:, None] == idx[None, :]
        logp = ns.log_softmax(ns.where(eye, -float("inf"), (z @ z.T) / t), 1)
        pos = (y[:, None] == y[None, :]) & ~eye
        npos = ns.sum(pos, 1)
        per = -ns.sum(ns.where(pos, logp, 0.0), 1) / ns.clip_min(npos, 1)
        return ns.sum(ns.where(npos > 0, per, 0.0)) / ns.clip_min(ns.sum(npos > 0), 1)
    return f


def f_batch_triplet(ns, o):
    margin, mining, squared = o["margin"], o["mining"], o["squared"]

    def f(x, y):
        sq = ns.sum(x * x, -1)
        d2 = ns.clip_min(sq[:, None] + sq[None, :] - 2 * (x @ x.T), 0.0)
        # sqrt with a zero gradient at 0 (SPEC 3a) and no nan from the diagonal
        d = d2 if squared else ns.where(d2 > 0, ns.sqrt(ns.where(d2 > 0, d2, 1.0)), 0.0)
        idx = ns.arange(x.shape[0])
        same = y[:, None] == y[None, :]
        pos = same & (idx[:, None] != idx[None, :])
        neg = ~same
        if mining == "batch_hard":
            valid = (ns.sum(pos, 1) > 0) & (ns.sum(neg, 1) > 0)
            dap = ns.amax(ns.where(pos, d, -float("inf")), 1)
            dan = -ns.amax(ns.where(neg, -d, -float("inf")), 1)
            l = ns.where(valid, ns.relu(dap - dan + margin), 0.0)
            return ns.sum(l) / ns.clip_min(ns.sum(valid), 1)
        # batch_all: an N x N x N tensor (what the one-liner costs)
        h = d[:, :, None] - d[:, None, :] + margin
        ok = pos[:, :, None] & neg[:, None, :] & (h > 0)
        return ns.sum(ns.where(ok, h, 0.0)) / ns.clip_min(ns.sum(ok), 1)
    return f


def f_margin_ranking(ns, o):
    m = o["margin"]
    return lambda x1, x2, y: ns.mean(ns.relu(-y * (x1 - x2) + m))


def f_cosine_embedding(ns, o):
    m = o["margin"]

    def f(x1, x2, y):
        cos = ns.sum(x1 * x2, -1) / ns.sqrt((ns.sum(x1 * x1, -1) + 1e-12) * (ns.sum(x2 * x2, -1) + 1e-12))
        return ns.mean(ns.where(y > 0, 1 - cos, ns.relu(cos - m)))
    return f


# ------------------------------------------------ PyTorch's own (torch, opts) -> f

def torch_margin_ranking(torch, o):
    F = torch.nn.functional
    return lambda x1, x2, y: F.margin_ranking_loss(x1, x2, y, margin=o["margin"])


def torch_cosine_embedding(torch, o):
    F = torch.nn.functional
    return lambda x1, x2, y: F.cosine_embedding_loss(x1, x2, y, margin=o["margin"])
