/* combination.h -- fused combination kernels.
 *
 * dice_bce: sigmoid Dice + BCE-with-logits over (N, C, S), same target
 * conventions, work buffer and outputs as pl_dice (segmentation.h); the
 * per-sample loss is dice_weight * dice_n + bce_weight * mean(BCE of sample n).
 * Its body is compiled in segmentation.c (segmentation_impl.h), with the
 * region engine it shares with dice.
 *
 * focal_smooth_l1: RetinaNet.  cls (A, K), box (A, D).  Returns the
 * unnormalised total (focal over every element + smooth-L1 over the rows of
 * positive anchors, i.e. any cls_target > 0); writes the per-anchor terms to
 * loss (A,) when non-NULL and the positive count to *num_pos.  With
 * normalize != 0 the gradients are those of total / max(1, num_pos), else of
 * the total.  beta = 0 is L1; alpha < 0 disables the alpha term. */
double pl_dice_bce_f32(int64_t n, int64_t c, int64_t s, const float *logits, const float *target, const int64_t *labels, double dice_weight, double bce_weight, double smooth, double scale, float *loss, float *grad, double *work, int nthreads);
double pl_dice_bce_f64(int64_t n, int64_t c, int64_t s, const double *logits, const double *target, const int64_t *labels, double dice_weight, double bce_weight, double smooth, double scale, double *loss, double *grad, double *work, int nthreads);
double pl_focal_smooth_l1_f32(int64_t a, int64_t k, int64_t d, const float *cls_logits, const float *cls_target, const float *box_pred, const float *box_target, double alpha, double gamma, double beta, int normalize, float *loss, float *g_cls, float *g_box, int64_t *num_pos, int nthreads);
double pl_focal_smooth_l1_f64(int64_t a, int64_t k, int64_t d, const double *cls_logits, const double *cls_target, const double *box_pred, const double *box_target, double alpha, double gamma, double beta, int normalize, double *loss, double *g_cls, double *g_box, int64_t *num_pos, int nthreads);
