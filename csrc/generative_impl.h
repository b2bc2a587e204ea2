/* generative_impl.h -- kernels of the generative family, included once per
 * dtype by generative.c (see pl_type.h): the kl_gaussian and vae row kernels
 * (rows.h) and the elementwise kl_div and GAN terms (elementwise.h). */

/* The KL part of one row: returns sum_j (1 + lv - mu^2 - e^lv) in double and
 * writes gm = cm * mu, gl = cl * (e^lv - 1) when grad.  e^lv overflows to inf
 * as the math does; the sum is then -inf and the loss +inf, never NaN for
 * finite input. */
PL_INLINE double PL_NAME(klg_row)(int64_t d, const T *restrict mu, const T *restrict lv, T cm, T cl,
                                  T *restrict gm, T *restrict gl,
                                  const int grad)
{
    double q[PL_LANES] = {0};
    int64_t j = 0;
    for (; j + PL_LANES <= d; j += PL_LANES) {
        for (int k = 0; k < PL_LANES; k++) {
            T m = mu[j + k], v = lv[j + k];
            T e = PL_EXP(v);
            q[k] += ((double)1 + (double)v) - ((double)m * (double)m + (double)e);
            if (grad) {
                gm[j + k] = cm * m;
                gl[j + k] = cl * (e - (T)1);
            }
        }
    }
    for (int k = 0; j < d; j++, k++) {
        T m = mu[j], v = lv[j];
        T e = PL_EXP(v);
        q[k] += ((double)1 + (double)v) - ((double)m * (double)m + (double)e);
        if (grad) {
            gm[j] = cm * m;
            gl[j] = cl * (e - (T)1);
        }
    }
    return pl_lanes_sum(q);
}

PL_INLINE double PL_NAME(klg_blk)(int64_t r0, int64_t r1, int64_t d, const T *MU, const T *LV,
                                  double scale, T *loss, T *gm, T *gl, const int grad)
{
    double acc = 0.0;
    const T cm = (T)scale, cl = (T)(0.5 * scale);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t o = r * d;
        double l = -0.5 * PL_NAME(klg_row)(d, MU + o, LV + o, cm, cl, grad ? gm + o : NULL,
                                           grad ? gl + o : NULL, grad);
        acc += l;
        if (loss) loss[r] = (T)l;
    }
    return acc;
}

static double PL_NAME(klg_one)(void *vj, int64_t b)
{
    const pl_rows_job *j = (const pl_rows_job *)vj;
    int64_t r0, r1;
    pl_rows_range(j, b, &r0, &r1);
    return j->f[0] ? PL_NAME(klg_blk)(r0, r1, j->len, j->in[0], j->in[1], j->s[0], j->out[0],
                                      j->out[1], j->out[2], 1)
                   : PL_NAME(klg_blk)(r0, r1, j->len, j->in[0], j->in[1], j->s[0], j->out[0],
                                      j->out[1], j->out[2], 0);
}

double PL_NAME(pl_kl_gaussian)(int64_t n, int64_t d, const T *mu, const T *logvar,
                                         double scale, T *loss, T *g_mu, T *g_logvar,
                                         int nthreads)
{
    pl_rows_job j = {n, d, 0, {mu, logvar, NULL, NULL}, {loss, g_mu, g_logvar, NULL},
                     {scale, 0, 0, 0}, {0, 0}, {g_mu != NULL && g_logvar != NULL, 0, 0, 0}};
    return pl_rows_sum(&j, nthreads, PL_NAME(klg_one));
}

/* vae: per row sum_f rec(r_f, x_f) + beta * KL.  rec is (r - x)^2 (bce = 0)
 * or softplus(r) - r x with gradient sigmoid(r) - x (bce = 1), both from
 * e = exp(-|r|), so one exp serves value and gradient. */
