/* metric_impl.h -- fused row passes of the metric-learning family, included
 * once per dtype by metric.c (see pl_type.h and metric.h).
 *
 * A softmax row is three sweeps over one row of the matrix (it stays in L1/L2:
 * 8192 floats are 32 KiB): the maximum, the exponentials (written back in
 * place when a gradient is wanted) summed in PL_LANES double lanes, and the
 * scaling to the row weights.  Loops over PL_LANES independent lanes let GCC
 * vectorise without reassociating (no -ffast-math).  The exponent is
 * inv_t*(s - max s): the difference is exact near the maximum (the terms that
 * matter), so the log-sum-exp keeps full precision at any temperature
 * (1/tau = 1e4 included). */

PL_INLINE T PL_NAME(mx_max)(const T *s, int64_t j0, int64_t j1, T m0)
{
    T m[PL_LANES];
    for (int l = 0; l < PL_LANES; l++) m[l] = m0;
    int64_t j = j0;
    for (; j + PL_LANES <= j1; j += PL_LANES)
        for (int l = 0; l < PL_LANES; l++) m[l] = s[j + l] > m[l] ? s[j + l] : m[l];
    for (; j < j1; j++) m[0] = s[j] > m[0] ? s[j] : m[0];
    T r = m0;
    for (int l = 0; l < PL_LANES; l++) r = m[l] > r ? m[l] : r;
    return r;
}

/* acc[l] += exp(it*(s[j] - mr)) over [j0, j1); store: s[j] = that exp. */
PL_INLINE void PL_NAME(mx_expsum)(T *s, int64_t j0, int64_t j1, T it, T mr, int store,
                                  double *acc)
{
    int64_t j = j0;
    if (store) {
        for (; j + PL_LANES <= j1; j += PL_LANES)
            for (int l = 0; l < PL_LANES; l++) {
                T e = PL_EXP(it * (s[j + l] - mr));
                s[j + l] = e;
                acc[l] += (double)e;
            }
        for (; j < j1; j++) {
            T e = PL_EXP(it * (s[j] - mr));
            s[j] = e;
            acc[0] += (double)e;
        }
    } else {
        for (; j + PL_LANES <= j1; j += PL_LANES)
            for (int l = 0; l < PL_LANES; l++) acc[l] += (double)PL_EXP(it * (s[j + l] - mr));
        for (; j < j1; j++) acc[0] += (double)PL_EXP(it * (s[j] - mr));
    }
}

/* The row maximum of s over [0, k) without column ex (ex < 0: none); 0 when
 * it is not finite (as the reference).  The exponent is it*(s - max): exactly
 * 0 at the maximum, so a row whose only entry is its positive gives 0. */
PL_INLINE T PL_NAME(mx_rowmax)(const T *s, int64_t k, int64_t ex)
{
    T mr;
    if (ex >= 0) mr = PL_NAME(mx_max)(s, ex + 1, k, PL_NAME(mx_max)(s, 0, ex, (T)-INFINITY));
    else mr = PL_NAME(mx_max)(s, 0, k, (T)-INFINITY);
    return (mr - mr == 0) ? mr : (T)0;
}

/* The row's sum of exp(it (s_j - mr)) over j != ex, mr its maximum (in
 * *mr_out); store: s_j becomes that exp. */
PL_INLINE double PL_NAME(mx_rowsum)(int64_t k, T *s, T it, int64_t ex, int store, T *mr_out)
{
    const T mr = PL_NAME(mx_rowmax)(s, k, ex);
    double acc[PL_LANES] = {0};
    if (ex >= 0) {
        PL_NAME(mx_expsum)(s, 0, ex, it, mr, store, acc);
        PL_NAME(mx_expsum)(s, ex + 1, k, it, mr, store, acc);
    } else {
        PL_NAME(mx_expsum)(s, 0, k, it, mr, store, acc);
    }
    *mr_out = mr;
    return pl_lanes_sum(acc);
}

