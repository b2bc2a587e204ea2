/* embedding_impl.h -- triplet and contrastive row kernels, included once per
 * dtype by embedding.c (see pl_type.h).  Rows are samples of length d.
 *
 * Each row makes two passes over its d elements: the first accumulates the
 * distances (float64 lanes, so float32 keeps full precision up to d = 4096),
 * the second -- only when gradients are asked for -- rereads the row, now in
 * cache, and writes every gradient.  Differences are formed in T, as PyTorch
 * does.  Loops over PL_LANES independent lanes let GCC vectorise the sums
 * without reassociating (no -ffast-math). */

PL_INLINE T PL_NAME(emb_sign0)(T x)
{
    return x > 0 ? (T)1 : (x < 0 ? (T)-1 : x * (T)0);
}

/* |x|^p as a double: mode 0 is p = 2, mode 1 p = 1, mode 2 any p > 0
 * (exp(p log|x|) in double; log 0 = -inf gives 0). */
PL_INLINE double PL_NAME(tri_pow)(T x, const int mode, double pw)
{
    if (mode == 0) return (double)x * (double)x;
    if (mode == 1) return (double)PL_FABS(x);
    return pl_exp(pw * pl_log((double)PL_FABS(x)));
}

PL_INLINE double PL_NAME(tri_root)(double q, const int mode, double pw)
{
    if (mode == 0) return sqrt(q);
    if (mode == 1) return q;
    return pow(q, 1.0 / pw);
}

/* d||x||_p / dx up to the per-row factor: x (p = 2), sign(x) (p = 1),
 * sign(x) (|x| / ||x||)^(p-1) with ld = log ||x|| (otherwise; 0 at x = 0). */
PL_INLINE T PL_NAME(tri_dnorm)(T x, const int mode, double pm1, double ld)
{
    if (mode == 0) return x;
    if (mode == 1) return PL_NAME(emb_sign0)(x);
    double ax = fabs((double)x);
    double f = ax > 0 ? pl_exp(pm1 * (pl_log(ax) - ld)) : 0.0;
    return (T)copysign(f, (double)x);
}

/* Coefficient of tri_dnorm for a distance dist carrying weight w. */
PL_INLINE double PL_NAME(tri_coef)(double dist, double w, const int mode)
{
    if (mode == 0) return dist > 0 ? w / dist : w * 0.0;
    return w;
}

/* The gradient pass of one row (restrict parameters: the Python layer never
 * lets an output alias an input, see pyloss/_defs/_rows.py). */
PL_INLINE void PL_NAME(tri_grad_row)(int64_t d, const T *restrict a, const T *restrict p,
                                     const T *restrict n, T eps, T c1, T c2, T c3, double pm1,
                                     double l1, double l2, double l3, T *restrict xa,
                                     T *restrict xp, T *restrict xn, const int mode,
                                     const int sw)
{
    for (int64_t j = 0; j < d; j++) {
        T aj = a[j], pj = p[j], nj = n[j];
        T f1 = c1 * PL_NAME(tri_dnorm)(aj - pj + eps, mode, pm1, l1);
        T f2 = c2 * PL_NAME(tri_dnorm)(aj - nj + eps, mode, pm1, l2);
        T f3 = sw ? c3 * PL_NAME(tri_dnorm)(pj - nj + eps, mode, pm1, l3) : (T)0;
        xa[j] = f1 - f2;
        xp[j] = -f1 - f3;
        xn[j] = f2 + f3;
    }
}

