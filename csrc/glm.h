/* glm.h -- elementwise GLM kernels (see elementwise.h for the contract).
 * <name>_dev: the unit deviance (deviance=True). */
double pl_poisson_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_poisson_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_poisson_dev_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_poisson_dev_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gamma_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gamma_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gamma_dev_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gamma_dev_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_tweedie_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_tweedie_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_tweedie_dev_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_tweedie_dev_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_exponential_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_exponential_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