static void PL_NAME(mx_simrow)(int64_t k, T *s, double inv_t, int64_t p, int64_t ex,
                                         double *rowloss, int want)
{
    const T it = (T)inv_t;
    const double sp = (double)s[p];
    T mr;
    const double sum = PL_NAME(mx_rowsum)(k, s, it, ex, want, &mr);
    *rowloss = inv_t * ((double)mr - sp) + pl_log(sum);
    if (want) {
        /* the positive's weight it (p_p - 1) = -it (sum - e_p) / sum, with
         * sum - e_p in double: exact where p_p is close to 1 (a nearly
         * solved row), where it (p_p - 1) in T would cancel to noise */
        const double rest = sum - (double)s[p];
        const T f = (T)((double)it / sum);
        for (int64_t j = 0; j < k; j++) s[j] *= f;
        if (ex >= 0) s[ex] = 0;
        s[p] = (T)(-inv_t * (rest / sum));
    }
}

/* The arguments of a row pass over S (m x k), for its rows (pl_for_items). */
typedef struct {
    int64_t k, pos_off;
    T *s;
    double inv_t;
    int excl_diag, flag;
    double *rowloss, *q;
    T *mr, *f;
    const T *cmr, *cf, *u, *w;
    const double *cq;
} PL_NAME(mx_rows);

static void PL_NAME(mx_sim_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_rows) *a = (const PL_NAME(mx_rows) *)va;
    PL_NAME(mx_simrow)(a->k, a->s + i * a->k, a->inv_t, (i + a->pos_off) % a->k,
                       a->excl_diag ? i : -1, a->rowloss + i, a->flag);
}

void PL_NAME(pl_metric_simrows)(int64_t m, int64_t k, T *s, double inv_t, int64_t pos_off,
                                int excl_diag, double *rowloss, int want_grad, int nthreads)
{
    PL_NAME(mx_rows) a = {k, pos_off, s, inv_t, excl_diag, want_grad, rowloss, NULL, NULL, NULL,
                          NULL, NULL, NULL, NULL, NULL};
    pl_for_items(m, 1, pl_threads(m * k, nthreads), PL_NAME(mx_sim_item), &a);
}

/* The gradient of a loss over a symmetric S (nt_xent: S = z z^T) is
 * G = W + W^T, W the softmax rows' weights of simrows.  Instead of writing W
 * and then adding its transpose tile by tile (two more sweeps over N x N, one
 * of them transposed), pass 1 keeps each row's statistics and pass 2 writes G
 * row by row: W_ji = e^{it (s_ji - mr_j)} f_j with s_ji = s_ij, so row i of G
 * needs only row i of S and the rows' (mr, f).  Pass 1 (statrows): the loss
 * of row i as simrows, S unchanged; mr_i its max, f_i = it / sum (as simrows
 * scales), q_i = 1 - p_pos = (sum - e_pos) / sum in double. */
static void PL_NAME(mx_statrow)(int64_t k, T *s, double inv_t, int64_t p, int64_t ex,
                                          double *rowloss, T *mr_out, T *f_out, double *q_out)
{
    const T it = (T)inv_t;
    const double sp = (double)s[p];
    T mr;
    const double sum = PL_NAME(mx_rowsum)(k, s, it, ex, 0, &mr);
    *rowloss = inv_t * ((double)mr - sp) + pl_log(sum);
    *mr_out = mr;
    *f_out = (T)((double)it / sum);
    *q_out = (sum - (double)PL_EXP(it * (s[p] - mr))) / sum;
}

static void PL_NAME(mx_stat_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_rows) *a = (const PL_NAME(mx_rows) *)va;
    PL_NAME(mx_statrow)(a->k, a->s + i * a->k, a->inv_t, (i + a->pos_off) % a->k,
                        a->excl_diag ? i : -1, a->rowloss + i, a->mr + i, a->f + i, a->q + i);
}

/* Largest inv_t * (spread of S) for pass 2's one-exp form: every factor
 * below stays a normal number (e^{-64} > FLT_MIN, e^{32} * it < FLT_MAX). */
#define PL_SYMG_SPREAD ((double)(PL_DOUBLE ? 600 : 64))

/* bound: |s_ij| <= bound for every entry (1 for rows of unit norm), or 0 if
 * unknown.  When inv_t * 2 bound <= PL_SYMG_SPREAD, u and w get the factors of
 * pass 2's one-exp form, e^{it (s - mr_j)} f_j = e^{it (s - mr_i)} u_i w_j
 * with u_i = e^{it (mr_i - c)}, w_j = f_j e^{-it (mr_j - c)}, c the middle
 * of the maxima; otherwise u and w are left unset (two exps per entry).
 * Returns whether the one-exp form applies. */
