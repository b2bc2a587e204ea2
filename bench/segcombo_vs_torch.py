"""Quick timing of the segmentation/combination kernels against direct PyTorch
autograd implementations of the same formulas (CPU).

    python bench/segcombo_vs_torch.py [threads]

With threads=1 (default) it reports process CPU time (robust on a shared
machine); otherwise wall time.  Minimum over 20 repeats, float32.
"""
import sys
import time

import numpy as np
import torch

import pyloss as pl

F = torch.nn.functional


def main():
    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(nt)
    pl.set_num_threads(nt)
    clock = time.process_time if nt == 1 else time.perf_counter
    rng = np.random.default_rng(0)

    def tb(f, r=20):
        f()
        ts = []
        for _ in range(r):
            t0 = clock()
            f()
            ts.append(clock() - t0)
        return np.min(ts) * 1e3

    (x, t), _ = pl.dice.example(rng, 8 * 4 * 256 * 256, np.float32)
    lab = np.argmax(t, axis=1)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)

    def torch_dice(act="softmax", bce=False):
        xx = xt.detach().requires_grad_(True)
        p = torch.softmax(xx, 1) if act == "softmax" else torch.sigmoid(xx)
        i, d = (p * tt).sum((2, 3)), p.sum((2, 3)) + tt.sum((2, 3))
        loss = (1 - (2 * i + 1) / (d + 1)).mean()
        if bce:
            loss = loss + F.binary_cross_entropy_with_logits(xx, tt)
        loss.backward()
        return xx.grad

    def torch_dice_value():
        with torch.no_grad():
            p = torch.softmax(xt, 1)
            i, d = (p * tt).sum((2, 3)), p.sum((2, 3)) + tt.sum((2, 3))
            return (1 - (2 * i + 1) / (d + 1)).mean()

    (cx, ct, bp, bt), _ = pl.focal_smooth_l1.example(rng, 120000 * 84, np.float32)
    cxt, ctt, bpt, btt = map(torch.from_numpy, (cx, ct, bp, bt))

    def torch_fsl():
        xx, bb = cxt.detach().requires_grad_(True), bpt.detach().requires_grad_(True)
        p = torch.sigmoid(xx)
        ce = F.binary_cross_entropy_with_logits(xx, ctt, reduction="none")
        pt = p * ctt + (1 - p) * (1 - ctt)
        fl = (0.25 * ctt + 0.75 * (1 - ctt)) * ce * (1 - pt) ** 2
        pos = (ctt > 0).any(1)
        sl = (F.smooth_l1_loss(bb, btt, beta=1 / 9, reduction="none") * pos[:, None]).sum()
        loss = (fl.sum() + sl) / max(1, int(pos.sum()))
        loss.backward()
        return xx.grad

    out = np.empty_like(x)
    rows = [
        ("dice softmax 8x4x256x256 value", "torch", torch_dice_value),
        ("dice softmax 8x4x256x256 value", "pyloss c", lambda: pl.dice(x, t, from_logits="softmax")),
        ("dice softmax 8x4x256x256 value_and_grad", "torch", torch_dice),
        ("dice softmax 8x4x256x256 value_and_grad", "pyloss c",
         lambda: pl.dice.value_and_grad(x, t, from_logits="softmax")),
        ("dice softmax 8x4x256x256 value_and_grad", "pyloss c out=",
         lambda: pl.dice.value_and_grad(x, t, from_logits="softmax", out=out)),
        ("dice softmax 8x4x256x256 value_and_grad", "pyloss c labels",
         lambda: pl.dice.value_and_grad(x, lab, from_logits="softmax")),
        ("dice softmax 8x4x256x256 value_and_grad", "pyloss numba",
         lambda: pl.dice.value_and_grad(x, t, from_logits="softmax", backend="numba")),
        ("dice sigmoid (part of dice_bce) value_and_grad", "pyloss c",
         lambda: pl.dice.value_and_grad(x, t, from_logits="sigmoid")),
        ("dice_bce value_and_grad", "torch", lambda: torch_dice("sigmoid", True)),
        ("dice_bce value_and_grad", "pyloss c", lambda: pl.dice_bce.value_and_grad(x, t)),
        ("focal_smooth_l1 120000x80 value_and_grad", "torch", torch_fsl),
        ("focal_smooth_l1 120000x80 value_and_grad", "pyloss c",
         lambda: pl.focal_smooth_l1.value_and_grad(cx, ct, bp, bt)),
        ("focal_smooth_l1 120000x80 value", "pyloss c", lambda: pl.focal_smooth_l1(cx, ct, bp, bt)),
    ]
    if "binary_cross_entropy_with_logits" in pl.losses():
        rows.append(("bce_with_logits (part of dice_bce) value_and_grad", "pyloss c",
                     lambda: pl.binary_cross_entropy_with_logits.value_and_grad(x, t)))
    if "sigmoid_focal" in pl.losses():
        rows.append(("sigmoid_focal (part of focal_smooth_l1) value_and_grad", "pyloss c",
                     lambda: pl.sigmoid_focal.value_and_grad(cx, ct, reduction="sum")))
    print(f"threads={nt}  clock={'process CPU' if nt == 1 else 'wall'}  (min of 20, ms)")
    for what, who, f in rows:
        print(f"{what:55s} {who:16s} {tb(f):9.2f}")


if __name__ == "__main__":
    main()
