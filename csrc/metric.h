/* metric.h -- fused row passes of the metric-learning family
 * (csrc/metric_impl.h).  Each kernel makes one pass over an N x N matrix that
 * NumPy's BLAS filled (similarities z z^T, or the Gram matrix x x^T), one row
 * per OpenMP iteration: a row's outputs are written by one thread only, so the
 * results do not depend on nthreads.  Per-row losses are double.
 *   simrows: softmax cross-entropy of row i of inv_t*S (m x k) against column
 *     (i + pos_off) % k, the diagonal left out when excl_diag; with want_grad
 *     the row is overwritten by inv_t * (softmax - onehot).
 *   statrows: simrows' row losses of a symmetric S, S unchanged, and each
 *     row's max mr, f = inv_t / sum, q = 1 - p_pos (double), and when
 *     |s| <= bound allows (returns 1) the factors u, w of a one-exp pass 2;
 *   symgrad_rows: G = W + W^T over S (m x k) in place, W the rows'
 *     weights of simrows, from statrows' statistics (S symmetric: S = z z^T).
 *   supcon_rows: supervised contrastive rows (positives: equal labels, j != i);
 *     with want_grad the row becomes d l_i / d S_i.
 *   hard_mine: per anchor the first farthest positive and first nearest
 *     negative from d2 = sqn_i + sqn_j - 2 G_ij (-1, -1 when it has none).
 *   symmetrize: w <- w + w^T in place (n x n), bit-identical for any nthreads.
 *   margin_rank: PyTorch's margin_ranking_loss per element (rowloss double;
 *     g1, g2 both NULL or both given).
 *   cosine_rows: PyTorch's cosine_embedding_loss per row of (n, d).
 *   batch_all_rows: hinge sum and active count of every valid triplet of each
 *     anchor; with want_grad the row becomes d loss / d(d2_ij).  Returns 1 when
 *     a per-thread row buffer cannot be allocated (nothing is then reliable). */
void pl_metric_simrows_f32(int64_t m, int64_t k, float *s, double inv_t, int64_t pos_off, int excl_diag, double *rowloss, int want_grad, int nthreads);
void pl_metric_simrows_f64(int64_t m, int64_t k, double *s, double inv_t, int64_t pos_off, int excl_diag, double *rowloss, int want_grad, int nthreads);
int pl_metric_statrows_f32(int64_t m, int64_t k, float *s, double inv_t, int64_t pos_off, int excl_diag, double bound, double *rowloss, float *mr, float *f, double *q, float *u, float *w, int nthreads);
int pl_metric_statrows_f64(int64_t m, int64_t k, double *s, double inv_t, int64_t pos_off, int excl_diag, double bound, double *rowloss, double *mr, double *f, double *q, double *u, double *w, int nthreads);
void pl_metric_symgrad_rows_f32(int64_t m, int64_t k, float *s, double inv_t, int64_t pos_off, int excl_diag, const float *mr, const float *f, const double *q, const float *u, const float *w, int one, int nthreads);
void pl_metric_symgrad_rows_f64(int64_t m, int64_t k, double *s, double inv_t, int64_t pos_off, int excl_diag, const double *mr, const double *f, const double *q, const double *u, const double *w, int one, int nthreads);
void pl_metric_supcon_rows_f32(int64_t n, float *s, const int64_t *labels, double inv_t, double *rowloss, int want_grad, int nthreads);
void pl_metric_supcon_rows_f64(int64_t n, double *s, const int64_t *labels, double inv_t, double *rowloss, int want_grad, int nthreads);
void pl_metric_hard_mine_f32(int64_t n, const float *g, const float *sqn, const int64_t *labels, int squared, int64_t *ap, int64_t *an, int nthreads);
void pl_metric_hard_mine_f64(int64_t n, const double *g, const double *sqn, const int64_t *labels, int squared, int64_t *ap, int64_t *an, int nthreads);
int pl_metric_batch_all_rows_f32(int64_t n, float *g, const float *sqn, const int64_t *labels, double margin, int squared, double *rowloss, double *rowcount, int want_grad, int nthreads);
int pl_metric_batch_all_rows_f64(int64_t n, double *g, const double *sqn, const int64_t *labels, double margin, int squared, double *rowloss, double *rowcount, int want_grad, int nthreads);
void pl_metric_symmetrize_f32(int64_t n, float *w, int nthreads);
void pl_metric_symmetrize_f64(int64_t n, double *w, int nthreads);
void pl_metric_margin_rank_f32(int64_t n, const float *x1, const float *x2, const float *y, double margin, double *rowloss, float *g1, float *g2, int nthreads);
void pl_metric_margin_rank_f64(int64_t n, const double *x1, const double *x2, const double *y, double margin, double *rowloss, double *g1, double *g2, int nthreads);
void pl_metric_cosine_rows_f32(int64_t n, int64_t d, const float *x1, const float *x2, const float *y, double margin, double *rowloss, float *g1, float *g2, int nthreads);
void pl_metric_cosine_rows_f64(int64_t n, int64_t d, const double *x1, const double *x2, const double *y, double margin, double *rowloss, double *g1, double *g2, int nthreads);
