/* glm_impl.h -- point functions of the GLM family (log-link "half" deviances
 * of sklearn._loss and the exponential loss), included once per dtype by
 * glm.c (see pl_type.h).  p = raw (link space), t = target y.
 *
 * Values, gradients and Hessians follow sklearn/_loss/_loss.pyx.tp term for
 * term (closs_* and cgrad_hess_* there), so they agree to rounding.  Where sklearn
 * would form 0 * inf (a zero target times an overflowed exponential, only
 * for |raw| beyond the double range of exp) the term is 0 here, which is the
 * value of the limit; every select below is branch-free so the loops
 * vectorise.  The *_dev kernels return the unit deviance
 * 2 (loss + constant_to_optimal_zero) instead (deviance=True: pyloss picks
 * the kernel, so the plain loops never evaluate log(target)). */

#ifndef PL_GLM_DEV_SERIES
#define PL_GLM_DEV_SERIES
/* The unit deviance near its zero.  With a = 1 - pw, b = 2 - pw, mu = e^raw
 * and delta = log y - raw = log(y / mu), the deviance of power pw is
 *   2 (mu^b / b - y mu^a / a + y^b / (ab)) = 2 mu^b F(delta),
 *   F(delta) = (e^{b delta} - b e^delta + a) / (ab)
 *            = sum_{k >= 2} c_k delta^k / k!,  c_2 = 1, c_{k+1} = 1 + b c_k
 * (c_k = 1 + b + ... + b^{k-2}; expand both exponentials: the k = 0 and
 * k = 1 terms cancel exactly since b - a = 1).  The closed forms are
 * differences of O(1) terms whose result is O(delta^2): in float32 at
 * pw = -1 and delta = 0.008 they lose 4 digits.  The series has no such
 * difference and, with no division by a or b, is also the Poisson (b = 1:
 * c_k = k - 1) and Gamma (b = 0: c_k = 1) deviance.  It is used where
 * m |delta| < 1, m = max(1, |b|): there c_k <= (k - 1) m^{k-2}, so term k
 * is at most 2 (k - 1) / k! of the first, and 20 terms (k = 2..21; the
 * first left out is below 4e-20 of the sum) reach double rounding.  Outside,
 * the closed forms' terms are within a small factor of the result (its
 * relative error a few ulps times 1 / |ab|, larger as pw nears 1 or 2, as
 * in scikit-learn's).  delta and the sum are in double for both dtypes:
 * log y in float32 would carry an error of |log y| ulps into delta. */
/* Horner's rule in delta over q_k = c_k / k!, straight-line (a loop of 20
 * is past the compilers' complete-unrolling limits, and a loop left in the
 * element loop stops its vectorisation).  The q_k depend on b alone: with b
 * a constant (Poisson, Gamma) they fold to constants, and for Tweedie they
 * are loop-invariant, so a term costs one multiply-add per element.  For a
 * float result (`single`, a compile-time constant) 11 terms (k = 2..12; the
 * first left out below 4e-9 of the sum) are enough. */
#define PL_DEV_TERMS 20
#define PL_DEV_Q(k, j) q[k] = c * f; c = 1.0 + b * c; f *= 1.0 / (j);
#define PL_DEV_H(k) s = s * d + q[k];
PL_INLINE double pl_dev_series(double d, double b, const int single)
{
    double q[PL_DEV_TERMS], c = 1.0, f = 0.5;
    PL_DEV_Q(0, 3) PL_DEV_Q(1, 4) PL_DEV_Q(2, 5) PL_DEV_Q(3, 6) PL_DEV_Q(4, 7)
    PL_DEV_Q(5, 8) PL_DEV_Q(6, 9) PL_DEV_Q(7, 10) PL_DEV_Q(8, 11) PL_DEV_Q(9, 12)
    PL_DEV_Q(10, 13) PL_DEV_Q(11, 14) PL_DEV_Q(12, 15) PL_DEV_Q(13, 16) PL_DEV_Q(14, 17)
    PL_DEV_Q(15, 18) PL_DEV_Q(16, 19) PL_DEV_Q(17, 20) PL_DEV_Q(18, 21) PL_DEV_Q(19, 22)
    double s = 0.0;
    if (!single) {
        s = q[PL_DEV_TERMS - 1];
        PL_DEV_H(18) PL_DEV_H(17) PL_DEV_H(16) PL_DEV_H(15) PL_DEV_H(14)
        PL_DEV_H(13) PL_DEV_H(12) PL_DEV_H(11)
    }
    PL_DEV_H(10) PL_DEV_H(9) PL_DEV_H(8) PL_DEV_H(7) PL_DEV_H(6) PL_DEV_H(5)
    PL_DEV_H(4) PL_DEV_H(3) PL_DEV_H(2) PL_DEV_H(1) PL_DEV_H(0)
    return s * d * d;
}
#undef PL_DEV_Q
#undef PL_DEV_H

