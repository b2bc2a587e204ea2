/* binary_impl.h -- the elementwise classification kernels (binary_cross_entropy,
 * binary_cross_entropy_with_logits, sigmoid_focal): point functions driven by
 * PL_EW_KERNEL (elementwise.h), included once per dtype by binary.c.  Declared
 * in classification.h with the softmax kernels of classification_impl.h. */

/* ------------------------------------------------------------------ */
/* Elementwise: binary cross-entropy and sigmoid focal                 */
/* ------------------------------------------------------------------ */

/* PyTorch BCE on probabilities: logs clamped at -100; gradient
 * (p - t) / max(p (1 - p), 1e-12); Hessian its derivative,
 * ((p - t)^2 + t (1 - t)) / max(p (1 - p), 1e-12)^2. */
PL_INLINE void PL_NAME(binary_cross_entropy_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T lp = PL_LOG(p);
    T l1p = PL_LOG((T)1 - p);
    lp = lp > (T)-100 ? lp : (T)-100;
    l1p = l1p > (T)-100 ? l1p : (T)-100;
    lp = p == p ? lp : p;
    l1p = p == p ? l1p : p;
    *l = -(t * lp + ((T)1 - t) * l1p);
    T d = p * ((T)1 - p);
    d = d > (T)1e-12 ? d : (T)1e-12;
    d = p == p ? d : p;
    T pt = p - t;
    *g = pt / d;
    *h = (pt * pt + t * ((T)1 - t)) / (d * d);
}

/* The same loss on a hard label t = 0 or 1: the one log that t selects,
 * log p or log(1 - p), clamped as above.  The bits of the two-log form:
 * there t lp + (1 - t) l1p is exactly the selected log (the other term is
 * 0 times a finite clamped log), and the derivatives are the same code. */
PL_INLINE void PL_NAME(bce_hard_point)(T p, T t, T a, T p0, T p1, T *l, T *g, T *h)
{
    (void)a; (void)p0; (void)p1;
    T lq = PL_LOG(t != (T)0 ? p : (T)1 - p);
    lq = lq > (T)-100 ? lq : (T)-100;
    lq = p == p ? lq : p;
    *l = -lq;
    T d = p * ((T)1 - p);
    d = d > (T)1e-12 ? d : (T)1e-12;
    d = p == p ? d : p;
    T pt = p - t;
    *g = pt / d;
    *h = (pt * pt + t * ((T)1 - t)) / (d * d);
}

/* Whether a block's targets are all hard labels (0 or 1; -0 counts as 0,
 * a NaN does not): one vectorised pass over the block, which the point
 * loop then finds in cache. */
PL_INLINE int PL_NAME(bce_hard_targets)(int64_t n, const T *t)
{
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= (t[i] == (T)0) | (t[i] == (T)1);
    return ok;
}
PL_EW_KERNEL_SPLIT(binary_cross_entropy, bce_hard, PL_NAME(bce_hard_targets))

/* sigmoid(x) and sigmoid(-x) from e = exp(-|x|), neither formed as 1 - other,
 * and log1p(e) (softplus(-|x|)) from the same reciprocal 1/(1+e). */
PL_INLINE void PL_NAME(sig_pair)(T x, T *p, T *pm, T *lp_out)
{
    T e = PL_EXP(-PL_FABS(x));
    T big = (T)1 / ((T)1 + e);
    T small = e * big;
    *p = x >= 0 ? big : small;
    *pm = x >= 0 ? small : big;
    *p = x == x ? *p : x;
    *pm = x == x ? *pm : x;
    *lp_out = PL_LOG1P_UNIT(e, big);
}

/* (1 - t) x + lw softplus(-x), lw = 1 + (pos_weight - 1) t (PyTorch);
 * aux = pos_weight (0 when absent means "no aux": the driver passes 0, so
 * the kernel gets p0 = 1 to say whether aux is present). */