int PL_NAME(pl_metric_statrows)(int64_t m, int64_t k, T *s, double inv_t, int64_t pos_off,
                                int excl_diag, double bound, double *rowloss, T *mr, T *f,
                                double *q, T *u, T *w, int nthreads)
{
    PL_NAME(mx_rows) a = {k, pos_off, s, inv_t, excl_diag, 0, rowloss, q, mr, f,
                          NULL, NULL, NULL, NULL, NULL};
    pl_for_items(m, 1, pl_threads(m * k, nthreads), PL_NAME(mx_stat_item), &a);
    if (m == 0 || !(bound > 0 && inv_t * 2.0 * bound <= PL_SYMG_SPREAD)) return 0;
    T lo = mr[0], hi = mr[0];
    for (int64_t i = 1; i < m; i++) {
        lo = mr[i] < lo ? mr[i] : lo;
        hi = mr[i] > hi ? mr[i] : hi;
    }
    const T it = (T)inv_t, c = lo + (hi - lo) / 2;
    for (int64_t i = 0; i < m; i++) {
        u[i] = PL_EXP(it * (mr[i] - c));
        w[i] = f[i] * PL_EXP(-it * (mr[i] - c));
    }
    return 1;
}
#undef PL_SYMG_SPREAD

/* Pass 2, row i over s_i in place: G_ij = e^{it (s_ij - mr_i)} f_i +
 * e^{it (s_ij - mr_j)} f_j (one exp with u, w: see statrows); 0 on the
 * excluded diagonal; at the positive p, -inv_t (q_i + q_p) (each p_pos - 1
 * without cancellation, as simrows). */
static void PL_NAME(mx_symgradrow)(int64_t k, T *restrict s, int64_t i, double inv_t,
                                             int64_t p, int64_t ex, const T *restrict mr,
                                             const T *restrict f, const double *q,
                                             const T *restrict u, const T *restrict w, int one)
{
    const T it = (T)inv_t, mi = mr[i], fi = f[i];
    if (one) {
        const T ui = u[i];
        for (int64_t j = 0; j < k; j++) {
            const T e = PL_EXP(it * (s[j] - mi));
            s[j] = e * fi + (e * ui) * w[j];
        }
    } else {
        for (int64_t j = 0; j < k; j++) {
            const T v = s[j];
            s[j] = PL_EXP(it * (v - mi)) * fi + PL_EXP(it * (v - mr[j])) * f[j];
        }
    }
    if (ex >= 0) s[ex] = 0;
    s[p] = (T)(-inv_t * (q[i] + q[p]));
}

static void PL_NAME(mx_symgrad_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_rows) *a = (const PL_NAME(mx_rows) *)va;
    PL_NAME(mx_symgradrow)(a->k, a->s + i * a->k, i, a->inv_t, (i + a->pos_off) % a->k,
                           a->excl_diag ? i : -1, a->cmr, a->cf, a->cq, a->u, a->w, a->flag);
}

void PL_NAME(pl_metric_symgrad_rows)(int64_t m, int64_t k, T *s, double inv_t, int64_t pos_off,
                                     int excl_diag, const T *mr, const T *f, const double *q,
                                     const T *u, const T *w, int one, int nthreads)
{
    PL_NAME(mx_rows) a = {k, pos_off, s, inv_t, excl_diag, one, NULL, NULL, NULL, NULL,
                          mr, f, u, w, q};
    pl_for_items(m, 1, pl_threads(m * k, nthreads), PL_NAME(mx_symgrad_item), &a);
}

