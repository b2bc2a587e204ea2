/*
 * seg_region_impl.h -- the region-overlap driver (dice, iou, dice_bce), once
 * per dtype (see pl_type.h).  Included by segmentation_impl.h and
 * combination_impl.h; everything here is static.
 *
 * Layout: x (N, C, S) with S the flattened spatial size; the target is either
 * dense t (N, C, S) or labels lab (N, S) (validated by Python: in [0, C)).
 *
 * Pass 1, per task (n, spatial block): p = act(x) (the softmax over C is
 * formed on the fly for the block's positions), and per class the sums
 * I = sum p t, P = sum p (or p^2), Tt = sum t (or t^2), and for dice_bce the
 * BCE-with-logits sum.  Pass 2 writes the gradient with the per-(n, c)
 * coefficients: d/dp = A t + B + G p, pulled back through the activation,
 * plus K (p - t) for the BCE part.  Spatial extents below PL_SEG_SMALL_S
 * (e.g. pred (N, C)) take pl_seg_small instead: both passes per sample,
 * scalar, no task bookkeeping.
 */

typedef struct {
    int64_t N, C, S, SB;
    const T *x;
    const T *t;          /* dense target (N, C, S) or NULL */
    const int64_t *lab;  /* labels (N, S) or NULL */
    T *grad;
    int act, kind, bce;
    /* region options (zero for dice_bce and the plain dice/iou): ign, labels
     * < 0 are ignored pixels; c0, the first class in the mean (1 without the
     * background); batch, one ratio per class over the batch; wtype, the
     * generalized Dice weight; alpha, beta, gamma of tversky. */
    int ign, c0, batch, wtype;
    double alpha, beta, gamma;
    /* keep (set by pl_seg_run): pass 1 stores the softmax p in grad and
     * pass 2 turns it into the gradient in place (no second softmax); only
     * when grad overlaps neither the target nor the labels, which pass 2
     * reads again. */
    int keep;
} PL_NAME(pl_seg_t);

/* p = sigmoid(v) and 1 - p, both without cancellation: e = exp(-|v|). */
PL_INLINE void PL_NAME(pl_seg_sigmoid)(T v, T *p, T *pm, T *e_out)
{
    T e = PL_EXP(-PL_FABS(v));
    T inv = (T)1 / ((T)1 + e);
    *p = v >= 0 ? inv : e * inv;
    *pm = v >= 0 ? e * inv : inv;
    *e_out = e;
}

/* Softmax over the C classes of positions [s0, s0+len) of sample x (C, S):
 * buf (C, SB) gets e = exp(x - max) and rz (SB) 1 / sum e, so p = e * rz
 * (the consumers multiply; no normalisation sweep).  m is scratch. */
PL_INLINE void PL_NAME(pl_seg_softmax)(const T *restrict xn, int64_t C, int64_t S, int64_t SB,
                                       int64_t len, T *restrict buf, T *restrict m,
                                       T *restrict rz)
{
    /* (C >= 1) the first two rows' max in one sweep, not a copy then a max */
    if (C == 1) {
        for (int64_t j = 0; j < len; j++) m[j] = xn[j];
    } else {
        const T *restrict x1 = xn + S;
        for (int64_t j = 0; j < len; j++) m[j] = x1[j] > xn[j] ? x1[j] : xn[j];
    }
    for (int64_t c = 2; c < C; c++) {
        const T *restrict xc = xn + c * S;
        for (int64_t j = 0; j < len; j++) m[j] = xc[j] > m[j] ? xc[j] : m[j];
    }
    /* x - max <= 0 (or NaN): the exp without its overflow side; row 0
     * starts the sums (0 + e is e: no zeroing sweep) */
    for (int64_t c = 0; c < C; c++) {
        const T *restrict xc = xn + c * S;
        T *restrict pc = buf + c * SB;
        if (c == 0) {
            for (int64_t j = 0; j < len; j++) {
                T e = PL_EXP_NONPOS(xc[j] - m[j]);
                pc[j] = e;
                rz[j] = e;
            }
        } else {
            for (int64_t j = 0; j < len; j++) {
                T e = PL_EXP_NONPOS(xc[j] - m[j]);
                pc[j] = e;
                rz[j] += e;
            }
        }
    }
    for (int64_t j = 0; j < len; j++) rz[j] = (T)1 / rz[j];
}

/* Labels of a block as T (compared with (T)c below): a float compare
 * vectorises where an int64 compare feeding float lanes does not. */
PL_INLINE void PL_NAME(pl_seg_labels)(const int64_t *restrict ln, int64_t len, T *restrict lf)
{
    for (int64_t j = 0; j < len; j++) lf[j] = (T)ln[j];
}

#if (defined(__GNUC__) || defined(__clang__)) && !defined(PL_NO_VECTOR_EXT)
#if PL_DOUBLE
typedef int64_t PL_NAME(pl_seg_it);
#else
typedef int32_t PL_NAME(pl_seg_it);
#endif
/* 32-byte GCC vectors: one AVX register, two SSE registers in the baseline
 * build.  Explicit vectors because GCC's SLP does not keep lane accumulators
 * in registers here. */
typedef T PL_NAME(pl_seg_vt) __attribute__((vector_size(32)));
typedef PL_NAME(pl_seg_it) PL_NAME(pl_seg_vi) __attribute__((vector_size(32)));
#define PL_SEG_VL ((int64_t)(32 / sizeof(T)))

/* Vectors never cross a function boundary by value (-Wpsabi: the baseline
 * build has no AVX ABI); loads are memcpy (unaligned, no aliasing UB). */
