/* classification.h -- classification kernels.
 *
 * cross_entropy / softmax_focal: logits (n, c, d) C-contiguous (d = product of
 * the trailing spatial sizes, 1 for (n, c)); target (n, d) int64 class indices
 * (NULL for probability targets `prob`, shaped like logits); weight (c,) or NULL.
 * Returns the sum of the per-row losses; loss (n, d) receives them when
 * non-NULL; grad/hess (like logits) are multiplied by `scale`.  Class indices
 * are validated in Python (an index outside [0, c) is treated as ignored).
 * The elementwise kernels follow elementwise.h; aux = pos_weight.
 * pl_vexp/pl_vlog/pl_vlog1p_pos: y = exp/log/log1p(x) with the common.h
 * vector math, for tests/test_math.py. */
double pl_cross_entropy_f32(int64_t n, int64_t c, int64_t d, const float *logits, const int64_t *target, const float *prob, const float *weight, int64_t ignore_index, double label_smoothing, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_cross_entropy_f64(int64_t n, int64_t c, int64_t d, const double *logits, const int64_t *target, const double *prob, const double *weight, int64_t ignore_index, double label_smoothing, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_softmax_focal_f32(int64_t n, int64_t c, int64_t d, const float *logits, const int64_t *target, const float *alpha, double alpha0, double gamma, int64_t ignore_index, double scale, float *loss, float *grad, int nthreads);
double pl_softmax_focal_f64(int64_t n, int64_t c, int64_t d, const double *logits, const int64_t *target, const double *alpha, double alpha0, double gamma, int64_t ignore_index, double scale, double *loss, double *grad, int nthreads);
double pl_binary_cross_entropy_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_binary_cross_entropy_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_binary_cross_entropy_with_logits_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_binary_cross_entropy_with_logits_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_sigmoid_focal_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_sigmoid_focal_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
void pl_vexp_f32(int64_t n, const float *x, float *y);
void pl_vexp_f64(int64_t n, const double *x, double *y);
void pl_vlog_f32(int64_t n, const float *x, float *y);
void pl_vlog_f64(int64_t n, const double *x, double *y);
void pl_vlog1p_pos_f32(int64_t n, const float *x, float *y);
void pl_vlog1p_pos_f64(int64_t n, const double *x, double *y);