PL_INLINE double PL_NAME(tri_blk)(int64_t r0, int64_t r1, int64_t d, const T *A, const T *P,
                                  const T *N, double margin, T eps, double pw, double scale,
                                  T *loss, T *ga, T *gp, T *gn, const int mode, const int sw,
                                  const int grad)
{
    double acc = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        const T *restrict a = A + r * d;
        const T *restrict p = P + r * d;
        const T *restrict n = N + r * d;
        double s1[PL_LANES] = {0}, s2[PL_LANES] = {0}, s3[PL_LANES] = {0};
        int64_t j = 0;
        for (; j + PL_LANES <= d; j += PL_LANES) {
            for (int k = 0; k < PL_LANES; k++) {
                T aj = a[j + k], pj = p[j + k], nj = n[j + k];
                s1[k] += PL_NAME(tri_pow)(aj - pj + eps, mode, pw);
                s2[k] += PL_NAME(tri_pow)(aj - nj + eps, mode, pw);
                if (sw) s3[k] += PL_NAME(tri_pow)(pj - nj + eps, mode, pw);
            }
        }
        for (int k = 0; j < d; j++, k++) {
            T aj = a[j], pj = p[j], nj = n[j];
            s1[k] += PL_NAME(tri_pow)(aj - pj + eps, mode, pw);
            s2[k] += PL_NAME(tri_pow)(aj - nj + eps, mode, pw);
            if (sw) s3[k] += PL_NAME(tri_pow)(pj - nj + eps, mode, pw);
        }
        const double d1 = PL_NAME(tri_root)(pl_lanes_sum(s1), mode, pw);
        const double d2 = PL_NAME(tri_root)(pl_lanes_sum(s2), mode, pw);
        double dn = d2, w2 = 1.0, w3 = 0.0, d3 = 0.0;
        if (sw) {
            d3 = PL_NAME(tri_root)(pl_lanes_sum(s3), mode, pw);
            /* torch.minimum: the smaller one, NaN propagating; its gradient
             * is split half and half at a tie */
            dn = (d3 < d2 || d3 != d3) ? d3 : d2;
            w2 = d2 < d3 ? 1.0 : (d2 == d3 ? 0.5 : 0.0);
            w3 = 1.0 - w2;
        }
        const double v = d1 - dn + margin;
        const double l = v < 0 ? 0.0 : v;   /* NaN propagates */
        acc += l;
        if (loss) loss[r] = (T)l;
        if (!grad) continue;
        /* sub-gradient 0 exactly at the hinge (SPEC 3a) */
        const double act = scale * (v > 0 ? 1.0 : (v == v ? 0.0 : v));
        const T c1 = (T)PL_NAME(tri_coef)(d1, act, mode);
        const T c2 = (T)PL_NAME(tri_coef)(d2, act * w2, mode);
        const T c3 = sw ? (T)PL_NAME(tri_coef)(d3, act * w3, mode) : (T)0;
        const double pm1 = pw - 1.0;
        const double l1 = mode == 2 ? log(d1) : 0.0;
        const double l2 = mode == 2 ? log(d2) : 0.0;
        const double l3 = mode == 2 && sw ? log(d3) : 0.0;
        PL_NAME(tri_grad_row)(d, a, p, n, eps, c1, c2, c3, pm1, l1, l2, l3, ga + r * d,
                              gp + r * d, gn + r * d, mode, sw);
    }
    return acc;
}

/* The flags become literals here, inside the block function (pl_sum_blocks),
 * so that every combination is a straight, vectorisable loop. */
#define PL_TRI_CASE(M, S, G)                                                                    \
    case (M) * 4 + (S) * 2 + (G):                                                               \
        return PL_NAME(tri_blk)(r0, r1, d, a, p, neg, margin, eps, pw, scale, loss, ga, gp, gn, \
                                M, S, G);

PL_INLINE double PL_NAME(tri_blkd)(int64_t r0, int64_t r1, int64_t d, const T *a, const T *p,
                                   const T *neg, double margin, T eps, double pw, double scale,
                                   T *loss, T *ga, T *gp, T *gn, int mode, int swap, int g)
{
    switch (mode * 4 + swap * 2 + g) {
    PL_TRI_CASE(0, 0, 0) PL_TRI_CASE(0, 0, 1) PL_TRI_CASE(0, 1, 0) PL_TRI_CASE(0, 1, 1)
    PL_TRI_CASE(1, 0, 0) PL_TRI_CASE(1, 0, 1) PL_TRI_CASE(1, 1, 0) PL_TRI_CASE(1, 1, 1)
    PL_TRI_CASE(2, 0, 0) PL_TRI_CASE(2, 0, 1) PL_TRI_CASE(2, 1, 0)
    default:
        return PL_NAME(tri_blk)(r0, r1, d, a, p, neg, margin, eps, pw, scale, loss, ga, gp, gn,
                                2, 1, 1);
    }
}
#undef PL_TRI_CASE