/* delta = log y - raw in double (0 where y <= 0) and whether the series
 * applies: y > 0 and m |delta| < 1 (false for NaN and infinities). */
PL_INLINE int pl_dev_near(double p, double t, double b, double *delta)
{
    const double d = pl_log(t > 0.0 ? t : 1.0) - p;
    const double m = fabs(b) > 1.0 ? fabs(b) : 1.0;
    *delta = d;
    return (t > 0.0) & (fabs(d) * m < 1.0);
}
#endif

/* y * e with 0 * anything = 0 (y = 0 makes the term vanish exactly). */
PL_INLINE T PL_NAME(glm_ymul)(T y, T e)
{
    return y == (T)0 ? (T)0 : y * e;
}

/* Poisson: l = e^r - y r, g = e^r - y, h = e^r.  Deviance:
 * 2 (y log(y / mu) - y + mu) = 2 (y (log y - r) + (e^r - y)), 0 at mu = y
 * (pl_dev_series near there). */
PL_INLINE void PL_NAME(poisson_core)(T p, T t, const int dev, T *l, T *g, T *h)
{
    T e = PL_EXP(p);
    T gr = e - t;
    if (dev) {
        double dl;
        const int near = pl_dev_near(p, t, 1.0, &dl);
        T ylog = t > (T)0 ? t * (PL_LOG(t) - p) : (T)0;
        *l = near ? (T)(2.0 * (double)e * pl_dev_series(dl, 1.0, !PL_DOUBLE)) : (T)2 * (ylog + gr);
        *g = (T)2 * gr;
        *h = (T)2 * e;
    } else {
        *l = e - PL_NAME(glm_ymul)(t, p);
        *g = gr;
        *h = e;
    }
}
PL_INLINE void PL_NAME(poisson_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    PL_NAME(poisson_core)(p, t, 0, l, g, h);
}
PL_INLINE void PL_NAME(poisson_dev_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    PL_NAME(poisson_core)(p, t, 1, l, g, h);
}
PL_EW_KERNEL(poisson)
PL_EW_KERNEL(poisson_dev)

/* Gamma: l = r + y e^-r, g = 1 - y e^-r, h = y e^-r.  Deviance:
 * 2 (log(mu / y) + y / mu - 1) = 2 ((r - log y) + (y e^-r - 1)). */
PL_INLINE void PL_NAME(gamma_core)(T p, T t, const int dev, T *l, T *g, T *h)
{
    T ye = t * PL_EXP(-p);
    if (dev) {
        double dl;
        const int near = pl_dev_near(p, t, 0.0, &dl);
        *l = near ? (T)(2.0 * pl_dev_series(dl, 0.0, !PL_DOUBLE)) : (T)2 * ((p - PL_LOG(t)) + (ye - (T)1));
        *g = (T)2 * ((T)1 - ye);
        *h = (T)2 * ye;
    } else {
        *l = p + ye;
        *g = (T)1 - ye;
        *h = ye;
    }
}
PL_INLINE void PL_NAME(gamma_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    PL_NAME(gamma_core)(p, t, 0, l, g, h);
}
PL_INLINE void PL_NAME(gamma_dev_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    PL_NAME(gamma_core)(p, t, 1, l, g, h);
}
PL_EW_KERNEL(gamma)
PL_EW_KERNEL(gamma_dev)

/* The regular Tweedie terms from l = t1 - t2 and the two exponentials:
 * g = e^{br} - y e^{ar}, h = b e^{br} - a y e^{ar}.  Where both exponentials
 * overflowed (pw < 1 or pw > 2, |raw| beyond ~700/|pw|) l is inf - inf: the
 * term with the larger exponent wins, e^{br} for raw > 0 and y e^{ar} for
 * raw < 0, so the exact value is infinite with that term's sign (sklearn
 * gives nan here).  Per-element selects only, so a loop over it vectorises. */