PL_INLINE double PL_NAME(vae_blk)(int64_t r0, int64_t r1, int64_t nf, int64_t nl, const T *R,
                                  const T *X, const T *MU, const T *LV, double beta,
                                  double scale, T *loss, T *gr, T *gm, T *gl, const int bce,
                                  const int grad)
{
    double acc = 0.0;
    const T sc = (T)scale, two_sc = (T)(2.0 * scale);
    const T cm = (T)(scale * beta), cl = (T)(0.5 * scale * beta);
    for (int64_t row = r0; row < r1; row++) {
        const T *restrict r = R + row * nf;
        const T *restrict x = X + row * nf;
        T *restrict g = grad ? gr + row * nf : NULL;
        double q[PL_LANES] = {0};
        int64_t j = 0;
#define PL_VAE_POINT(J, K)                                                                      \
        {                                                                                       \
            T rj = r[J], xj = x[J];                                                             \
            if (bce) {                                                                          \
                T e = PL_EXP(-PL_FABS(rj));                                                     \
                T inv = (T)1 / ((T)1 + e);                                                      \
                T sp = (rj > 0 ? rj : (T)0) + PL_LOG1P_UNIT(e, inv);                            \
                q[K] += (double)sp - (double)rj * (double)xj;                                   \
                if (grad) {                                                                     \
                    T sig = rj >= 0 ? inv : e * inv;                                            \
                    g[J] = sc * (sig - xj);                                                     \
                }                                                                               \
            } else {                                                                            \
                T t = rj - xj;                                                                  \
                q[K] += (double)t * (double)t;                                                  \
                if (grad) g[J] = two_sc * t;                                                    \
            }                                                                                   \
        }
        for (; j + PL_LANES <= nf; j += PL_LANES)
            for (int k = 0; k < PL_LANES; k++) PL_VAE_POINT(j + k, k)
        for (int k = 0; j < nf; j++, k++) PL_VAE_POINT(j, k)
#undef PL_VAE_POINT
        const int64_t o = row * nl;
        double kl = -0.5 * PL_NAME(klg_row)(nl, MU + o, LV + o, cm, cl, grad ? gm + o : NULL,
                                            grad ? gl + o : NULL, grad);
        double l = pl_lanes_sum(q) + beta * kl;
        acc += l;
        if (loss) loss[row] = (T)l;
    }
    return acc;
}

#define PL_VAE_CASE(B, G)                                                                       \
    case (B) * 2 + (G):                                                                         \
        return PL_NAME(vae_blk)(r0, r1, nf, nl, recon, x, mu, logvar, beta, scale, loss, g_recon, \
                                g_mu, g_logvar, B, G);

/* The flags become literals here, inside the block function (pl_sum_blocks),
 * so that every combination is a straight, vectorisable loop. */
PL_INLINE double PL_NAME(vae_blkd)(int64_t r0, int64_t r1, int64_t nf, int64_t nl, const T *recon,
                                   const T *x, const T *mu, const T *logvar, double beta,
                                   double scale, T *loss, T *g_recon, T *g_mu, T *g_logvar,
                                   int bce, int g)
{
    switch (bce * 2 + g) {
    PL_VAE_CASE(0, 0) PL_VAE_CASE(0, 1) PL_VAE_CASE(1, 0)
    default:
        return PL_NAME(vae_blk)(r0, r1, nf, nl, recon, x, mu, logvar, beta, scale, loss, g_recon,
                                g_mu, g_logvar, 1, 1);
    }
}
#undef PL_VAE_CASE

static double PL_NAME(vae_one)(void *vj, int64_t b)
{
    const pl_rows_job *j = (const pl_rows_job *)vj;
    int64_t r0, r1;
    pl_rows_range(j, b, &r0, &r1);
    return PL_NAME(vae_blkd)(r0, r1, j->k[0], j->k[1], j->in[0], j->in[1], j->in[2], j->in[3],
                             j->s[0], j->s[1], j->out[0], j->out[1], j->out[2], j->out[3],
                             j->f[0], j->f[1]);
}

double PL_NAME(pl_vae)(int64_t n, int64_t nf, int64_t nl, const T *recon, const T *x,
                                 const T *mu, const T *logvar, int bce, double beta, double scale,
                                 T *loss, T *g_recon, T *g_mu, T *g_logvar, int nthreads)
{
    pl_rows_job j = {n, nf + nl, 0, {recon, x, mu, logvar}, {loss, g_recon, g_mu, g_logvar},
                     {beta, scale, 0, 0}, {nf, nl},
                     {bce != 0, g_recon != NULL && g_mu != NULL && g_logvar != NULL, 0, 0}};
    return pl_rows_sum(&j, nthreads, PL_NAME(vae_one));
}