#define PL_SEG_LD(dst, ptr) memcpy(&(dst), (ptr), 32)

PL_INLINE double PL_NAME(pl_seg_vsum)(const PL_NAME(pl_seg_vt) *v)
{
    T l[8];
    memcpy(l, v, 32);
    double d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < PL_SEG_VL; k++) d[k] = (double)l[k];
    return pl_lanes_sum(d);
}

/* Pass-1 sums of one class over one block: p the activated values (times
 * rz when soft: the softmax's 1/sum), tc the dense target row or lf the
 * labels as T.  keep: st gets p (times rz), before any ignore mask.
 * Constant flags specialise the loop. */
PL_INLINE void PL_NAME(pl_seg_acc)(const T *restrict p, const T *restrict rz,
                                   const T *restrict tc, const T *restrict lf, T cf,
                                   int64_t len, const int sq, const int lab, const int soft,
                                   const int ign, const int keep, T *restrict st, double *out)
{
    typedef PL_NAME(pl_seg_vt) VT;
    typedef PL_NAME(pl_seg_vi) VI;
    const VT zero = {0};
    const VT one = zero + (T)1, cfv = zero + cf;
    VT aI = zero, aP = zero, aT = zero;
    int64_t i = 0;
    for (; i + PL_SEG_VL <= len; i += PL_SEG_VL) {
        VT pv, tv;
        PL_SEG_LD(pv, p + i);
        if (soft) {
            VT zv;
            PL_SEG_LD(zv, rz + i);
            pv *= zv;
        }
        if (keep) memcpy(st + i, &pv, 32);
        if (lab) {
            VT lv;
            PL_SEG_LD(lv, lf + i);
            VI msk = (VI)(lv == cfv);
            tv = (VT)(msk & (VI)one);
            /* an ignored pixel (label < 0) leaves every sum: p -> +0 (a NaN too) */
            if (ign) pv = (VT)((VI)pv & (VI)(lv >= zero));
        } else {
            PL_SEG_LD(tv, tc + i);
        }
        aI += pv * tv;
        aP += sq ? pv * pv : pv;
        aT += sq ? tv * tv : tv;
    }
    for (int k = 0; i < len; i++, k++) {
        T pv = soft ? p[i] * rz[i] : p[i];
        T tv = lab ? (lf[i] == cf ? (T)1 : (T)0) : tc[i];
        if (keep) st[i] = pv;
        if (ign && lab && !(lf[i] >= 0)) pv = 0;
        aI[k] += pv * tv;
        aP[k] += sq ? pv * pv : pv;
        aT[k] += sq ? tv * tv : tv;
    }
    out[0] = PL_NAME(pl_seg_vsum)(&aI);
    out[1] = PL_NAME(pl_seg_vsum)(&aP);
    out[2] = PL_NAME(pl_seg_vsum)(&aT);
}

PL_INLINE double PL_NAME(pl_seg_rowsum)(const T *restrict v, int64_t len)
{
    PL_NAME(pl_seg_vt) a = {0};
    int64_t i = 0;
    for (; i + PL_SEG_VL <= len; i += PL_SEG_VL) {
        PL_NAME(pl_seg_vt) x;
        PL_SEG_LD(x, v + i);
        a += x;
    }
    for (int k = 0; i < len; i++, k++) a[k] += v[i];
    return PL_NAME(pl_seg_vsum)(&a);
}

#else /* no vector extension (MSVC): the same PL_SEG_VL lane accumulators, lane by
       * lane, so the sums are formed in the same order */
#define PL_SEG_VL ((int64_t)(32 / sizeof(T)))

PL_INLINE double PL_NAME(pl_seg_lsum)(const T *l)
{
    double d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < PL_SEG_VL; k++) d[k] = (double)l[k];
    return pl_lanes_sum(d);
}

PL_INLINE void PL_NAME(pl_seg_acc)(const T *restrict p, const T *restrict rz,
                                   const T *restrict tc, const T *restrict lf, T cf,
                                   int64_t len, const int sq, const int lab, const int soft,
                                   const int ign, const int keep, T *restrict st, double *out)
{
    T aI[8] = {0}, aP[8] = {0}, aT[8] = {0};
    for (int64_t i = 0, k = 0; i < len; i++, k = (k + 1 == PL_SEG_VL) ? 0 : k + 1) {
        T pv = soft ? p[i] * rz[i] : p[i];
        T tv = lab ? (lf[i] == cf ? (T)1 : (T)0) : tc[i];
        if (keep) st[i] = pv;
        if (ign && lab && !(lf[i] >= 0)) pv = 0;
        aI[k] += pv * tv;
        aP[k] += sq ? pv * pv : pv;
        aT[k] += sq ? tv * tv : tv;
    }
    out[0] = PL_NAME(pl_seg_lsum)(aI);
    out[1] = PL_NAME(pl_seg_lsum)(aP);
    out[2] = PL_NAME(pl_seg_lsum)(aT);
}

PL_INLINE double PL_NAME(pl_seg_rowsum)(const T *restrict v, int64_t len)
{
    T a[8] = {0};
    for (int64_t i = 0, k = 0; i < len; i++, k = (k + 1 == PL_SEG_VL) ? 0 : k + 1) a[k] += v[i];
    return PL_NAME(pl_seg_lsum)(a);
}
#endif

/* Sigmoid of a row into pc and, for dice_bce, the BCE-with-logits terms
 * max(x, 0) - x t + log1p(e^-|x|) into bc (one exp serves both). */
