/* regression.h -- elementwise regression kernels (see elementwise.h for the contract). */
double pl_mse_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_mse_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_mae_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_mae_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_huber_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_huber_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_smooth_l1_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_smooth_l1_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_log_cosh_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_log_cosh_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_quantile_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_quantile_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