PL_INLINE void PL_NAME(tweedie_terms)(T p, T t, T a, T b, T lo, T eb, T ya, T *l, T *g, T *h)
{
    const int both = (lo != lo) & (p == p) & (t == t);
    const T sp = p > (T)0 ? b : -t * a;              /* sign of l and of h */
    const T sg = p > (T)0 ? (T)1 : -t;               /* sign of g */
    *l = both ? PL_COPYSIGN((T)INFINITY, sp) : lo;
    *g = both ? PL_COPYSIGN((T)INFINITY, sg) : eb - ya;
    *h = both ? PL_COPYSIGN((T)INFINITY, sp) : b * eb - a * ya;
}

/* Tweedie with power pw, a = 1 - pw, b = 2 - pw:
 *   l = e^{br}/b - y e^{ar}/a   (pw = 1: e^r - y r; pw = 2: r + y e^-r;
 *                                pw = 0: (e^r - y)^2 / 2, sklearn's forms)
 *   g = e^{br} - y e^{ar}       (pw = 0: e^r (e^r - y), as sklearn)
 *   h = b e^{br} - a y e^{ar}   (pw = 0: e^r (2 e^r - y))
 * An exponent that is 0 gives exactly 1 (not exp(0 * inf)).  Deviance adds
 * sklearn's constant_to_optimal_zero: max(y, 0)^b / (a b), or y log y - y
 * (pw = 1), -log y - 1 (pw = 2), 0 (pw = 0); then doubles; near the
 * deviance's zero it is pl_dev_series instead (the same value without the
 * cancellation). */
/* The Tweedie deviance from the loss lo and the constant c: 2 (lo + c), or
 * the series near the deviance's zero. */
PL_INLINE T PL_NAME(tweedie_dev_loss)(T p, T t, T b, T eb, T lo, T c)
{
    double dl;
    const int near = pl_dev_near(p, t, b, &dl);
    return near ? (T)(2.0 * (double)eb * pl_dev_series(dl, b, !PL_DOUBLE)) : (T)2 * (lo + c);
}
PL_INLINE void PL_NAME(tweedie_core)(T p, T t, T pw, const int dev, T *l, T *g, T *h)
{
    const T a = (T)1 - pw, b = (T)2 - pw;
    T ea = a == (T)0 ? (T)1 : PL_EXP(a * p);
    T eb = b == (T)0 ? (T)1 : PL_EXP(b * p);
    T ya = PL_NAME(glm_ymul)(t, ea);
    T lo, gr, he;
    if (pw == (T)0) {
        /* sklearn's HalfSquaredError on y_pred = e^r: here ea = e^r */
        T d = ea - t;
        lo = (T)0.5 * d * d;
        gr = ea * d;
        he = ea * ((T)2 * ea - t);
    } else {
        T t1 = b == (T)0 ? p : eb / b;
        T t2 = a == (T)0 ? PL_NAME(glm_ymul)(t, p) : ya / a;
        PL_NAME(tweedie_terms)(p, t, a, b, t1 - t2, eb, ya, &lo, &gr, &he);
    }
    if (dev) {
        T c;
        if (pw == (T)0)
            c = (T)0;
        else if (a == (T)0)
            c = t > (T)0 ? t * PL_LOG(t) - t : (T)0;
        else if (b == (T)0)
            c = -PL_LOG(t) - (T)1;
        else
            c = t > (T)0 ? PL_EXP(b * PL_LOG(t)) / (a * b) : (T)0;
        lo = PL_NAME(tweedie_dev_loss)(p, t, b, eb, lo, c);
        gr = (T)2 * gr;
        he = (T)2 * he;
    }
    *l = lo;
    *g = gr;
    *h = he;
}
PL_INLINE void PL_NAME(tweedie_any_point)(T p, T t, T a, T pw, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    PL_NAME(tweedie_core)(p, t, pw, 0, l, g, h);
}
PL_INLINE void PL_NAME(tweedie_devany_point)(T p, T t, T a, T pw, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    PL_NAME(tweedie_core)(p, t, pw, 1, l, g, h);
}
/* A power other than 0, 1 and 2 (a and b both nonzero): tweedie_core's
 * formulas without its special cases.  Those are loop-invariant selects and a
 * loop-invariant branch, and GCC does not vectorise a loop that holds them
 * ("relevant stmt not supported"), so the generic loop ran scalar: 4x
 * scikit-learn at power 1.5 (bench/sections/glm.md). */
