/* boxes.h -- the IoU-family box losses over n boxes (x1, y1, x2, y2), rows of
 * 4 (validated by Python: x2 >= x1, y2 >= y1).  kind: 0 GIoU, 1 DIoU, 2 CIoU
 * (torchvision's generalized/distance/complete_box_iou_loss per box).  Each
 * returns the sum of the (weighted) per-box losses, writes them to loss (n,)
 * when non-NULL and scale * their gradient w.r.t. pred (n, 4) to grad when
 * non-NULL (grad may be pred or target itself).  weight (n,) or NULL.  Math in
 * double for both dtypes.  work: pl_box_work(n) doubles (block partials,
 * combined pairwise in index order: bit-identical for any nthreads). */
int64_t pl_box_work(int64_t n);
double pl_box_iou_f32(int64_t n, const float *pred, const float *target, const float *weight, int kind, double eps, double scale, float *loss, float *grad, double *work, int nthreads);
double pl_box_iou_f64(int64_t n, const double *pred, const double *target, const double *weight, int kind, double eps, double scale, double *loss, double *grad, double *work, int nthreads);
