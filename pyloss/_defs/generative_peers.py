"""The generative losses' peers for ``pyloss bench`` and the tests (see
regression_peers) and their exp/log costs.  Declared on the losses by
pyloss._defs.generative."""


def kl_gaussian_rows(ns, mu, logvar):
    return -0.5 * ns.sum(1 + logvar - mu * mu - ns.exp(logvar), -1)


def gan_terms(ns, kind):
    """(real term, fake term) of the discriminator (SPEC 3)."""
    return {"bce": (lambda r: ns.softplus(-r), ns.softplus),
            "hinge": (lambda r: ns.relu(1 - r), lambda f: ns.relu(1 + f)),
            "wasserstein": (lambda r: -r, lambda f: f),
            "lsgan": (lambda r: 0.5 * (r - 1) ** 2, lambda f: 0.5 * f * f)}[kind]


# -------------------------------------------- exp/log costs (sizes, opts) -> (exps, logs)

def kl_div_cost(sizes, opts):
    return (sizes[1], 0) if opts.get("log_target") else (0, sizes[1])


def kl_gaussian_cost(sizes, opts):
    return sizes[1], 0


def vae_cost(sizes, opts):
    bce = str(opts.get("recon_loss", "bce_logits")).startswith("bce")
    return (sizes[0] if bce else 0) + sizes[3], (sizes[0] if bce else 0)


def gan_discriminator_cost(sizes, opts):
    return sizes[0] + sizes[1], sizes[0] + sizes[1]


# ------------------------------------------------------------ formulas (ns, opts) -> f

def f_kl_gaussian(ns, o):
    return lambda mu, logvar: ns.mean(kl_gaussian_rows(ns, mu, logvar))


def f_kl_div(ns, o):
    if o["log_target"]:
        return lambda log_q, p: ns.mean(ns.exp(p) * (p - log_q))
    return lambda log_q, p: ns.mean(ns.xlogy(p, p) - p * log_q)


def f_vae(ns, o):
    beta, mse = o["beta"], o["recon_loss"] == "mse"

    def f(recon, x, mu, logvar):
        n = recon.shape[0]
        rec = (recon - x) ** 2 if mse else ns.bce_logits(recon, x)
        kl = kl_gaussian_rows(ns, mu.reshape(n, -1), logvar.reshape(n, -1))
        return ns.mean(ns.sum(rec.reshape(n, -1), 1) + beta * kl)
    return f


def f_gan_discriminator(ns, o):
    real, fake = gan_terms(ns, o["kind"])
    return lambda r, f: ns.mean(real(r)) + ns.mean(fake(f))


def f_gan_generator(ns, o):
    # the generator's term is the discriminator's real term (-f for hinge)
    term = gan_terms(ns, "wasserstein" if o["kind"] == "hinge" else o["kind"])[0]
    return lambda f: ns.mean(term(f))


# ------------------------------------------------ PyTorch's own (torch, opts) -> f

def torch_kl_div(torch, o):
    # reduction="mean" is this mean, but warns of a future change
    return lambda log_q, p: torch.nn.functional.kl_div(log_q, p, reduction="none",
                                                       log_target=o["log_target"]).mean()
