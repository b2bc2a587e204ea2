/* boxes.c -- giou, diou, ciou (the per-box math is boxes_impl.h). */
#include "pyloss.h"
#include "common.h"

/* Compiled without FMA contraction (csrc/build.py: UNIT_FLAGS): the union
 * (Ap + Ag - I) must round like torchvision's, since 1 - I / U cancels for
 * near-identical boxes and a fused product would move their loss by up to
 * 1e-7 relative in the AVX2 build. */

#define PL_BOX_BLOCK 4096      /* boxes per deterministic block */
#define PL_BOX_CHUNK 256       /* boxes per vectorised pass inside a block */

int64_t pl_box_work(int64_t n) { return (n + PL_BOX_BLOCK - 1) / PL_BOX_BLOCK; }

/* d max(a, b) / da: 1, 0, or 1/2 at a tie (PyTorch's maximum/minimum split
 * the gradient equally there, so identical boxes get a zero gradient).  Two
 * selects, no branch: GCC turns them into vector blends. */
static inline double pl_box_dmax(double a, double b)
{
    return (a > b ? 0.5 : 0.0) + (a >= b ? 0.5 : 0.0);
}

/* One box: returns the loss, d[0..3] = dL / d pred.  Branch-free for every
 * kind (the kind is a constant in each caller's loop, so it folds away): the
 * min/max and their tie-split gradients are selects, the gradient reuses one
 * reciprocal of the union and one of the enclosing term (the values keep
 * torchvision's divisions: 1 - iou cancels, so a rounded reciprocal there
 * would move identical boxes' loss by 1e-8 relative), and the GIoU/DIoU
 * loops vectorise over boxes. */
static inline double pl_box_point(const double p[4], const double t[4], int kind, double eps,
                                  double d[4])
{
    const double x1 = p[0], y1 = p[1], x2 = p[2], y2 = p[3];
    const double gx1 = t[0], gy1 = t[1], gx2 = t[2], gy2 = t[3];
    /* intersection (torchvision _loss_inter_union: zero unless both extents > 0) */
    const double ix1 = x1 > gx1 ? x1 : gx1, iy1 = y1 > gy1 ? y1 : gy1;
    const double ix2 = x2 < gx2 ? x2 : gx2, iy2 = y2 < gy2 ? y2 : gy2;
    const double sx1 = pl_box_dmax(x1, gx1), sy1 = pl_box_dmax(y1, gy1);
    const double sx2 = pl_box_dmax(gx2, x2), sy2 = pl_box_dmax(gy2, y2); /* d min / d x2 */
    const double iw = ix2 - ix1, ih = iy2 - iy1;
    const int m = iw > 0 && ih > 0;
    const double I = m ? iw * ih : 0.0;
    const double w = x2 - x1, h = y2 - y1, wg = gx2 - gx1, hg = gy2 - gy1;
    const double U = w * h + wg * hg - I;
    const double Ue = U + eps;
    const double rU = 1.0 / Ue;
    const double iou = I / Ue;      /* torchvision's division: 1 - iou cancels */
    double L = 1.0 - iou;
    const double dI = -rU;          /* dL/dI at fixed U */
    double dU = iou * rU;           /* dL/dU = I / Ue^2 */
    /* smallest enclosing box */
    const double cx1 = x1 < gx1 ? x1 : gx1, cy1 = y1 < gy1 ? y1 : gy1;
    const double cx2 = x2 > gx2 ? x2 : gx2, cy2 = y2 > gy2 ? y2 : gy2;
    const double tx1 = pl_box_dmax(gx1, x1), ty1 = pl_box_dmax(gy1, y1); /* d min / d x1 */
    const double tx2 = pl_box_dmax(x2, gx2), ty2 = pl_box_dmax(y2, gy2);
    const double cw = cx2 - cx1, ch = cy2 - cy1;
    double dcw, dch, ddx = 0.0, ddy = 0.0, dwa = 0.0, dha = 0.0;
    if (kind == 0) {
        const double C = cw * ch, Ce = C + eps;
        const double rC = 1.0 / Ce;
        L += (C - U) / Ce;
        dU -= rC;
        const double dC = Ue * rC * rC;      /* d (C - U)/(C + eps) / dC */
        dcw = dC * ch;
        dch = dC * cw;
    } else {
        const double Q = cw * cw + ch * ch + eps;
        const double rQ = 1.0 / Q;
        const double dx = 0.5 * (x1 + x2) - 0.5 * (gx1 + gx2);
        const double dy = 0.5 * (y1 + y2) - 0.5 * (gy1 + gy2);
        const double D = dx * dx + dy * dy;
        L += D / Q;
        const double dQ = -D * rQ * rQ;
        dcw = 2.0 * dQ * cw;
        dch = 2.0 * dQ * ch;
        ddx = dx * rQ;                       /* d (D/Q) / dx1 = d/dx2 */
        ddy = dy * rQ;
        if (kind == 2) {
            /* aspect term with atan2(w, h) = atan(w / h) for h > 0, finite at h = 0;
             * alpha is a constant for the gradient (torchvision: torch.no_grad) */
            const double k = 0.40528473456935108578;   /* 4 / pi^2 */
            const double diff = atan2(wg, hg) - atan2(w, h);
            const double v = k * diff * diff;
            const double alpha = v / (1.0 - iou + v + eps);
            L += alpha * v;
            const double r2 = w * w + h * h;
            const double c = r2 > 0 ? alpha * (-2.0 * k * diff) / (r2 > 0 ? r2 : 1.0) : 0.0;
            dwa = c * h;                     /* d atan2(w, h)/dw = h / (w^2 + h^2) */
            dha = -c * w;
        }
    }
    const double dIt = m ? dI - dU : 0.0;    /* U = Ap + Ag - I */
    d[0] = -dIt * ih * sx1 - dU * h - dcw * tx1 + ddx - dwa;
    d[1] = -dIt * iw * sy1 - dU * w - dch * ty1 + ddy - dha;
    d[2] = dIt * ih * sx2 + dU * h + dcw * tx2 + ddx + dwa;
    d[3] = dIt * iw * sy2 + dU * w + dch * ty2 + ddy + dha;
    return L;
}

#define PL_DOUBLE 0
#include "pl_type.h"
#include "boxes_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "boxes_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