static void PL_NAME(mx_suprow)(int64_t n, int64_t i, T *s, const int64_t *labels,
                                         double inv_t, double *rowloss, int want)
{
    const int64_t yi = labels[i];
    int64_t npos = 0;
    double spos = 0;
    for (int64_t j = 0; j < n; j++)
        if (j != i && labels[j] == yi) {
            npos++;
            spos += (double)s[j];
        }
    if (npos == 0) {
        *rowloss = 0;
        if (want)
            for (int64_t j = 0; j < n; j++) s[j] = 0;
        return;
    }
    const T it = (T)inv_t;
    const T mr = PL_NAME(mx_rowmax)(s, n, i);
    double acc[PL_LANES] = {0};
    PL_NAME(mx_expsum)(s, 0, i, it, mr, want, acc);
    PL_NAME(mx_expsum)(s, i + 1, n, it, mr, want, acc);
    const double sum = pl_lanes_sum(acc);
    *rowloss = inv_t * ((double)mr - spos / (double)npos) + pl_log(sum);
    if (want) {
        const T f = (T)((double)it / sum);
        const T fp = (T)((double)it / (double)npos);
        for (int64_t j = 0; j < n; j++) s[j] = s[j] * f - (labels[j] == yi ? fp : (T)0);
        s[i] = 0;
    }
}

/* The arguments of a labelled row pass over an n x n matrix (pl_for_items). */
typedef struct {
    int64_t n;
    T *s;
    const T *g, *sqn;
    const int64_t *labels;
    double inv_t, margin;
    int flag, want;
    double *rowloss, *rowcount;
    int64_t *ap, *an;
    double **bufs;   /* batch_all: scratch per thread (pl_pool_tid), made on first use */
    int *err;        /* batch_all: an allocation failed, per thread */
} PL_NAME(mx_lab);

static void PL_NAME(mx_sup_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_lab) *a = (const PL_NAME(mx_lab) *)va;
    PL_NAME(mx_suprow)(a->n, i, a->s + i * a->n, a->labels, a->inv_t, a->rowloss + i, a->flag);
}

void PL_NAME(pl_metric_supcon_rows)(int64_t n, T *s, const int64_t *labels, double inv_t,
                                    double *rowloss, int want_grad, int nthreads)
{
    PL_NAME(mx_lab) a = {n, s, NULL, NULL, labels, inv_t, 0, want_grad, 0, rowloss, NULL, NULL,
                         NULL, NULL, NULL};
    pl_for_items(n, 1, pl_threads(n * n, nthreads), PL_NAME(mx_sup_item), &a);
}

/* d_ij from the Gram matrix row g of anchor i (0 on the diagonal). */
PL_INLINE T PL_NAME(mx_dist)(const T *g, const T *sqn, int64_t i, int64_t j, int squared)
{
    if (j == i) return 0;
    T d2 = sqn[i] + sqn[j] - 2 * g[j];
    d2 = d2 > 0 ? d2 : 0;
    return squared ? d2 : PL_SQRT(d2);
}

static void PL_NAME(mx_hardrow)(int64_t n, int64_t i, const T *g, const T *sqn,
                                          const int64_t *labels, int squared, int64_t *ap,
                                          int64_t *an)
{
    const int64_t yi = labels[i];
    int64_t bp = -1, bn = -1;
    T dp = 0, dn = 0;
    for (int64_t j = 0; j < n; j++) {
        if (j == i) continue;
        T d = PL_NAME(mx_dist)(g, sqn, i, j, squared);
        if (labels[j] == yi) {
            if (bp < 0 || d > dp) { bp = j; dp = d; }   /* strict: ties keep the first index */
        } else if (bn < 0 || d < dn) {
            bn = j;
            dn = d;
        }
    }
    if (bp < 0 || bn < 0) bp = bn = -1;
    *ap = bp;
    *an = bn;
}

static void PL_NAME(mx_hard_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_lab) *a = (const PL_NAME(mx_lab) *)va;
    PL_NAME(mx_hardrow)(a->n, i, a->g + i * a->n, a->sqn, a->labels, a->flag, a->ap + i,
                        a->an + i);
}

void PL_NAME(pl_metric_hard_mine)(int64_t n, const T *g, const T *sqn, const int64_t *labels,
                                  int squared, int64_t *ap, int64_t *an, int nthreads)
{
    PL_NAME(mx_lab) a = {n, NULL, g, sqn, labels, 0, 0, squared, 0, NULL, NULL, ap, an, NULL,
                         NULL};
    pl_for_items(n, 1, pl_threads(n * n, nthreads), PL_NAME(mx_hard_item), &a);
}

/* Every valid triplet of anchor i: with t_p = d_ip + margin and the negative
 * distances b both sorted, positive p has cnt_p = #{b < t_p} active hinges and
 * negative n is in #{t > b_n} of them; the row's hinge sum is
 * sum_p (cnt_p t_p - prefix_b(cnt_p)).  buf holds 4n + 1 doubles. */
