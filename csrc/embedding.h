/* embedding.h -- kernels of the embedding family (csrc/embedding_impl.h).
 * Row kernels over n rows of d elements: return the double sum of the
 * per-row losses, write them to loss (if not NULL) and scale times the
 * gradients of their sum to the g* buffers (all NULL or all set). */
double pl_triplet_f32(int64_t n, int64_t d, const float *anchor, const float *positive, const float *negative, double margin, double p, double eps, int swap, double scale, float *loss, float *g_anchor, float *g_positive, float *g_negative, int nthreads);
double pl_triplet_f64(int64_t n, int64_t d, const double *anchor, const double *positive, const double *negative, double margin, double p, double eps, int swap, double scale, double *loss, double *g_anchor, double *g_positive, double *g_negative, int nthreads);
double pl_contrastive_f32(int64_t n, int64_t d, const float *x1, const float *x2, const float *similar, double margin, double scale, float *loss, float *g_x1, float *g_x2, int nthreads);
double pl_contrastive_f64(int64_t n, int64_t d, const double *x1, const double *x2, const double *similar, double margin, double scale, double *loss, double *g_x1, double *g_x2, int nthreads);
