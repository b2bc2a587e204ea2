/* glm_impl.h -- point functions of the GLM family (log-link "half" deviances
 * of sklearn._loss and the exponential loss), included once per dtype by
 * glm.c (see pl_type.h).  p = raw (link space), t = target y.
 *
 * Values, gradients and Hessians follow sklearn/_loss/_loss.pyx.tp term for
 * term (closs_* and cgrad_hess_* there), so they agree to rounding.  Where sklearn
 * would form 0 * inf (a zero target times an overflowed exponential, only
 * for |raw| beyond the double range of exp) the term is 0 here, which is the
 * value of the limit; every select below is branch-free so the loops
 * vectorise.  `dev` (a kernel scalar, 0 or 1) asks for the unit deviance
 * 2 (loss + constant_to_optimal_zero) instead: the branch on it is loop
 * invariant. */

/* y * e with 0 * anything = 0 (y = 0 makes the term vanish exactly). */
PL_INLINE T PL_NAME(glm_ymul)(T y, T e)
{
    return y == (T)0 ? (T)0 : y * e;
}

/* Poisson: l = e^r - y r, g = e^r - y, h = e^r.  Deviance:
 * 2 (y log(y / mu) - y + mu) = 2 (y (log y - r) + (e^r - y)), 0 at mu = y. */
PL_INLINE void PL_NAME(poisson_point)(T p, T t, T a, T dev, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    T e = PL_EXP(p);
    T gr = e - t;
    if (dev != (T)0) {
        T ylog = t > (T)0 ? t * (PL_LOG(t) - p) : (T)0;
        *l = (T)2 * (ylog + gr);
        *g = (T)2 * gr;
        *h = (T)2 * e;
    } else {
        *l = e - PL_NAME(glm_ymul)(t, p);
        *g = gr;
        *h = e;
    }
}
PL_EW_KERNEL(poisson)

/* Gamma: l = r + y e^-r, g = 1 - y e^-r, h = y e^-r.  Deviance:
 * 2 (log(mu / y) + y / mu - 1) = 2 ((r - log y) + (y e^-r - 1)). */
PL_INLINE void PL_NAME(gamma_point)(T p, T t, T a, T dev, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p1;
    T ye = t * PL_EXP(-p);
    if (dev != (T)0) {
        *l = (T)2 * ((p - PL_LOG(t)) + (ye - (T)1));
        *g = (T)2 * ((T)1 - ye);
        *h = (T)2 * ye;
    } else {
        *l = p + ye;
        *g = (T)1 - ye;
        *h = ye;
    }
}
PL_EW_KERNEL(gamma)

/* Tweedie with power pw, a = 1 - pw, b = 2 - pw:
 *   l = e^{br}/b - y e^{ar}/a   (pw = 1: e^r - y r; pw = 2: r + y e^-r;
 *                                pw = 0: (e^r - y)^2 / 2, sklearn's forms)
 *   g = e^{br} - y e^{ar}       (pw = 0: e^r (e^r - y), as sklearn)
 *   h = b e^{br} - a y e^{ar}   (pw = 0: e^r (2 e^r - y))
 * An exponent that is 0 gives exactly 1 (not exp(0 * inf)).  Deviance adds
 * sklearn's constant_to_optimal_zero: max(y, 0)^b / (a b), or y log y - y
 * (pw = 1), -log y - 1 (pw = 2), 0 (pw = 0); then doubles. */
PL_INLINE void PL_NAME(tweedie_point)(T p, T t, T a_, T pw, T dev, T *l, T *g, T *h)
{
    (void)a_;
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
        lo = t1 - t2;
        gr = eb - ya;
        he = b * eb - a * ya;
    }
    if (dev != (T)0) {
        T c;
        if (pw == (T)0)
            c = (T)0;
        else if (a == (T)0)
            c = t > (T)0 ? t * PL_LOG(t) - t : (T)0;
        else if (b == (T)0)
            c = -PL_LOG(t) - (T)1;
        else
            c = t > (T)0 ? PL_EXP(b * PL_LOG(t)) / (a * b) : (T)0;
        lo = (T)2 * (lo + c);
        gr = (T)2 * gr;
        he = (T)2 * he;
    }
    *l = lo;
    *g = gr;
    *h = he;
}
PL_EW_KERNEL(tweedie)

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