static void PL_NAME(mx_allrow)(int64_t n, int64_t i, T *g, const T *sqn,
                                         const int64_t *labels, double margin, int squared,
                                         double *rowloss, double *rowcount, int want,
                                         double *buf)
{
    double *d = buf, *t = buf + n, *b = buf + 2 * n, *pre = buf + 3 * n;
    const int64_t yi = labels[i];
    int64_t np_ = 0, nn_ = 0;
    for (int64_t j = 0; j < n; j++) {
        d[j] = (double)PL_NAME(mx_dist)(g, sqn, i, j, squared);
        if (j == i) continue;
        if (labels[j] == yi) t[np_++] = d[j] + margin;
        else b[nn_++] = d[j];
    }
    if (np_ == 0 || nn_ == 0) {
        *rowloss = 0;
        *rowcount = 0;
        if (want)
            for (int64_t j = 0; j < n; j++) g[j] = 0;
        return;
    }
    qsort(t, (size_t)np_, sizeof(double), pl_metric_cmp);
    qsort(b, (size_t)nn_, sizeof(double), pl_metric_cmp);
    pre[0] = 0;
    for (int64_t k = 0; k < nn_; k++) pre[k + 1] = pre[k] + b[k];
    double total = 0, cnt = 0;
    for (int64_t k = 0; k < np_; k++) {
        int64_t c = pl_metric_below(b, nn_, t[k]);
        total += (double)c * t[k] - pre[c];
        cnt += (double)c;
    }
    *rowloss = total;
    *rowcount = cnt;
    if (!want) return;
    for (int64_t j = 0; j < n; j++) {
        double coef;
        if (j == i) {
            g[j] = 0;
            continue;
        }
        if (labels[j] == yi) coef = (double)pl_metric_below(b, nn_, d[j] + margin);
        else coef = -(double)(np_ - pl_metric_upto(t, np_, d[j]));
        if (squared) g[j] = (T)coef;
        else g[j] = d[j] > 0 ? (T)(coef / (2.0 * d[j])) : (T)0;
    }
}

static void PL_NAME(mx_all_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_lab) *a = (const PL_NAME(mx_lab) *)va;
    const int tid = pl_pool_tid();
    if (!a->bufs[tid] && !a->err[tid]) {
        a->bufs[tid] = (double *)malloc((size_t)(4 * a->n + 1) * sizeof(double));
        if (!a->bufs[tid]) a->err[tid] = 1;
    }
    if (a->err[tid]) return;
    PL_NAME(mx_allrow)(a->n, i, a->s + i * a->n, a->sqn, a->labels, a->margin, a->flag,
                       a->rowloss + i, a->rowcount + i, a->want, a->bufs[tid]);
}

int PL_NAME(pl_metric_batch_all_rows)(int64_t n, T *g, const T *sqn, const int64_t *labels,
                                      double margin, int squared, double *rowloss,
                                      double *rowcount, int want_grad, int nthreads)
{
    const int nt = pl_threads(n * n, nthreads);
    double **bufs = (double **)calloc((size_t)nt, sizeof(double *));
    int *errs = (int *)calloc((size_t)nt, sizeof(int));
    if (!bufs || !errs) {
        free(bufs);
        free(errs);
        return 1;
    }
    /* g is the Gram matrix in, the gradient out: mx_allrow writes row i only */
    PL_NAME(mx_lab) a = {n, g, g, sqn, labels, 0, margin, squared, want_grad, rowloss, rowcount,
                         NULL, NULL, bufs, errs};
    pl_for_items(n, 1, nt, PL_NAME(mx_all_item), &a);
    int err = 0;
    for (int q = 0; q < nt; q++) {
        err |= errs[q];
        free(bufs[q]);
    }
    free(bufs);
    free(errs);
    return err;
}

/* w <- w + w^T in place, n x n, by tiles of 256 bytes a side (64 floats, 32
 * doubles): tile (a, b), a <= b, is copied row by row into an L1 buffer; each
 * row of its mirror (b, a), contiguous in w, is then updated in place,
 * w_ji += buf_ij, and the sums go back into the buffer, which is written back
 * row by row.  Walking the mirror's columns straight through w would step n
 * entries per access (every row of a tile in one cache set: n = 8192 floats
 * is 32 KiB), 3x slower.  Each output w_ij = w_ji = w_ij + w_ji is one
 * addition of the same two numbers whatever the thread count (IEEE addition
 * is commutative), so the result is bit-identical for any nthreads.  Lets a
 * loss over z z^T make its gradient (W + W^T) z with one BLAS product instead
 * of two. */
