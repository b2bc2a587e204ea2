/* generative.h -- kernels of the generative family (csrc/generative_impl.h).
 * Row kernels (kl_gaussian, vae) follow embedding.h's contract; kl_div and
 * the GAN terms are elementwise kernels (elementwise.h).  GAN terms take one
 * logit: pass the logits as both pred and target. */
double pl_kl_gaussian_f32(int64_t n, int64_t d, const float *mu, const float *logvar, double scale, float *loss, float *g_mu, float *g_logvar, int nthreads);
double pl_kl_gaussian_f64(int64_t n, int64_t d, const double *mu, const double *logvar, double scale, double *loss, double *g_mu, double *g_logvar, int nthreads);
double pl_vae_f32(int64_t n, int64_t nf, int64_t nl, const float *recon, const float *x, const float *mu, const float *logvar, int bce, double beta, double scale, float *loss, float *g_recon, float *g_mu, float *g_logvar, int nthreads);
double pl_vae_f64(int64_t n, int64_t nf, int64_t nl, const double *recon, const double *x, const double *mu, const double *logvar, int bce, double beta, double scale, double *loss, double *g_recon, double *g_mu, double *g_logvar, int nthreads);
double pl_kl_div_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_kl_div_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_real_bce_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_real_bce_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_fake_bce_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_fake_bce_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_real_hinge_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_real_hinge_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_fake_hinge_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_fake_hinge_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_real_wasserstein_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_real_wasserstein_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_fake_wasserstein_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_fake_wasserstein_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_real_lsgan_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_real_lsgan_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
double pl_gan_fake_lsgan_f32(int64_t n, const float *pred, const float *target, const float *weight, const float *aux, double p0, double p1, double scale, float *loss, float *grad, float *hess, int nthreads);
double pl_gan_fake_lsgan_f64(int64_t n, const double *pred, const double *target, const double *weight, const double *aux, double p0, double p1, double scale, double *loss, double *grad, double *hess, int nthreads);