PL_INLINE void PL_NAME(pl_seg_sigmoid_row)(const T *restrict xc, const T *restrict tc,
                                           const T *restrict lf, T cf, int64_t len,
                                           T *restrict pc, T *restrict bc, const int bce,
                                           const int lab)
{
    for (int64_t j = 0; j < len; j++) {
        T x = xc[j];
        T e = PL_EXP(-PL_FABS(x));
        T v = (T)1 + e;
        T inv = (T)1 / v;
        pc[j] = x >= 0 ? inv : e * inv;
        if (bce) {
            T tv = lab ? (lf[j] == cf ? (T)1 : (T)0) : tc[j];
            /* log1p(e), reusing 1/(1+e) for the correction */
            T lp = PL_LOG1P_UNIT(e, inv);
            bc[j] = (x > 0 ? x : (T)0) - x * tv + lp;
        }
    }
}

/* Pass 1 of task (n, b): part (C x 4) gets the block's sums.
 * Scratch buf: C rows of SB (activations) + 3 rows: r1 the softmax max,
 * then the labels as T; r2 the softmax 1/sum, or the BCE terms. */
static void PL_NAME(pl_seg_pass1)(const PL_NAME(pl_seg_t) *r, int64_t n, int64_t b, T *buf,
                                            double *part)
{
    const int64_t C = r->C, S = r->S, SB = r->SB;
    const int64_t s0 = b * SB;
    const int64_t len = S - s0 < SB ? S - s0 : SB;
    const T *xn = r->x + n * C * S + s0;
    const int lab = r->lab != NULL;
    const int sq = r->kind == PL_SEG_DICE_SQ;
    T *r1 = buf + C * SB, *r2 = buf + (C + 1) * SB;
    if (C == 0) return;   /* no classes: nothing to sum (the softmax has no row 0) */
    if (r->act == PL_SEG_ACT_SOFTMAX && !lab) {
        /* the block's dense target rows, fetched while the softmax computes
         * (the sums below otherwise wait on them: half of pass 1's time) */
        for (int64_t c = 0; c < C; c++) {
            const char *tp = (const char *)(r->t + (n * C + c) * S + s0);
            for (int64_t o = 0; o < len * (int64_t)sizeof(T); o += 64) PL_PREFETCH(tp + o);
        }
    }
    if (r->act == PL_SEG_ACT_SOFTMAX) PL_NAME(pl_seg_softmax)(xn, C, S, SB, len, buf, r1, r2);
    if (lab) PL_NAME(pl_seg_labels)(r->lab + n * S + s0, len, r1);
    for (int64_t c = 0; c < C; c++) {
        const T *tc = lab ? NULL : r->t + (n * C + c) * S + s0;
        const T cf = (T)c;
        const T *pc = buf + c * SB;
        T *st = r->keep ? r->grad + (n * C + c) * S + s0 : NULL;
        double *o = part + c * 4;
        o[3] = 0.0;
        if (r->act == PL_SEG_ACT_SIGMOID) {
            T *pw = buf + c * SB;
            if (r->bce) {
                if (lab) PL_NAME(pl_seg_sigmoid_row)(xn + c * S, tc, r1, cf, len, pw, r2, 1, 1);
                else PL_NAME(pl_seg_sigmoid_row)(xn + c * S, tc, r1, cf, len, pw, r2, 1, 0);
                o[3] = PL_NAME(pl_seg_rowsum)(r2, len);
            } else {
                PL_NAME(pl_seg_sigmoid_row)(xn + c * S, tc, r1, cf, len, pw, r2, 0, 0);
            }
        } else if (r->act == PL_SEG_ACT_NONE) {
            pc = xn + c * S;
        }
        /* constant flags (soft, lab, sq, ign) specialise pl_seg_acc */
#define PL_SEG_ACC(soft_, lab_, ign_, keep_)                                                  \
    do {                                                                                      \
        if (sq) PL_NAME(pl_seg_acc)(pc, r2, tc, r1, cf, len, 1, lab_, soft_, ign_, keep_, st, o); \
        else PL_NAME(pl_seg_acc)(pc, r2, tc, r1, cf, len, 0, lab_, soft_, ign_, keep_, st, o);    \
    } while (0)
        if (r->act == PL_SEG_ACT_SOFTMAX) {
            if (r->keep) {
                if (lab && r->ign) PL_SEG_ACC(1, 1, 1, 1);
                else if (lab) PL_SEG_ACC(1, 1, 0, 1);
                else PL_SEG_ACC(1, 0, 0, 1);
            } else if (lab) {
                if (r->ign) PL_SEG_ACC(1, 1, 1, 0);
                else PL_SEG_ACC(1, 1, 0, 0);
            } else {
                PL_SEG_ACC(1, 0, 0, 0);
            }
        } else if (lab) {
            if (r->ign) PL_SEG_ACC(0, 1, 1, 0);
            else PL_SEG_ACC(0, 1, 0, 0);
        } else {
            PL_SEG_ACC(0, 0, 0, 0);
        }
#undef PL_SEG_ACC
    }
}

/* Pass-2 gradient of one class over one block (act 0/1; the class is
 * independent of the others).  k = (A, B, G, K).  gc may be xc or tc
 * itself (each element is read before it is written). */