#define PL_SYM_TILE ((int64_t)(256 / sizeof(T)))
static void PL_NAME(mx_sym_tilerow)(int64_t n, T *w, int64_t a0)
{
    T A[64 * 64];
    const int64_t ts = PL_SYM_TILE;
    const int64_t ha = a0 + ts < n ? ts : n - a0;
    for (int64_t b0 = a0; b0 < n; b0 += ts) {
        const int64_t hb = b0 + ts < n ? ts : n - b0;
        for (int64_t i = 0; i < ha; i++)          /* A = w[a0.., b0..] */
            memcpy(A + i * ts, w + (a0 + i) * n + b0, (size_t)hb * sizeof(T));
        if (b0 == a0) {                            /* diagonal tile: within A */
            for (int64_t i = 0; i < ha; i++) {
                A[i * ts + i] += A[i * ts + i];
                for (int64_t j = i + 1; j < hb; j++) {
                    const T v = A[i * ts + j] + A[j * ts + i];
                    A[i * ts + j] = v;
                    A[j * ts + i] = v;
                }
            }
        } else {
            for (int64_t j = 0; j < hb; j++) {     /* mirror row j, in place */
                T *restrict r = w + (b0 + j) * n + a0;
                for (int64_t i = 0; i < ha; i++) {
                    const T v = A[i * ts + j] + r[i];
                    r[i] = v;
                    A[i * ts + j] = v;
                }
            }
        }
        for (int64_t i = 0; i < ha; i++)
            memcpy(w + (a0 + i) * n + b0, A + i * ts, (size_t)hb * sizeof(T));
    }
}

typedef struct {
    int64_t n, nt;
    T *w;
} PL_NAME(mx_sym);

static void PL_NAME(mx_sym_item)(const void *va, int64_t t)
{
    const PL_NAME(mx_sym) *a = (const PL_NAME(mx_sym) *)va;
    /* tile rows t and nt-1-t: equal work */
    PL_NAME(mx_sym_tilerow)(a->n, a->w, t * PL_SYM_TILE);
    if (a->nt - 1 - t != t) PL_NAME(mx_sym_tilerow)(a->n, a->w, (a->nt - 1 - t) * PL_SYM_TILE);
}

void PL_NAME(pl_metric_symmetrize)(int64_t n, T *w, int nthreads)
{
    PL_NAME(mx_sym) a = {n, (n + PL_SYM_TILE - 1) / PL_SYM_TILE, w};
    pl_for_items((a.nt + 1) / 2, 1, pl_threads(n * n, nthreads),
                 PL_NAME(mx_sym_item), &a);
}
#undef PL_SYM_TILE

/* PyTorch's margin_ranking_loss, elementwise: h = -y (x1 - x2) + margin,
 * l = max(h, 0) (NaN kept), d l / d x1 = -y where h > 0, else 0; g2 = -g1.
 * g1 and g2 are both NULL (value only) or both given. */
/* The arguments of the pairwise kernels (margin_ranking, cosine_embedding). */
typedef struct {
    int64_t n, d;
    const T *x1, *x2, *y;
    double margin;
    double *rowloss;
    T *g1, *g2;
} PL_NAME(mx_pair);

/* Elements [b PL_BLOCK, (b + 1) PL_BLOCK) of margin_ranking: a straight
 * loop per block (one call per element through pl_for_items cost ~9 ns an
 * element, 10x the arithmetic). */
