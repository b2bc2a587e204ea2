/* segmentation.h -- soft Dice and soft Jaccard over (N, C, S) (S = the
 * flattened spatial size).  target is dense (N, C, S) or NULL with labels
 * (N, S) in [0, C) (validated by Python).  activation: 0 none, 1 sigmoid,
 * 2 softmax over C.  Each returns the sum over samples of the per-sample
 * losses, writes them to loss (N,) when non-NULL and the gradient of
 * scale * that sum w.r.t. pred (the logits) to grad when non-NULL; grad may
 * be pred or target itself.  work: pl_seg_work(n, c, s, nthreads) doubles.
 * Bit-identical for any nthreads. */
int64_t pl_seg_work(int64_t n, int64_t c, int64_t s, int nthreads);
double pl_dice_f32(int64_t n, int64_t c, int64_t s, const float *pred, const float *target, const int64_t *labels, int activation, int squared, double smooth, double scale, float *loss, float *grad, double *work, int nthreads);
double pl_dice_f64(int64_t n, int64_t c, int64_t s, const double *pred, const double *target, const int64_t *labels, int activation, int squared, double smooth, double scale, double *loss, double *grad, double *work, int nthreads);
double pl_iou_f32(int64_t n, int64_t c, int64_t s, const float *pred, const float *target, const int64_t *labels, int activation, double smooth, double scale, float *loss, float *grad, double *work, int nthreads);
double pl_iou_f64(int64_t n, int64_t c, int64_t s, const double *pred, const double *target, const int64_t *labels, int activation, double smooth, double scale, double *loss, double *grad, double *work, int nthreads);
/* The general entry point of the region losses.  kind: 0 dice, 1 squared
 * dice, 2 iou, 3 tversky (alpha, beta, gamma), 4 generalized Dice (wtype 0
 * square, 1 simple, 2 uniform).  flags: 1 labels < 0 are ignored pixels
 * (they leave every sum and get a zero gradient), 2 class 0 left out of the
 * class mean (needs c >= 2), 4 batch: one ratio per class over the whole
 * batch; then loss has c (or c - 1) entries, one per class, and the return
 * value is their sum.  Same determinism and aliasing rules as pl_dice. */
double pl_region_f32(int64_t n, int64_t c, int64_t s, const float *pred, const float *target, const int64_t *labels, int activation, int kind, int flags, int wtype, double smooth, double alpha, double beta, double gamma, double scale, float *loss, float *grad, double *work, int nthreads);
double pl_region_f64(int64_t n, int64_t c, int64_t s, const double *pred, const double *target, const int64_t *labels, int activation, int kind, int flags, int wtype, double smooth, double alpha, double beta, double gamma, double scale, double *loss, double *grad, double *work, int nthreads);