PL_INLINE void PL_NAME(pl_seg_grad_class)(const T *xc, const T *tc, const T *restrict lf, T cf,
                                          int64_t len, const T *k, T *gc, const int act,
                                          const int bce, const int lab, const int ign)
{
    const T A = k[0], B = k[1], G = k[2], K = k[3];
    for (int64_t i = 0; i < len; i++) {
        T x = xc[i], p, pm, e;
        T tv = lab ? (lf[i] == cf ? (T)1 : (T)0) : tc[i];
        if (act == PL_SEG_ACT_SIGMOID) {
            PL_NAME(pl_seg_sigmoid)(x, &p, &pm, &e);
            /* p (1 - p) with 1 - p by subtraction (not pm), as pl_seg_small and
             * the NumPy reference: a focal Tversky term base^gamma, base =
             * 1 - num/den, carries the same cancellation, and its derivative
             * is right only with it (gamma 0.5 at p = 1 - 1e-12: 9e-5 off
             * with pm; for the other terms the two differ by < 1e-12) */
            (void)pm;
            T g = (A * tv + B + G * p) * (p * ((T)1 - p));
            if (bce) g += K * (p - tv);
            gc[i] = ign && !(lf[i] >= 0) ? (T)0 : g;
        } else {
            T g = A * tv + B + G * x;
            gc[i] = ign && !(lf[i] >= 0) ? (T)0 : g;
        }
    }
}

/* Pass 2 of task (n, b): write the gradient. coef (C x 4) for sample n. */
static void PL_NAME(pl_seg_pass2)(const PL_NAME(pl_seg_t) *r, int64_t n, int64_t b, T *buf,
                                            const T *coef)
{
    const int64_t C = r->C, S = r->S, SB = r->SB;
    const int64_t s0 = b * SB;
    const int64_t len = S - s0 < SB ? S - s0 : SB;
    const T *xn = r->x + n * C * S + s0;
    T *gn = r->grad + n * C * S + s0;
    const int lab = r->lab != NULL;
    T *restrict dot = buf + C * SB;
    T *restrict lf = buf + (C + 1) * SB;
    T *restrict rz = buf + (C + 2) * SB;
    if (C == 0) return;
    if (r->keep) {
        /* softmax, p already in grad (pass 1): h_c = A t + B + G p into the
         * scratch rows, dot = sum_c p_c h_c, then g_c = p_c (h_c - dot) over
         * p in place.  The same expressions as below, so the same bits. */
        if (lab) PL_NAME(pl_seg_labels)(r->lab + n * S + s0, len, lf);
        for (int64_t j = 0; j < len; j++) dot[j] = 0;
        for (int64_t c = 0; c < C; c++) {
            const T A = coef[c * 4], B = coef[c * 4 + 1], G = coef[c * 4 + 2];
            const T cf = (T)c;
            const T *restrict pc = gn + c * S;
            T *restrict hc = buf + c * SB;
            if (lab) {
                for (int64_t j = 0; j < len; j++) {
                    T tv = lf[j] == cf ? (T)1 : (T)0;
                    T h = A * tv + B + G * pc[j];
                    hc[j] = h;
                    dot[j] += pc[j] * h;
                }
            } else {
                const T *restrict tc = r->t + (n * C + c) * S + s0;
                for (int64_t j = 0; j < len; j++) {
                    T h = A * tc[j] + B + G * pc[j];
                    hc[j] = h;
                    dot[j] += pc[j] * h;
                }
            }
        }
        for (int64_t c = 0; c < C; c++) {
            const T *restrict hc = buf + c * SB;
            T *gc = gn + c * S;   /* p in, gradient out */
            if (lab && r->ign) {
                for (int64_t j = 0; j < len; j++) {
                    T g = gc[j] * (hc[j] - dot[j]);
                    gc[j] = lf[j] >= 0 ? g : (T)0;
                }
            } else {
                for (int64_t j = 0; j < len; j++) gc[j] = gc[j] * (hc[j] - dot[j]);
            }
        }
        return;
    }
    if (r->act == PL_SEG_ACT_SOFTMAX) {
        /* g_x = p (g_p - sum_k p_k g_p,k); every input of the block is read
         * before the first write, so grad may alias x or t. */
        PL_NAME(pl_seg_softmax)(xn, C, S, SB, len, buf, dot, rz);
        for (int64_t c = 0; c < C; c++) {
            T *restrict pc = buf + c * SB;
            for (int64_t j = 0; j < len; j++) pc[j] *= rz[j];
        }
        if (lab) PL_NAME(pl_seg_labels)(r->lab + n * S + s0, len, lf);
        for (int64_t j = 0; j < len; j++) dot[j] = 0;
        for (int64_t c = 0; c < C; c++) {
            const T A = coef[c * 4], B = coef[c * 4 + 1], G = coef[c * 4 + 2];
            const T cf = (T)c;
            const T *restrict pc = buf + c * SB;
            if (lab) {
                for (int64_t j = 0; j < len; j++) {
                    T tv = lf[j] == cf ? (T)1 : (T)0;
                    dot[j] += pc[j] * (A * tv + B + G * pc[j]);
                }
            } else {
                const T *tc = r->t + (n * C + c) * S + s0;
                for (int64_t j = 0; j < len; j++) dot[j] += pc[j] * (A * tc[j] + B + G * pc[j]);
            }
        }
        for (int64_t c = 0; c < C; c++) {
            const T A = coef[c * 4], B = coef[c * 4 + 1], G = coef[c * 4 + 2];
            const T cf = (T)c;
            const T *restrict pc = buf + c * SB;
            T *gc = gn + c * S;
            if (lab && r->ign) {
                /* an ignored pixel gets a zero gradient (its p left every sum) */
                for (int64_t j = 0; j < len; j++) {
                    T tv = lf[j] == cf ? (T)1 : (T)0;
                    T g = pc[j] * ((A * tv + B + G * pc[j]) - dot[j]);
                    gc[j] = lf[j] >= 0 ? g : (T)0;
                }
            } else if (lab) {
                for (int64_t j = 0; j < len; j++) {
                    T tv = lf[j] == cf ? (T)1 : (T)0;
                    gc[j] = pc[j] * ((A * tv + B + G * pc[j]) - dot[j]);
                }
            } else {
                const T *tc = r->t + (n * C + c) * S + s0;
                for (int64_t j = 0; j < len; j++) gc[j] = pc[j] * ((A * tc[j] + B + G * pc[j]) - dot[j]);
            }
        }
        return;
    }
    if (lab) PL_NAME(pl_seg_labels)(r->lab + n * S + s0, len, lf);
    for (int64_t c = 0; c < C; c++) {
        const T *xc = xn + c * S;
        const T *tc = lab ? NULL : r->t + (n * C + c) * S + s0;
        const T *k = coef + c * 4;
        const T cf = (T)c;
        T *gc = gn + c * S;
        if (r->act == PL_SEG_ACT_SIGMOID) {
            if (r->bce) {
                if (lab) PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 1, 1, 1, 0);
                else PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 1, 1, 0, 0);
            } else {
                if (lab && r->ign) PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 1, 0, 1, 1);
                else if (lab) PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 1, 0, 1, 0);
                else PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 1, 0, 0, 0);
            }
        } else {
            if (lab && r->ign) PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 0, 0, 1, 1);
            else if (lab) PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 0, 0, 1, 0);
            else PL_NAME(pl_seg_grad_class)(xc, tc, lf, cf, len, k, gc, 0, 0, 0, 0);
        }
    }
}