static double PL_NAME(tri_one)(void *vj, int64_t b)
{
    const pl_rows_job *j = (const pl_rows_job *)vj;
    int64_t r0, r1;
    pl_rows_range(j, b, &r0, &r1);
    return PL_NAME(tri_blkd)(r0, r1, j->len, j->in[0], j->in[1], j->in[2], j->s[0], (T)j->s[1],
                             j->s[2], j->s[3], j->out[0], j->out[1], j->out[2], j->out[3],
                             j->f[0], j->f[1], j->f[2]);
}

double PL_NAME(pl_triplet)(int64_t n, int64_t d, const T *a, const T *p, const T *neg,
                                     double margin, double pw, double eps, int swap, double scale,
                                     T *loss, T *ga, T *gp, T *gn, int nthreads)
{
    pl_rows_job j = {n, d, 0, {a, p, neg, NULL}, {loss, ga, gp, gn}, {margin, eps, pw, scale},
                     {0, 0}, {pw == 2.0 ? 0 : (pw == 1.0 ? 1 : 2),
                              swap != 0, ga != NULL && gp != NULL && gn != NULL, 0}};
    return pl_rows_sum(&j, nthreads, PL_NAME(tri_one));
}

/* contrastive: s d^2 + (1 - s) max(0, margin - d)^2, d = ||x1 - x2||_2.
 * d/dx1 = c (x1 - x2) with c = 2s - 2(1-s) h / d, the hinge part taken as 0
 * at d = 0 (SPEC 3a); d/dx2 = -d/dx1. */
PL_INLINE double PL_NAME(con_blk)(int64_t r0, int64_t r1, int64_t d, const T *X1, const T *X2,
                                  const T *S, double margin, double scale, T *loss, T *g1,
                                  T *g2, const int grad)
{
    double acc = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        const T *restrict x1 = X1 + r * d;
        const T *restrict x2 = X2 + r * d;
        double q[PL_LANES] = {0};
        int64_t j = 0;
        for (; j + PL_LANES <= d; j += PL_LANES) {
            for (int k = 0; k < PL_LANES; k++) {
                double t = (double)(x1[j + k] - x2[j + k]);
                q[k] += t * t;
            }
        }
        for (int k = 0; j < d; j++, k++) {
            double t = (double)(x1[j] - x2[j]);
            q[k] += t * t;
        }
        const double d2 = pl_lanes_sum(q);
        const double dist = sqrt(d2);
        const double s = (double)S[r];
        const double v = margin - dist;
        const double h = v < 0 ? 0.0 : v;
        const double l = s * d2 + (1.0 - s) * h * h;
        acc += l;
        if (loss) loss[r] = (T)l;
        if (!grad) continue;
        const double c = 2.0 * s - (dist > 0 ? 2.0 * (1.0 - s) * h / dist : 0.0);
        const T C = (T)(scale * c);
        T *restrict y1 = g1 + r * d;
        T *restrict y2 = g2 + r * d;
        for (j = 0; j < d; j++) {
            T t = C * (x1[j] - x2[j]);
            y1[j] = t;
            y2[j] = -t;
        }
    }
    return acc;
}

static double PL_NAME(con_one)(void *vj, int64_t b)
{
    const pl_rows_job *j = (const pl_rows_job *)vj;
    int64_t r0, r1;
    pl_rows_range(j, b, &r0, &r1);
    return j->f[0] ? PL_NAME(con_blk)(r0, r1, j->len, j->in[0], j->in[1], j->in[2], j->s[0],
                                      j->s[1], j->out[0], j->out[1], j->out[2], 1)
                   : PL_NAME(con_blk)(r0, r1, j->len, j->in[0], j->in[1], j->in[2], j->s[0],
                                      j->s[1], j->out[0], j->out[1], j->out[2], 0);
}

double PL_NAME(pl_contrastive)(int64_t n, int64_t d, const T *x1, const T *x2,
                                         const T *similar, double margin, double scale, T *loss,
                                         T *g1, T *g2, int nthreads)
{
    pl_rows_job j = {n, d, 0, {x1, x2, similar, NULL}, {loss, g1, g2, NULL}, {margin, scale, 0, 0},
                     {0, 0}, {g1 != NULL && g2 != NULL, 0, 0, 0}};
    return pl_rows_sum(&j, nthreads, PL_NAME(con_one));
}
