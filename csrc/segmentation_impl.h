/* segmentation_impl.h -- dice, iou, the general region entry point
 * (tversky, generalized_dice and the region options) and dice_bce (declared
 * in combination.h: one copy of the region engine serves all of them), once
 * per dtype (see pl_type.h and seg_region_impl.h for the two-pass driver). */
#include "seg_region_impl.h"

double PL_NAME(pl_dice)(int64_t n, int64_t c, int64_t s, const T *pred, const T *target,
                                  const int64_t *labels, int activation, int squared,
                                  double smooth, double scale, T *loss, T *grad, double *work,
                                  int nthreads)
{
    PL_NAME(pl_seg_t) r = {n, c, s, 0, pred, target, labels, grad, activation,
                           squared ? PL_SEG_DICE_SQ : PL_SEG_DICE, 0, PL_SEG_NO_OPTS};
    return PL_NAME(pl_seg_run)(&r, smooth, 1.0, 0.0, scale, loss, work, nthreads);
}

double PL_NAME(pl_iou)(int64_t n, int64_t c, int64_t s, const T *pred, const T *target,
                                 const int64_t *labels, int activation, double smooth,
                                 double scale, T *loss, T *grad, double *work, int nthreads)
{
    PL_NAME(pl_seg_t) r = {n, c, s, 0, pred, target, labels, grad, activation, PL_SEG_IOU, 0,
                           PL_SEG_NO_OPTS};
    return PL_NAME(pl_seg_run)(&r, smooth, 1.0, 0.0, scale, loss, work, nthreads);
}

double PL_NAME(pl_region)(int64_t n, int64_t c, int64_t s, const T *pred, const T *target,
                                    const int64_t *labels, int activation, int kind, int flags,
                                    int wtype, double smooth, double alpha, double beta,
                                    double gamma, double scale, T *loss, T *grad, double *work,
                                    int nthreads)
{
    PL_NAME(pl_seg_t) r = {n, c, s, 0, pred, target, labels, grad, activation, kind, 0,
                           (flags & PL_SEG_F_IGNORE) && labels != NULL,
                           (flags & PL_SEG_F_NOBG) ? 1 : 0, (flags & PL_SEG_F_BATCH) ? 1 : 0,
                           wtype, alpha, beta, gamma, 0};
    return PL_NAME(pl_seg_run)(&r, smooth, 1.0, 0.0, scale, loss, work, nthreads);
}

/* dice_bce: sigmoid Dice and BCE-with-logits accumulated in the same pass
 * (seg_region_impl.h with bce = 1), gradient in one more pass. */
double PL_NAME(pl_dice_bce)(int64_t n, int64_t c, int64_t s, const T *logits,
                                      const T *target, const int64_t *labels, double dice_weight,
                                      double bce_weight, double smooth, double scale, T *loss,
                                      T *grad, double *work, int nthreads)
{
    PL_NAME(pl_seg_t) r = {n, c, s, 0, logits, target, labels, grad, PL_SEG_ACT_SIGMOID,
                           PL_SEG_DICE, 1, PL_SEG_NO_OPTS};
    return PL_NAME(pl_seg_run)(&r, smooth, dice_weight, bce_weight, scale, loss, work, nthreads);
}