/* Per-(n, c) value and gradient coefficients from the sums (I, P, Tt, Bce).
 * f multiplies the class term (dice_weight * scale / C). */
static inline double PL_NAME(pl_seg_coef)(const double *sm, const PL_NAME(pl_seg_t) *rr,
                                          double smooth, double f, T *k)
{
    const int kind = rr->kind;
    double I = sm[0], P = sm[1], Tt = sm[2];
    if (kind == PL_SEG_TVERSKY) {
        /* base = 1 - (I + s) / D, D = I + a (P - I) + b (Tt - I) + s;
         * d base / dp = A' t + B' with A' = -1/D + num (1 - a - b) / D^2,
         * B' = num a / D^2; the term is base^gamma (focal Tversky). */
        const double a = rr->alpha, b = rr->beta, g = rr->gamma;
        double D = I + a * (P - I) + b * (Tt - I) + smooth, num = I + smooth;
        double r = num / (D * D);
        double base = 1.0 - num / D, term = base, m = 1.0;
        if (g != 1.0) {
            term = pow(base, g);
            /* d base^g = g base^(g-1); 0 at base = 0 (also for g < 1, where
             * the one-sided derivative is infinite: the kink convention) */
            m = base == 0.0 ? 0.0 : g * pow(base, g - 1.0);
        }
        k[0] = (T)(f * m * (-1.0 / D + r * (1.0 - a - b)));
        k[1] = (T)(f * m * (r * a));
        k[2] = 0;
        return term;
    }
    if (kind == PL_SEG_IOU) {
        double U = P + Tt - I + smooth, num = I + smooth;
        double r = num / (U * U);
        k[0] = (T)(f * (-1.0 / U - r));
        k[1] = (T)(f * r);
        k[2] = 0;
        return 1.0 - num / U;
    }
    double D = P + Tt + smooth, num = 2.0 * I + smooth;
    double r = num / (D * D);
    k[0] = (T)(f * (-2.0 / D));
    k[1] = kind == PL_SEG_DICE_SQ ? (T)0 : (T)(f * r);
    k[2] = kind == PL_SEG_DICE_SQ ? (T)(f * 2.0 * r) : (T)0;
    return 1.0 - num / D;
}

/* Generalized Dice (MONAI GeneralizedDiceLoss) of one sample from its class
 * sums: w_c from Tt_c, an infinite w_c replaced by the largest finite one
 * (0 if none), ratio 1 - (2 sum w I + s) / (sum w (P + Tt) + s); the weights
 * are constants for the gradient: d/dp_c = f (-2 w_c t / den + num w_c / den^2). */
static inline double PL_NAME(pl_seg_gdl)(const double *sm, const PL_NAME(pl_seg_t) *rr,
                                         double smooth, double f, T *k)
{
    const int64_t C = rr->C, c0 = rr->c0;
    double wmax = 0.0;
    int any = 0;
    for (int64_t c = c0; c < C; c++) {
        double w = pl_seg_gdl_w(sm[c * 4 + 2], rr->wtype);
        if (isfinite(w) && (!any || w > wmax)) {
            wmax = w;
            any = 1;
        }
    }
    double sI = 0.0, sD = 0.0;
    for (int64_t c = c0; c < C; c++) {
        double w = pl_seg_gdl_w(sm[c * 4 + 2], rr->wtype);
        w = isinf(w) ? wmax : w;
        sI += w * sm[c * 4];
        sD += w * (sm[c * 4 + 1] + sm[c * 4 + 2]);
    }
    double num = 2.0 * sI + smooth, den = sD + smooth;
    double r = num / (den * den);
    /* a class left out (c < c0) is in no sum: exactly zero, even where
     * den = 0 makes the others NaN */
    for (int64_t c = 0; c < c0; c++) k[c * 4] = k[c * 4 + 1] = k[c * 4 + 2] = 0;
    for (int64_t c = c0; c < C; c++) {
        double w = pl_seg_gdl_w(sm[c * 4 + 2], rr->wtype);
        w = isinf(w) ? wmax : w;
        k[c * 4] = (T)(f * (-2.0 * w / den));
        k[c * 4 + 1] = (T)(f * (w * r));
        k[c * 4 + 2] = 0;
    }
    return 1.0 - num / den;
}

