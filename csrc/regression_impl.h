/* regression_impl.h -- point functions of the regression family, included
 * once per dtype by regression.c (see pl_type.h).  r = pred - target. */

/* sign(r) with sign(0) = 0 (the kink sub-gradient, SPEC 3a) and NaN kept. */
PL_INLINE T PL_NAME(reg_sign)(T r)
{
    return r > 0 ? (T)1 : (r < 0 ? (T)-1 : r * (T)0);
}

PL_INLINE void PL_NAME(mse_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T r = p - t;
    *l = r * r;
    *g = (T)2 * r;
    *h = (T)2;
}
PL_EW_KERNEL(mse)

PL_INLINE void PL_NAME(mae_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T r = p - t;
    *l = PL_FABS(r);
    *g = PL_NAME(reg_sign)(r);
    *h = (T)0;
}
PL_EW_KERNEL(mae)

/* p0 = delta > 0 */
PL_INLINE void PL_NAME(huber_point)(T p, T t, T a, T delta, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    T r = p - t;
    T ar = PL_FABS(r);
    int in = ar <= delta;
    *l = in ? (T)0.5 * r * r : delta * (ar - (T)0.5 * delta);
    *g = in ? r : delta * PL_NAME(reg_sign)(r);
    *h = in ? (T)1 : (T)0;
}
PL_EW_KERNEL(huber)

/* p0 = beta >= 0, p1 = 1/beta (inf for beta = 0, when the quadratic zone is
 * empty and the loss is mae). */
PL_INLINE void PL_NAME(smooth_l1_point)(T p, T t, T a, T beta, T inv_beta, T *l, T *g, T *h)
{
    (void)a;
    T r = p - t;
    T ar = PL_FABS(r);
    int in = ar < beta;
    *l = in ? (T)0.5 * r * r * inv_beta : ar - (T)0.5 * beta;
    *g = in ? r * inv_beta : PL_NAME(reg_sign)(r);
    *h = in ? inv_beta : (T)0;
}
PL_EW_KERNEL(smooth_l1)

/* log cosh r.  For |r| >= 1: |r| - ln 2 + log1p(e), e = exp(-2|r|), which
 * never overflows.  For |r| < 1 that form cancels (log cosh r ~ r^2/2), so use
 * log cosh r = log1p(2 sinh^2(r/2)) with sinh from its Taylor series (on
 * |r/2| < 1/2 the truncation is below 2e-8 relative at degree 7 for float,
 * 1e-19 at degree 17 for double).  Both branches take log1p of u in [0, 1]
 * through v = 1 + u: v is cosh|r| on the small side and 1 + e on the big one,
 * so one reciprocal 1/v serves the log1p correction, tanh and sech^2. */
PL_INLINE void PL_NAME(log_cosh_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T r = p - t;
    T ar = PL_FABS(r);
    int small = ar < (T)1;
    T x = (T)0.5 * (small ? ar : (T)0);
    T x2 = x * x;
    T s;
#if PL_DOUBLE
    s = 1.0 / 355687428096000.0;
    s = s * x2 + 1.0 / 1307674368000.0;
    s = s * x2 + 1.0 / 6227020800.0;
    s = s * x2 + 1.0 / 39916800.0;
    s = s * x2 + 1.0 / 362880.0;
    s = s * x2 + 1.0 / 5040.0;
#else
    s = (T)(1.0 / 5040.0);
#endif
    s = s * x2 + (T)(1.0 / 120.0);
    s = s * x2 + (T)(1.0 / 6.0);
    s = (s * x2 + (T)1) * x;                 /* sinh(|r|/2) */
    T s2 = s * s;
    T e = PL_EXP((T)-2 * ar);
    T u = small ? (T)2 * s2 : e;             /* in [0, 1] */
    T inv = (T)1 / ((T)1 + u);               /* 1/cosh|r| or 1/(1 + e) */
    T L = PL_LOG1P_UNIT(u, inv);
    *l = small ? L : ar - (T)0.69314718055994530942 + L;
    T th_small = (T)2 * s * PL_SQRT((T)1 + s2) * inv;
    T th_big = ((T)1 - e) * inv;
    T th = small ? th_small : th_big;
    *g = PL_COPYSIGN(th, r);
    *g = r == r ? *g : r;
    *h = (small ? (T)1 : (T)4 * e) * (inv * inv);
    *h = r == r ? *h : r;
}
PL_EW_KERNEL(log_cosh)

/* pinball loss on u = target - pred, p0 = q in (0, 1) */
PL_INLINE void PL_NAME(quantile_point)(T p, T t, T a, T q, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    T u = t - p;
    *l = u > 0 ? q * u : (q - (T)1) * u;
    *g = u > 0 ? -q : (u < 0 ? (T)1 - q : u * (T)0);
    *h = (T)0;
}
PL_EW_KERNEL(quantile)
