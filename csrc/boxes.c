/* boxes.c -- giou, diou, ciou (the per-box math is boxes_impl.h). */
#include "pyloss.h"
#include "common.h"

#define PL_BOX_BLOCK 4096      /* boxes per deterministic block */

int64_t pl_box_work(int64_t n) { return (n + PL_BOX_BLOCK - 1) / PL_BOX_BLOCK; }

/* d max(a, b) / da: 1, 0, or 1/2 at a tie (PyTorch's maximum/minimum split
 * the gradient equally there, so identical boxes get a zero gradient). */
static inline double pl_box_dmax(double a, double b) { return a > b ? 1.0 : (a == b ? 0.5 : 0.0); }

/* One box: returns the loss, d[0..3] = dL / d pred. */
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
    const double iou = I / Ue;
    double L = 1.0 - iou;
    double dI = -1.0 / Ue;          /* dL/dI at fixed U */
    double dU = I / (Ue * Ue);      /* dL/dU */
    /* smallest enclosing box */
    const double cx1 = x1 < gx1 ? x1 : gx1, cy1 = y1 < gy1 ? y1 : gy1;
    const double cx2 = x2 > gx2 ? x2 : gx2, cy2 = y2 > gy2 ? y2 : gy2;
    const double tx1 = pl_box_dmax(gx1, x1), ty1 = pl_box_dmax(gy1, y1); /* d min / d x1 */
    const double tx2 = pl_box_dmax(x2, gx2), ty2 = pl_box_dmax(y2, gy2);
    const double cw = cx2 - cx1, ch = cy2 - cy1;
    double dcw, dch, ddx = 0.0, ddy = 0.0, dwa = 0.0, dha = 0.0;
    if (kind == 0) {
        const double C = cw * ch, Ce = C + eps;
        L += (C - U) / Ce;
        dU -= 1.0 / Ce;
        const double dC = Ue / (Ce * Ce);    /* d (C - U)/(C + eps) / dC */
        dcw = dC * ch;
        dch = dC * cw;
    } else {
        const double Q = cw * cw + ch * ch + eps;
        const double dx = 0.5 * (x1 + x2) - 0.5 * (gx1 + gx2);
        const double dy = 0.5 * (y1 + y2) - 0.5 * (gy1 + gy2);
        const double D = dx * dx + dy * dy;
        L += D / Q;
        const double dQ = -D / (Q * Q);
        dcw = 2.0 * dQ * cw;
        dch = 2.0 * dQ * ch;
        ddx = dx / Q;                        /* d (D/Q) / dx1 = d/dx2 */
        ddy = dy / Q;
        if (kind == 2) {
            /* aspect term with atan2(w, h) = atan(w / h) for h > 0, finite at h = 0;
             * alpha is a constant for the gradient (torchvision: torch.no_grad) */
            const double k = 0.40528473456935108578;   /* 4 / pi^2 */
            const double diff = atan2(wg, hg) - atan2(w, h);
            const double v = k * diff * diff;
            const double alpha = v / (1.0 - iou + v + eps);
            L += alpha * v;
            const double r2 = w * w + h * h;
            const double c = r2 > 0 ? alpha * (-2.0 * k * diff) / r2 : 0.0;
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