/* One entry of the per-sample value (without dice_weight): the mean over
 * the classes c0..C-1 of the class terms, or the generalized Dice ratio;
 * fills the coefficients k (C x 4; 0 for the classes left out). */
static inline double PL_NAME(pl_seg_value)(const double *sm, const PL_NAME(pl_seg_t) *rr,
                                           double smooth, double f, T *k)
{
    const int64_t C = rr->C, c0 = rr->c0;
    if (rr->kind == PL_SEG_GDL) return PL_NAME(pl_seg_gdl)(sm, rr, smooth, f, k);
    double acc = 0.0;
    for (int64_t c = 0; c < c0; c++) k[c * 4] = k[c * 4 + 1] = k[c * 4 + 2] = 0;
    for (int64_t c = c0; c < C; c++) acc += PL_NAME(pl_seg_coef)(sm + c * 4, rr, smooth, f, k + c * 4);
    return acc / (double)(C - c0);
}

/* Small spatial extent (S < PL_SEG_SMALL_S, e.g. pred (N, C)): one sample
 * per call, both passes over it while it sits in L1, plain scalar loops.
 * sm: C x 4 double scratch, k: C x 4 T scratch.  Returns the sample's loss.
 * The path depends only on the shape, so results stay bit-identical for any
 * thread count. */
#define PL_SEG_SMALL_S 32

PL_INLINE T PL_NAME(pl_seg_act1)(const T *xs, int64_t c, int64_t S, int act, T mx, T rz)
{
    T v = xs[c * S];
    if (act == PL_SEG_ACT_SOFTMAX) return PL_EXP(v - mx) * rz;
    if (act == PL_SEG_ACT_SIGMOID) {
        T e = PL_EXP(-PL_FABS(v));
        T inv = (T)1 / ((T)1 + e);
        return v >= 0 ? inv : e * inv;
    }
    return v;
}

static double PL_NAME(pl_seg_small)(const PL_NAME(pl_seg_t) *r, int64_t n, double smooth,
                                              double dice_w, double bce_w, double f, T kb,
                                              double *sm, T *k)
{
    const int64_t C = r->C, S = r->S;
    const T *x = r->x + n * C * S;
    const T *t = r->t ? r->t + n * C * S : NULL;
    const int64_t *lab = r->lab ? r->lab + n * S : NULL;
    const int act = r->act, sq = r->kind == PL_SEG_DICE_SQ, ign = lab && r->ign;
    for (int64_t q = 0; q < C * 4; q++) sm[q] = 0.0;
    for (int64_t s = 0; s < S; s++) {
        T mx = 0, rz = 1;
        if (ign && lab[s] < 0) continue;   /* leaves every sum */
        if (act == PL_SEG_ACT_SOFTMAX) {
            mx = x[s];
            for (int64_t c = 1; c < C; c++) mx = x[c * S + s] > mx ? x[c * S + s] : mx;
            T z = 0;
            for (int64_t c = 0; c < C; c++) z += PL_EXP(x[c * S + s] - mx);
            rz = (T)1 / z;
        }
        for (int64_t c = 0; c < C; c++) {
            T p = PL_NAME(pl_seg_act1)(x + s, c, S, act, mx, rz);
            T tv = lab ? (lab[s] == c ? (T)1 : (T)0) : t[c * S + s];
            sm[c * 4] += (double)(p * tv);
            sm[c * 4 + 1] += (double)(sq ? p * p : p);
            sm[c * 4 + 2] += (double)(sq ? tv * tv : tv);
            if (r->bce) {
                T v = x[c * S + s];
                sm[c * 4 + 3] += (double)((v > 0 ? v : (T)0) - v * tv + PL_LOG1P_POS(PL_EXP(-PL_FABS(v))));
            }
        }
    }
    double val = dice_w * PL_NAME(pl_seg_value)(sm, r, smooth, f, k);
    double bsum = 0.0;
    for (int64_t c = 0; c < C; c++) bsum += sm[c * 4 + 3];
    if (r->bce) val += bce_w * (bsum / ((double)C * (double)S));
    if (!r->grad) return val;
    T *g = r->grad + n * C * S;
    for (int64_t s = 0; s < S; s++) {
        T mx = 0, rz = 1, dot = 0;
        if (ign && lab[s] < 0) {
            for (int64_t c = 0; c < C; c++) g[c * S + s] = 0;
            continue;
        }
        if (act == PL_SEG_ACT_SOFTMAX) {
            mx = x[s];
            for (int64_t c = 1; c < C; c++) mx = x[c * S + s] > mx ? x[c * S + s] : mx;
            T z = 0;
            for (int64_t c = 0; c < C; c++) z += PL_EXP(x[c * S + s] - mx);
            rz = (T)1 / z;
            for (int64_t c = 0; c < C; c++) {
                T p = PL_NAME(pl_seg_act1)(x + s, c, S, act, mx, rz);
                T tv = lab ? (lab[s] == c ? (T)1 : (T)0) : t[c * S + s];
                dot += p * (k[c * 4] * tv + k[c * 4 + 1] + k[c * 4 + 2] * p);
            }
        }
        /* every read of position s above happens before its writes below,
         * and class c's own inputs are read before g[c] is written */
        for (int64_t c = 0; c < C; c++) {
            T p = PL_NAME(pl_seg_act1)(x + s, c, S, act, mx, rz);
            T tv = lab ? (lab[s] == c ? (T)1 : (T)0) : t[c * S + s];
            T gp = k[c * 4] * tv + k[c * 4 + 1] + k[c * 4 + 2] * p;
            T out;
            if (act == PL_SEG_ACT_SOFTMAX) out = p * (gp - dot);
            else if (act == PL_SEG_ACT_SIGMOID) {
                out = gp * (p * ((T)1 - p));
                if (r->bce) out += kb * (p - tv);
            } else out = gp;
            g[c * S + s] = out;
        }
    }
    return val;
}

