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