static void PL_NAME(mx_rank_block)(const void *va, int64_t b)
{
    const PL_NAME(mx_pair) *a = (const PL_NAME(mx_pair) *)va;
    const int64_t i0 = b * PL_BLOCK;
    const int64_t n = a->n - i0 < PL_BLOCK ? a->n - i0 : PL_BLOCK;
    const T *restrict x1 = a->x1 + i0, *restrict x2 = a->x2 + i0, *restrict y = a->y + i0;
    double *restrict rl = a->rowloss + i0;
    const T m = (T)a->margin;
    for (int64_t i = 0; i < n; i++) {
        const T h = -y[i] * (x1[i] - x2[i]) + m;
        rl[i] = (double)(h > (T)0 ? h : (h == h ? (T)0 : h));
    }
    if (a->g1) {
        T *restrict g1 = a->g1 + i0, *restrict g2 = a->g2 + i0;
        for (int64_t i = 0; i < n; i++) {
            const T h = -y[i] * (x1[i] - x2[i]) + m;
            const T g = h > (T)0 ? -y[i] : (T)0;
            g1[i] = g;
            g2[i] = -g;
        }
    }
}

void PL_NAME(pl_metric_margin_rank)(int64_t n, const T *x1, const T *x2, const T *y,
                                              double margin, double *rowloss, T *g1, T *g2,
                                              int nthreads)
{
    PL_NAME(mx_pair) a = {n, 0, x1, x2, y, margin, rowloss, g1, g2};
    pl_for_items(pl_nblocks(n), 1, pl_threads(n, nthreads), PL_NAME(mx_rank_block), &a);
}

/* One row of PyTorch's cosine_embedding_loss: cos = a.b / sqrt((|a|^2 + eps)
 * (|b|^2 + eps)), eps = 1e-12, sums in double; l = 1 - cos (y > 0) or
 * max(cos - margin, 0); the gradient d cos / d a = b / den - cos a / na
 * times -1, 1 or 0. */
PL_INLINE void PL_NAME(mx_cosrow)(int64_t d, const T *a, const T *b, T y, double margin,
                                  double *rowloss, T *ga, T *gb)
{
    double sab[PL_LANES] = {0}, saa[PL_LANES] = {0}, sbb[PL_LANES] = {0};
    int64_t j = 0;
    for (; j + PL_LANES <= d; j += PL_LANES)
        for (int l = 0; l < PL_LANES; l++) {
            const double u = (double)a[j + l], v = (double)b[j + l];
            sab[l] += u * v;
            saa[l] += u * u;
            sbb[l] += v * v;
        }
    for (int l = 0; j < d; j++, l++) {
        const double u = (double)a[j], v = (double)b[j];
        sab[l] += u * v;
        saa[l] += u * u;
        sbb[l] += v * v;
    }
    const double ab = pl_lanes_sum(sab);
    const double na = pl_lanes_sum(saa) + 1e-12, nb = pl_lanes_sum(sbb) + 1e-12;
    const double den = sqrt(na * nb);
    const double cs = ab / den;
    const int pos = y > (T)0;
    const double h = cs - margin;
    *rowloss = pos ? 1.0 - cs : (h > 0 ? h : (h == h ? 0.0 : h));
    if (!ga) return;
    const double dc = pos ? -1.0 : (h > 0 ? 1.0 : 0.0);
    const T s = (T)(dc / den), ca = (T)(dc * cs / na), cb = (T)(dc * cs / nb);
    for (int64_t k = 0; k < d; k++) {
        const T u = a[k], v = b[k];
        ga[k] = s * v - ca * u;
        gb[k] = s * u - cb * v;
    }
}

static void PL_NAME(mx_cos_item)(const void *va, int64_t i)
{
    const PL_NAME(mx_pair) *a = (const PL_NAME(mx_pair) *)va;
    const int64_t d = a->d;
    PL_NAME(mx_cosrow)(d, a->x1 + i * d, a->x2 + i * d, a->y[i], a->margin, a->rowloss + i,
                       a->g1 ? a->g1 + i * d : NULL, a->g2 ? a->g2 + i * d : NULL);
}

/* Rows of cosine_embedding: x1, x2 (n, d); ga, gb both NULL or both given. */
void PL_NAME(pl_metric_cosine_rows)(int64_t n, int64_t d, const T *x1, const T *x2,
                                              const T *y, double margin, double *rowloss, T *g1,
                                              T *g2, int nthreads)
{
    PL_NAME(mx_pair) a = {n, d, x1, x2, y, margin, rowloss, g1, g2};
    pl_for_items(n, pl_rows_per_block(d), pl_threads(n * (d > 0 ? d : 1), nthreads),
                 PL_NAME(mx_cos_item), &a);
}
