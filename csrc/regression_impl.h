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

/* pinball loss on u = target - pred, p0 = q in (0, 1).  With p1 != 0 the
 * level is per element, from the auxiliary input a (several levels in one
 * call: pyloss broadcasts the K levels along the last axis). */
PL_INLINE void PL_NAME(quantile_point)(T p, T t, T a, T q0, T p1, T *l, T *g, T *h)
{
    T q = p1 != (T)0 ? a : q0;
    T u = t - p;
    *l = u > 0 ? q * u : (q - (T)1) * u;
    *g = u > 0 ? -q : (u < 0 ? (T)1 - q : u * (T)0);
    *h = (T)0;
}
PL_EW_KERNEL_AUX(quantile)

/* Pseudo-Huber, p0 = delta > 0, p1 = 1/delta.  With x = r/delta and
 * s = sqrt(1 + x^2): l = delta^2 (s - 1) = r^2 / (1 + s), written
 * delta |r| (|x| / (1 + s)) so that it neither cancels for small |r| nor
 * overflows for large; s itself is |x| sqrt(1 + 1/x^2) above |x| = 1.
 * g = r / s, h = 1 / s^3 (XGBoost reg:pseudohubererror's
 * slope^2 / ((slope^2 + r^2) s)). */
PL_INLINE void PL_NAME(pseudo_huber_point)(T p, T t, T a, T delta, T inv_delta, T *l, T *g, T *h)
{
    (void)a;
    T r = p - t;
    T ax = PL_FABS(r) * inv_delta;
    int big = ax > (T)1;
    T u = big ? (T)1 / ax : ax;
    T s0 = PL_SQRT((T)1 + u * u);
    T s = big ? ax * s0 : s0;
    *l = delta * PL_FABS(r) * (ax / ((T)1 + s));
    *g = r / s;
    T is = (T)1 / s;
    *h = is * is * is;
}
PL_EW_KERNEL(pseudo_huber)

/* x - log1p(x) for x >= 0 without cancellation.  Below x = 1, with
 * s = x / (2 + x), log1p(x) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...) and
 * x - 2 s = x s exactly, so x - log1p(x) = x s - 2 s^3 (1/3 + s^2/5 + ...),
 * s^2 <= 1/9 (terms to s^34 for double, s^16 for float; the subtracted part
 * is under 8% of x s).  Above, x - log1p(x) >= 0.3 x loses at most 2 bits. */
PL_INLINE T PL_NAME(x_minus_log1p)(T x)
{
    T s = x / ((T)2 + x);
    T z = s * s;
    T q;
#if PL_DOUBLE
    q = 1.0 / 35.0;
    q = q * z + 1.0 / 33.0;
    q = q * z + 1.0 / 31.0;
    q = q * z + 1.0 / 29.0;
    q = q * z + 1.0 / 27.0;
    q = q * z + 1.0 / 25.0;
    q = q * z + 1.0 / 23.0;
    q = q * z + 1.0 / 21.0;
    q = q * z + 1.0 / 19.0;
    q = q * z + 1.0 / 17.0;
#else
    q = (T)(1.0 / 19.0);
    q = q * z + (T)(1.0 / 17.0);
#endif
    q = q * z + (T)(1.0 / 15.0);
    q = q * z + (T)(1.0 / 13.0);
    q = q * z + (T)(1.0 / 11.0);
    q = q * z + (T)(1.0 / 9.0);
    q = q * z + (T)(1.0 / 7.0);
    q = q * z + (T)(1.0 / 5.0);
    q = q * z + (T)(1.0 / 3.0);
    T small = x * s - (T)2 * (s * z) * q;
    T xb = x <= (T)1 ? (T)1 : x;             /* keep the log's argument >= 1 */
    T large = x - PL_LOG1P_POS(xb);
    return x <= (T)1 ? small : large;
}

/* Fair, p0 = c > 0, p1 = 1/c: x = |r|/c, l = c^2 (x - log1p(x)),
 * g = c r / (|r| + c), h = c^2 / (|r| + c)^2 (LightGBM's fair objective). */
PL_INLINE void PL_NAME(fair_point)(T p, T t, T a, T c, T inv_c, T *l, T *g, T *h)
{
    (void)a;
    T r = p - t;
    T ar = PL_FABS(r);
    T x = ar * inv_c;
    *l = c * c * PL_NAME(x_minus_log1p)(x);
    T q = c / (ar + c);
    *g = q * r;
    *h = q * q;
}
PL_EW_KERNEL(fair)

/* Expectile, p0 = tau in (0, 1): u = target - pred, weight tau for u >= 0
 * and 1 - tau for u < 0; l = w u^2, g = -2 w u, h = 2 w. */
PL_INLINE void PL_NAME(expectile_point)(T p, T t, T a, T tau, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    T u = t - p;
    T w = u < (T)0 ? (T)1 - tau : tau;
    *l = w * u * u;
    *g = (T)-2 * w * u;
    *h = (T)2 * w;
}
PL_EW_KERNEL(expectile)