PL_INLINE void PL_NAME(binary_cross_entropy_with_logits_point)(T x, T t, T a, T has_pw, T p1,
                                                              T *l, T *g, T *h)
{
    (void)p1;
    /* lw = (1 - t) + pw t equals 1 + (pw - 1) t without its cancellation */
    T lw = has_pw != 0 ? ((T)1 - t) + a * t : (T)1;
    T p, pm, lp;
    PL_NAME(sig_pair)(x, &p, &pm, &lp);
    /* softplus(-x) = max(-x, 0) + log1p(e); the max(-x, 0) part is added to
     * (1 - t) x first so that for t = 0 it cancels exactly (x + (-x) = 0) and a
     * tiny loss is not rounded away under a large |x| (PyTorch's max_val form) */
    *l = (((T)1 - t) * x + lw * (x < 0 ? -x : (T)0)) + lw * lp;
    /* (1 - t) - lw sigmoid(-x), rewritten (1 - t) p - pw t (1 - p) so that
     * no 1 - (1 - p) cancellation loses a small gradient */
    *g = ((T)1 - t) * p - (has_pw != 0 ? a : (T)1) * t * pm;
    *h = lw * p * pm;
}
PL_EW_KERNEL_AUX(binary_cross_entropy_with_logits)

/* torchvision sigmoid_focal_loss: a ce q^gamma, q = 1 - p_t.
 * q^(gamma-1) q' is written q^gamma v (1 - 2t), v = p (1 - p) / q (-> 1 as
 * q -> 0 for hard targets), so no negative power of q is ever formed and
 * gamma < 1 stays finite at p_t = 1 (derivation in reference/classification.py).
 * p0 = alpha (< 0: no alpha), p1 = gamma; gamma == 2 is a multiply. */
PL_INLINE void PL_NAME(sigmoid_focal_body)(T x, T t, T alpha, T gamma, const int g2,
                                           T *l, T *g, T *h)
{
    T p, pm, lp;
    PL_NAME(sig_pair)(x, &p, &pm, &lp);
    T ce = (((T)1 - t) * x + (x < 0 ? -x : (T)0)) + lp; /* see above */
    T q = p * ((T)1 - t) + pm * t;
    T s = p * pm;
    T v = q > 0 ? s / q : (T)1;
    /* gamma == 2 (the default) is a multiply; otherwise exp(gamma log q),
     * which is 0 at q = 0 for gamma > 0 (log 0 = -inf) */
    T F;
    if (g2) {
        F = q * q;
    } else {
        /* computed unconditionally and selected: a branch around it kept
         * the whole loop scalar (10x slower) */
        F = PL_EXP(gamma * PL_LOG(q));
        F = gamma == 0 ? (T)1 : F;
    }
    F = q == q ? F : q;
    T at = alpha < 0 ? (T)1 : alpha * t + ((T)1 - alpha) * ((T)1 - t);
    T ptm = p * ((T)1 - t) - pm * t;     /* p - t */
    T u = (T)1 - (T)2 * t;
    T gv = gamma * v * u;
    *l = at * ce * F;
    *g = at * F * (ptm + ce * gv);
    *h = at * F * (s + (T)2 * ptm * gv
                   + ce * ((gamma - (T)1) * gv * v * u + gv * ((T)1 - (T)2 * p)));
}

PL_INLINE void PL_NAME(sigmoid_focal_g2_point)(T x, T t, T aux, T alpha, T gamma, T *l, T *g, T *h)
{
    (void)aux; (void)gamma;
    PL_NAME(sigmoid_focal_body)(x, t, alpha, (T)2, 1, l, g, h);
}
PL_EW_INTERNAL(sigmoid_focal_g2)

PL_INLINE void PL_NAME(sigmoid_focal_gen_point)(T x, T t, T aux, T alpha, T gamma, T *l, T *g, T *h)
{
    (void)aux;
    PL_NAME(sigmoid_focal_body)(x, t, alpha, gamma, 0, l, g, h);
}
PL_EW_INTERNAL(sigmoid_focal_gen)

/* The exported sigmoid_focal picks the gamma == 2 body (no pow) or the
 * general one once per call, so each inner loop is straight and vectorises. */
double PL_NAME(pl_sigmoid_focal)(int64_t n, const T *pred, const T *target, const T *weight,
                                 const T *aux, double p0, double p1, double scale, T *loss,
                                 T *grad, T *hess, int nthreads)
{
    if (p1 == 2.0)
        return PL_NAME(pl_sigmoid_focal_g2)(n, pred, target, weight, aux, p0, p1, scale, loss,
                                            grad, hess, nthreads);
    return PL_NAME(pl_sigmoid_focal_gen)(n, pred, target, weight, aux, p0, p1, scale, loss, grad,
                                         hess, nthreads);
}

