"""Speed of lovasz_softmax and giou against PyTorch, side by side in one run.

    python bench/lovbox_speed.py [--threads 1] [--repeat 7]

lovasz_softmax: value_and_grad on softmax logits 8x4x256x256 float32, against
Berman's reference algorithm written in PyTorch (bermanmaxim/LovaszSoftmax
pytorch/lovasz_losses.py, per-class loop; forward+backward) and the
vectorised form over classes that ``pyloss bench`` uses (pyloss.bench.peers).
giou: value_and_grad on 10^6 boxes float32 against torchvision's formula in
PyTorch (forward+backward).  Also NumPy's stable argsort of one class's
errors, the alternative to the kernels' radix sort.  Medians in ms.
"""
import argparse
import json
import time

import numpy as np


def median_ms(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args()
    import torch
    import pyloss as pl
    from pyloss.bench.peers import _opts_of, _torch_peer
    pl.set_num_threads(a.threads)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    rows = {}

    x = rng.standard_normal((8, 4, 256, 256)).astype(np.float32)
    y = rng.integers(0, 4, (8, 256, 256))
    for b in pl.backends()[:-1]:
        rows[f"lovasz_softmax pyloss {b}"] = median_ms(
            lambda: pl.lovasz_softmax.value_and_grad(x, y, from_logits="softmax", backend=b),
            a.repeat)
    X = torch.from_numpy(x).requires_grad_(True)
    Y = torch.from_numpy(y)

    def berman():
        X.grad = None
        P = torch.softmax(X, 1)
        C = P.shape[1]
        probas = P.permute(0, 2, 3, 1).reshape(-1, C)
        labels = Y.reshape(-1)
        losses = []
        for c in range(C):
            fg = (labels == c).float()
            if fg.sum() == 0:
                continue
            errors = (fg - probas[:, c]).abs()
            errors_sorted, perm = torch.sort(errors, 0, descending=True)
            fg_sorted = fg[perm]
            gts = fg_sorted.sum()
            inter = gts - fg_sorted.cumsum(0)
            union = gts + (1 - fg_sorted).cumsum(0)
            jac = 1.0 - inter / union
            jac[1:] = jac[1:] - jac[:-1]
            losses.append(torch.dot(errors_sorted, jac))
        loss = sum(losses) / len(losses)
        loss.backward()
        return loss
    rows["lovasz_softmax torch Berman loop"] = median_ms(berman, a.repeat)
    o = _opts_of(pl.lovasz_softmax, {"from_logits": "softmax"})
    vg = _torch_peer("lovasz_softmax", (x, y), o, a.threads)[1]
    rows["lovasz_softmax torch vectorised"] = median_ms(vg, a.repeat)
    p1 = torch.softmax(torch.from_numpy(x), 1)[:, 0].reshape(-1).numpy()
    e = np.abs((y.reshape(-1) == 0) - p1).astype(np.float32)
    rows["np.argsort stable, one class (2^19 errors)"] = median_ms(
        lambda: np.argsort(~e.view(np.uint32), kind="stable"), a.repeat)

    (bp, bt), _ = pl.giou.example(rng, 4 * 10 ** 6, np.dtype(np.float32))
    for b in pl.backends()[:-1]:
        rows[f"giou pyloss {b}"] = median_ms(
            lambda: pl.giou.value_and_grad(bp, bt, backend=b), a.repeat)
    o = _opts_of(pl.giou, {})
    rows["giou torch (torchvision formula)"] = median_ms(
        _torch_peer("giou", (bp, bt), o, a.threads)[1], a.repeat)
    for k, v in rows.items():
        print(f"{k:48s} {v:9.2f} ms")
    best_lv = min(rows["lovasz_softmax torch Berman loop"], rows["lovasz_softmax torch vectorised"])
    print(f"lovasz_softmax C / fastest torch: {rows['lovasz_softmax pyloss c'] / best_lv:.3f}")
    print(f"giou C / torch: {rows['giou pyloss c'] / rows['giou torch (torchvision formula)']:.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "median_ms": rows}, f, indent=1)


if __name__ == "__main__":
    main()