PL_INLINE void PL_NAME(tweedie_gen_point)(T p, T t, T a_, T pw, T p1, T *l, T *g, T *h)
{
    (void)a_; (void)p1;
    const T a = (T)1 - pw, b = (T)2 - pw;
    const T ea = PL_EXP(a * p), eb = PL_EXP(b * p);
    const T ya = PL_NAME(glm_ymul)(t, ea);
    PL_NAME(tweedie_terms)(p, t, a, b, eb / b - ya / a, eb, ya, l, g, h);
}
/* The deviance at a regular power: tweedie_core's deviance without its
 * special cases, so that the loop vectorises (with them it ran scalar, 6x the
 * Numba kernel's time at power 1.5).  The same operations as tweedie_core. */
PL_INLINE void PL_NAME(tweedie_devgen_point)(T p, T t, T a_, T pw, T p1, T *l, T *g, T *h)
{
    (void)a_; (void)p1;
    const T a = (T)1 - pw, b = (T)2 - pw;
    const T ea = PL_EXP(a * p), eb = PL_EXP(b * p);
    const T ya = PL_NAME(glm_ymul)(t, ea);
    T lo, gr, he;
    PL_NAME(tweedie_terms)(p, t, a, b, eb / b - ya / a, eb, ya, &lo, &gr, &he);
    const T c = t > (T)0 ? PL_EXP(b * PL_LOG(t > (T)0 ? t : (T)1)) / (a * b) : (T)0;
    *l = PL_NAME(tweedie_dev_loss)(p, t, b, eb, lo, c);
    *g = (T)2 * gr;
    *h = (T)2 * he;
}
PL_EW_INTERNAL(tweedie_any)
PL_EW_INTERNAL(tweedie_gen)
PL_EW_INTERNAL(tweedie_devany)
PL_EW_INTERNAL(tweedie_devgen)

/* pl_tweedie: the vectorised loop for a regular power, the loop with
 * sklearn's special forms for powers 0, 1 and 2 (compared in T, as the
 * kernels see the power). */
double PL_NAME(pl_tweedie)(int64_t n, const T *pred, const T *target, const T *weight,
                           const T *aux, double p0, double p1, double scale, T *loss, T *grad,
                           T *hess, int nthreads)
{
    const T pw = (T)p0;
    if (pw == (T)0 || pw == (T)1 || pw == (T)2)
        return PL_NAME(pl_tweedie_any)(n, pred, target, weight, aux, p0, p1, scale, loss, grad,
                                       hess, nthreads);
    return PL_NAME(pl_tweedie_gen)(n, pred, target, weight, aux, p0, p1, scale, loss, grad, hess,
                                   nthreads);
}

/* pl_tweedie_dev: the same choice for the deviance. */
double PL_NAME(pl_tweedie_dev)(int64_t n, const T *pred, const T *target, const T *weight,
                               const T *aux, double p0, double p1, double scale, T *loss,
                               T *grad, T *hess, int nthreads)
{
    const T pw = (T)p0;
    if (pw == (T)0 || pw == (T)1 || pw == (T)2)
        return PL_NAME(pl_tweedie_devany)(n, pred, target, weight, aux, p0, p1, scale, loss,
                                          grad, hess, nthreads);
    return PL_NAME(pl_tweedie_devgen)(n, pred, target, weight, aux, p0, p1, scale, loss, grad,
                                      hess, nthreads);
}

/* Exponential (AdaBoost): l = y e^-r + (1 - y) e^r, g = -y e^-r + (1 - y) e^r,
 * h = l.  As sklearn: e = e^r and y / e; a vanishing factor (y = 0 or
 * y = 1) zeroes its term even where e over/underflows. */
PL_INLINE void PL_NAME(exponential_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T e = PL_EXP(p);
    T u = t == (T)0 ? (T)0 : t / e;
    T v = PL_NAME(glm_ymul)((T)1 - t, e);
    *l = u + v;
    *g = v - u;
    *h = u + v;
}
PL_EW_KERNEL(exponential)