/* kl_div, torch F.kl_div pointwise: xlogy(t, t) - t x (0 at t = 0), or with
 * log_target (p0 != 0) exp(t) (t - x).  Linear in x: Hessian 0.  One kernel
 * per form, picked once per call, so neither loop computes the other's exp or
 * log (a select between them would evaluate both). */
PL_INLINE void PL_NAME(kl_div_prob_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T xlogy = t == 0 ? (T)0 : t * PL_LOG(t);
    *l = xlogy - t * x;
    *g = -t;
    *h = (T)0;
}
PL_EW_INTERNAL(kl_div_prob)

PL_INLINE void PL_NAME(kl_div_logt_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T et = PL_EXP(t);
    *l = et * (t - x);
    *g = -et;
    *h = (T)0;
}
PL_EW_INTERNAL(kl_div_logt)

double PL_NAME(pl_kl_div)(int64_t n, const T *pred, const T *target, const T *weight,
                          const T *aux, double p0, double p1, double scale, T *loss, T *grad,
                          T *hess, int nthreads)
{
    if (p0 != 0)
        return PL_NAME(pl_kl_div_logt)(n, pred, target, weight, aux, p0, p1, scale, loss, grad,
                                       hess, nthreads);
    return PL_NAME(pl_kl_div_prob)(n, pred, target, weight, aux, p0, p1, scale, loss, grad, hess,
                                   nthreads);
}

/* GAN terms as functions of one logit x (the target argument is unused).
 * bce: softplus(-x) (real) and softplus(x) (fake) from e = exp(-|x|), with
 * sigmoid(+-x) from the same e so neither gradient cancels. */
PL_INLINE void PL_NAME(gan_real_bce_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    T e = PL_EXP(-PL_FABS(x));
    T inv = (T)1 / ((T)1 + e);
    T s_pos = x >= 0 ? inv : e * inv;   /* sigmoid(x) */
    T s_neg = x >= 0 ? e * inv : inv;   /* sigmoid(-x) */
    *l = (x < 0 ? -x : (T)0) + PL_LOG1P_UNIT(e, inv);
    *g = -s_neg;
    *h = s_pos * s_neg;
}
PL_EW_KERNEL(gan_real_bce)

PL_INLINE void PL_NAME(gan_fake_bce_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    T e = PL_EXP(-PL_FABS(x));
    T inv = (T)1 / ((T)1 + e);
    T s_pos = x >= 0 ? inv : e * inv;
    T s_neg = x >= 0 ? e * inv : inv;
    *l = (x > 0 ? x : (T)0) + PL_LOG1P_UNIT(e, inv);
    *g = s_pos;
    *h = s_pos * s_neg;
}
PL_EW_KERNEL(gan_fake_bce)

/* hinge: relu(1 - x) (real), relu(1 + x) (fake); sub-gradient 0 at the kink */
PL_INLINE void PL_NAME(gan_real_hinge_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    T v = (T)1 - x;
    *l = v < 0 ? (T)0 : v;
    *g = v > 0 ? (T)-1 : (v == v ? (T)0 : v);
    *h = (T)0;
}
PL_EW_KERNEL(gan_real_hinge)

PL_INLINE void PL_NAME(gan_fake_hinge_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    T v = (T)1 + x;
    *l = v < 0 ? (T)0 : v;
    *g = v > 0 ? (T)1 : (v == v ? (T)0 : v);
    *h = (T)0;
}
PL_EW_KERNEL(gan_fake_hinge)

PL_INLINE void PL_NAME(gan_real_wasserstein_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    *l = -x;
    *g = (T)-1;
    *h = (T)0;
}
PL_EW_KERNEL(gan_real_wasserstein)

PL_INLINE void PL_NAME(gan_fake_wasserstein_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    *l = x;
    *g = (T)1;
    *h = (T)0;
}
PL_EW_KERNEL(gan_fake_wasserstein)

PL_INLINE void PL_NAME(gan_real_lsgan_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    T u = x - (T)1;
    *l = (T)0.5 * u * u;
    *g = u;
    *h = (T)1;
}
PL_EW_KERNEL(gan_real_lsgan)

PL_INLINE void PL_NAME(gan_fake_lsgan_point)(T x, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)t; (void)a; (void)p0; (void)p1;
    *l = (T)0.5 * x * x;
    *g = x;
    *h = (T)1;
}
PL_EW_KERNEL(gan_fake_lsgan)
