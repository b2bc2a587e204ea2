"""tversky and generalized_dice (and dice, for reference) value_and_grad (softmax logits 8x4x256x256
float32, one-hot targets) against PyTorch forward+backward: MONAI's
TverskyLoss / GeneralizedDiceLoss and the plain formula of `pyloss bench`
(the losses' peers["formula"], pyloss/_defs/segmentation_peers.py), and the same formula under
jax.jit(jax.value_and_grad(...)) where JAX is installed, side by side in one run.

    python bench/seg_region_vs_torch.py [threads]

threads=1 (default) times process CPU time (robust on a shared machine),
otherwise wall time.  Median of `REPEAT` runs, in ms.
"""
import sys
import time

import numpy as np
import torch

import pyloss as pl
from pyloss.bench.peers import _jax_peer, _opts_of, _torch_fn

REPEAT = 31


def main():
    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(nt)
    pl.set_num_threads(nt)
    clock = time.process_time if nt == 1 else time.perf_counter

    def med(f):
        f()
        ts = []
        for _ in range(REPEAT):
            t0 = clock()
            f()
            ts.append(clock() - t0)
        return float(np.median(ts)) * 1e3

    try:
        import monai.losses as ml
    except ImportError:
        ml = None
    rows = []
    for name, opts in (("tversky", {"alpha": 0.3, "beta": 0.7}), ("generalized_dice", {}),
                       ("dice", {})):
        loss = pl.get(name)
        (x, t), o = loss.example(np.random.default_rng(0), 8 * 4 * 256 * 256, np.dtype(np.float32))
        o.update(opts)
        res = {"pyloss C": med(lambda: loss.value_and_grad(x, t, backend="c", **o)),
               "pyloss numba": med(lambda: loss.value_and_grad(x, t, backend="numba", **o))}
        full = _opts_of(loss, o)
        f = _torch_fn(torch, name, full)
        xt0, tt = torch.from_numpy(x), torch.from_numpy(t)

        def torch_vg(fn):
            def run():
                xt = xt0.clone().requires_grad_(True)
                v = fn(xt, tt)
                v.backward()
                return v.item(), xt.grad
            return run
        res["torch formula"] = med(torch_vg(f))
        v, g = loss.value_and_grad(x, t, **o)   # what each peer is checked against
        if ml is not None:
            s = full["smooth"]
            if name == "tversky":
                m = ml.TverskyLoss(softmax=True, alpha=full["alpha"], beta=full["beta"],
                                   smooth_nr=s, smooth_dr=s)
            elif name == "dice":
                m = ml.DiceLoss(softmax=True, smooth_nr=s, smooth_dr=s)
            else:
                m = ml.GeneralizedDiceLoss(softmax=True, smooth_nr=s, smooth_dr=s)
            v_m, g_m = torch_vg(m)()
            assert abs(v_m - float(v)) <= 1e-5 and np.allclose(g_m.numpy(), g, rtol=1e-3, atol=1e-9)
            res["MONAI"] = med(torch_vg(m))
        jp = _jax_peer(name, (x, t), full)
        if jp is not None:
            v_j, g_j = jp[1]()
            assert abs(float(v_j) - float(v)) <= 1e-5 and np.allclose(np.asarray(g_j), g, rtol=1e-3, atol=1e-9)
            res["jax"] = med(jp[1])
        fastest = min(v for k, v in res.items() if not k.startswith("pyloss"))
        rows.append((name, res, fastest))
    print(f"threads={nt} ({'CPU' if nt == 1 else 'wall'} ms, median of {REPEAT})")
    for name, res, fastest in rows:
        cells = "  ".join(f"{k} {v:.1f}" for k, v in res.items())
        print(f"{name}: {cells}  ->  C / fastest peer = {res['pyloss C'] / fastest:.2f}x")


if __name__ == "__main__":
    main()