/* One parallel loop of the driver (pl_run_blocks): its tasks read these.
 * Per-thread scratch: bufs + pl_pool_tid() * (C + 3) * SB. */
typedef struct {
    const PL_NAME(pl_seg_t) *r;
    int64_t n0, nb, w0;
    double *part, *sums;
    T *bufs;
    const T *coef;    /* pass 2: per-sample coefficients (C x 4 each) ... */
    int shared;       /* ... or one set for every sample (batch) */
    double smooth, dice_w, bce_w, f;
    T kb;
} PL_NAME(seg_job);

static inline T *PL_NAME(seg_buf)(const PL_NAME(seg_job) *j)
{
    return j->bufs + (int64_t)pl_pool_tid() * (j->r->C + 3) * j->r->SB;
}

static double PL_NAME(seg_pass1_one)(void *vj, int64_t i)
{
    const PL_NAME(seg_job) *j = (const PL_NAME(seg_job) *)vj;
    const int64_t task = j->w0 + i;
    PL_NAME(pl_seg_pass1)(j->r, j->n0 + task / j->nb, task % j->nb, PL_NAME(seg_buf)(j),
                          j->part + i * j->r->C * 4);
    return 0.0;
}

static double PL_NAME(seg_pass2_one)(void *vj, int64_t task)
{
    const PL_NAME(seg_job) *j = (const PL_NAME(seg_job) *)vj;
    const T *k = j->shared ? j->coef : j->coef + (task / j->nb) * j->r->C * 4;
    PL_NAME(pl_seg_pass2)(j->r, j->n0 + task / j->nb, task % j->nb, PL_NAME(seg_buf)(j), k);
    return 0.0;
}

static double PL_NAME(seg_small_one)(void *vj, int64_t i)
{
    const PL_NAME(seg_job) *j = (const PL_NAME(seg_job) *)vj;
    double *sm = (double *)(void *)PL_NAME(seg_buf)(j);
    T *k = (T *)(void *)(sm + j->r->C * 4);
    j->sums[i] = PL_NAME(pl_seg_small)(j->r, j->n0 + i, j->smooth, j->dice_w, j->bce_w, j->f,
                                       j->kb, sm, k);
    return 0.0;
}

/* Pass 1 over samples n0 .. n0+cn-1: sums (cn x C x 4) gets each sample's
 * class sums, its tasks' partials summed pairwise and added in task order
 * (a window of W tasks at a time). */
PL_INLINE void PL_NAME(pl_seg_pass1_chunk)(const PL_NAME(pl_seg_t) *r, int64_t n0, int64_t cn,
                                           int64_t nb, int64_t W, double *part, double *sums,
                                           T *bufs, int nt)
{
    const int64_t C = r->C;
    const int64_t ntask = cn * nb;
    PL_NAME(seg_job) j = {r, n0, nb, 0, part, sums, bufs, NULL, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < cn * C * 4; i++) sums[i] = 0.0;
    for (int64_t w0 = 0; w0 < ntask; w0 += W) {
        const int64_t wn = ntask - w0 < W ? ntask - w0 : W;
        j.w0 = w0;
        pl_run_blocks(wn, nt, PL_NAME(seg_pass1_one), &j, NULL);
        /* each sample's tasks in this window, summed pairwise, added in order */
        for (int64_t i = 0; i < wn;) {
            const int64_t ln_ = (w0 + i) / nb;
            int64_t e = i;
            while (e < wn && (w0 + e) / nb == ln_) e++;
            double *sm = sums + ln_ * C * 4;
            for (int64_t q = 0; q < C * 4; q++)
                sm[q] += pl_seg_pairwise_strided(part + i * C * 4 + q, e - i, C * 4);
            i = e;
        }
    }
}

/* The driver.  Returns the sum over samples of the per-sample losses
 * dice_w * mean_c(term) + bce_w * mean(BCE of the sample) (generalized
 * Dice: the sample's ratio); writes them to loss (N,) when non-NULL and the
 * gradient of scale * sum to grad when non-NULL.  With r->batch the entries
 * are the classes c0..C-1 instead, each a ratio over the whole batch, and
 * loss has C - c0 entries.  work: pl_seg_work_size(N, C, S, nthreads)
 * doubles. */
PL_INLINE double PL_NAME(pl_seg_run)(PL_NAME(pl_seg_t) *r, double smooth, double dice_w,
                                     double bce_w, double scale, T *loss, double *work,
                                     int nthreads)
{
    const int64_t N = r->N, C = r->C, S = r->S;
    const int64_t SB = pl_seg_sb(C);
    r->SB = SB;
    if (N <= 0 && !r->batch) return 0.0;
    const int64_t nb = pl_seg_nblocks(S, SB);
    const int64_t CN = pl_seg_chunk(N, C, S);   /* 0 when N = 0, as pl_seg_work_size */
    const int64_t W = pl_seg_window(C);
    const int64_t nt = nthreads < 1 ? 1 : nthreads;
    double *part = work;
    double *sums = part + W * C * 4;
    T *coef = (T *)(sums + CN * C * 4);
    T *bufs = (T *)(sums + 2 * CN * C * 4);
    const int pnt = pl_threads(N * C * S, nthreads);
    const int64_t CK = C - r->c0;
    /* f multiplies each class term of the value: the class mean's 1/CK, not
     * for the generalized Dice ratio or the per-class batch entries */
    const double f = (r->batch || r->kind == PL_SEG_GDL) ? dice_w * scale
                     : (CK > 0 ? dice_w * scale / (double)CK : 0.0);
    const double cs = (double)C * (double)S;
    const double kb = cs > 0 ? bce_w * scale / cs : 0.0;
    double total = 0.0;
    r->keep = 0;
    if (r->grad && r->act == PL_SEG_ACT_SOFTMAX && S >= PL_SEG_SMALL_S && C > 0) {
        /* pass 1 may store p in grad unless pass 2 would then read a target
         * or labels that grad has overwritten (the driver allows aliasing) */
        const uintptr_t g0 = (uintptr_t)r->grad, g1 = g0 + (uintptr_t)(N * C * S) * sizeof(T);
        int ov = 0;
        if (r->t) {
            const uintptr_t t0 = (uintptr_t)r->t, t1 = t0 + (uintptr_t)(N * C * S) * sizeof(T);
            ov = ov || (g0 < t1 && t0 < g1);
        }
        if (r->lab) {
            const uintptr_t l0 = (uintptr_t)r->lab, l1 = l0 + (uintptr_t)(N * S) * sizeof(int64_t);
            ov = ov || (g0 < l1 && l0 < g1);
        }
        r->keep = !ov;
    }
    if (r->batch) {
        /* every sample's sums first, added in sample order; then one set of
         * coefficients for the whole batch and the gradient pass */
        double *bs = (double *)(void *)(bufs) + nt * (C + 3) * SB;
        for (int64_t q = 0; q < C * 4; q++) bs[q] = 0.0;
        for (int64_t n0 = 0; n0 < N; n0 += CN) {
            const int64_t cn = N - n0 < CN ? N - n0 : CN;
            PL_NAME(pl_seg_pass1_chunk)(r, n0, cn, nb, W, part, sums, bufs, pnt);
            for (int64_t ln_ = 0; ln_ < cn; ln_++)
                for (int64_t q = 0; q < C * 4; q++) bs[q] += sums[ln_ * C * 4 + q];
        }
        T *k = coef;
        for (int64_t c = 0; c < C; c++) {
            k[c * 4] = k[c * 4 + 1] = k[c * 4 + 2] = k[c * 4 + 3] = 0;
            if (c < r->c0) continue;
            double v = dice_w * PL_NAME(pl_seg_coef)(bs + c * 4, r, smooth, f, k + c * 4);
            if (loss) loss[c - r->c0] = (T)v;
            total += v;
        }
        if (r->grad && C > 0) {
            PL_NAME(seg_job) j = {r, 0, nb, 0, NULL, NULL, bufs, k, 1, 0, 0, 0, 0, 0};
            for (int64_t n0 = 0; n0 < N; n0 += CN) {
                j.n0 = n0;
                pl_run_blocks((N - n0 < CN ? N - n0 : CN) * nb, pnt, PL_NAME(seg_pass2_one), &j,
                              NULL);
            }
        }
        return total;
    }
    if (S < PL_SEG_SMALL_S && C > 0) {
        /* one sample per call; per-sample values land in sums (CN*C*4 >= CN)
         * and are added in sample order */
        PL_NAME(seg_job) j = {r, 0, nb, 0, NULL, sums, bufs, NULL, 0, smooth, dice_w, bce_w, f,
                              (T)kb};
        for (int64_t n0 = 0; n0 < N; n0 += CN) {
            const int64_t cn = N - n0 < CN ? N - n0 : CN;
            j.n0 = n0;
            pl_run_blocks(cn, pnt, PL_NAME(seg_small_one), &j, NULL);
            for (int64_t i = 0; i < cn; i++) {
                if (loss) loss[n0 + i] = (T)sums[i];
                total += sums[i];
            }
        }
        return total;
    }
    for (int64_t n0 = 0; n0 < N; n0 += CN) {
        const int64_t cn = N - n0 < CN ? N - n0 : CN;
        const int64_t ntask = cn * nb;
        PL_NAME(pl_seg_pass1_chunk)(r, n0, cn, nb, W, part, sums, bufs, pnt);
        for (int64_t ln_ = 0; ln_ < cn; ln_++) {
            double *sm = sums + ln_ * C * 4;
            T *k = coef + ln_ * C * 4;
            double v = dice_w * PL_NAME(pl_seg_value)(sm, r, smooth, f, k);
            double bsum = 0.0;
            for (int64_t c = 0; c < C; c++) {
                k[c * 4 + 3] = (T)kb;
                bsum += sm[c * 4 + 3];
            }
            if (r->bce) v += bce_w * (bsum / cs);
            if (loss) loss[n0 + ln_] = (T)v;
            total += v;
        }
        if (r->grad) {
            PL_NAME(seg_job) j = {r, n0, nb, 0, NULL, NULL, bufs, coef, 0, 0, 0, 0, 0, 0};
            pl_run_blocks(ntask, pnt, PL_NAME(seg_pass2_one), &j, NULL);
        }
    }
    return total;
}
