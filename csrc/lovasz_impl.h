/* lovasz_impl.h -- lovasz_softmax once per dtype (see lovasz.h, pl_type.h).
 *
 * 1. Per image: the probabilities of its valid (not ignored) pixels go to
 *    pb (C, P) and their labels to lb (P), images one after the other, so a
 *    group (an image, or the whole batch) is a contiguous range of pixels.
 * 2. Per task (group, class), in parallel: errors e = |fg - p| sorted
 *    decreasingly (stable, by bit pattern: e >= 0), then one scan computes
 *    Berman's lovasz_grad, J_k = 1 - (G - a_k) / (G + b_k) with a_k/b_k the
 *    foreground/background pixels up to rank k, g_k = J_k - J_{k-1}, the
 *    class loss sum_k e_k g_k, and d loss / d p = g_k sign(p - fg) into gb.
 * 3. Group losses are the class means (class order); the gradient is scaled
 *    by scale / (classes counted) and pulled back through the softmax. */

#if PL_DOUBLE
typedef uint64_t PL_NAME(pl_lv_bits);
#define PL_LV_LO 0
#else
typedef uint32_t PL_NAME(pl_lv_bits);
#define PL_LV_LO 32
#endif

/* One (group, class) task: returns the class loss, sets *counted. */
static double PL_NAME(pl_lv_task)(const T *pc, const int64_t *lb, int64_t P, int64_t cls,
                                  int all_classes, T *gc, uint64_t *key, uint64_t *tmp,
                                  int64_t *idx, int64_t *tidx, int *counted, int *status)
{
    int64_t G = 0;
    for (int64_t i = 0; i < P; i++) G += lb[i] == cls;
    *counted = all_classes || G > 0;
    if (!*counted || P == 0) {
        if (gc) for (int64_t i = 0; i < P; i++) gc[i] = 0;
        return 0.0;
    }
    for (int64_t i = 0; i < P; i++) {
        const T fg = lb[i] == cls ? (T)1 : (T)0;
        const T e = PL_FABS(fg - pc[i]);
        PL_NAME(pl_lv_bits) b;
        memcpy(&b, &e, sizeof b);
        b = ~b;                               /* e >= 0: decreasing e is increasing ~bits */
#if PL_DOUBLE
        key[i] = (uint64_t)b;
        idx[i] = i;
#else
        key[i] = ((uint64_t)b << 32) | (uint64_t)i;   /* the index rides in the low half */
#endif
    }
    int64_t *order = NULL;
#if PL_DOUBLE
    uint64_t *sorted = pl_lv_radix(key, tmp, idx, tidx, P, 0, 64, &order);
#else
    uint64_t *sorted = pl_lv_radix(key, tmp, NULL, NULL, P, 32, 64, &order);
#endif
    if (!sorted) {
        *status = 1;
        return 0.0;
    }
    const double Gd = (double)G;
    double a = 0.0, b = 0.0, jprev = 0.0, acc = 0.0;
    for (int64_t k = 0; k < P; k++) {
#if PL_DOUBLE
        const int64_t i = order[k];
#else
        const int64_t i = (int64_t)(sorted[k] & 0xffffffffu);
#endif
        const int isfg = lb[i] == cls;
        const T p = pc[i];
        const T fg = isfg ? (T)1 : (T)0;
        const T e = PL_FABS(fg - p);
        if (isfg) a += 1.0; else b += 1.0;
        const double j = 1.0 - (Gd - a) / (Gd + b);
        const double g = j - jprev;
        jprev = j;
        acc += (double)e * g;
        if (gc) gc[i] = (T)(p > fg ? g : (p < fg ? -g : (p == fg ? 0.0 : (double)p))); /* NaN stays */
    }
    return acc;
}

double PL_NAME(pl_lovasz_softmax)(int64_t n, int64_t c, int64_t s, const T *x,
                                            const int64_t *labels, int has_ignore,
                                            int64_t ignore_index, int activation, int per_image,
                                            int all_classes, double scale, T *loss, T *grad,
                                            int nthreads, int *status)
{
    *status = 0;
    const int par = pl_use_threads(n * c * s, nthreads);
    (void)par;
    /* valid pixels per image, and where each image starts in pb */
    int64_t *off = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!off) { *status = 1; return NAN; }
    off[0] = 0;
    for (int64_t im = 0; im < n; im++) {
        int64_t v = s;
        if (has_ignore) {
            v = 0;
            for (int64_t j = 0; j < s; j++) v += labels[im * s + j] != ignore_index;
        }
        off[im + 1] = off[im] + v;
    }
    const int64_t P = off[n];
    const int64_t ng = per_image ? n : 1;
    const int64_t ntask = ng * c;
    T *pb = (T *)malloc(sizeof(T) * (size_t)(c * P + 1));
    T *gb = grad ? (T *)malloc(sizeof(T) * (size_t)(c * P + 1)) : NULL;
    int64_t *lb = (int64_t *)malloc(sizeof(int64_t) * (size_t)(P + 1));
    double *tl = (double *)malloc(sizeof(double) * (size_t)(ntask + 1));
    int *tc = (int *)malloc(sizeof(int) * (size_t)(ntask + 1));
    if (!pb || (grad && !gb) || !lb || !tl || !tc) {
        free(off); free(pb); free(gb); free(lb); free(tl); free(tc);
        *status = 1;
        return NAN;
    }
    /* 1. probabilities and labels of the valid pixels */
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (par)
#endif
    for (int64_t im = 0; im < n; im++) {
        const T *xn = x + im * c * s;
        const int64_t *ln = labels + im * s;
        int64_t k = off[im];
        for (int64_t j = 0; j < s; j++) {
            if (has_ignore && ln[j] == ignore_index) continue;
            lb[k] = ln[j];
            if (activation == 2) {
                T m = xn[j];
                for (int64_t q = 1; q < c; q++) m = xn[q * s + j] > m ? xn[q * s + j] : m;
                T z = 0;
                for (int64_t q = 0; q < c; q++) {
                    const T e = PL_EXP(xn[q * s + j] - m);
                    pb[q * P + k] = e;
                    z += e;
                }
                const T rz = (T)1 / z;
                for (int64_t q = 0; q < c; q++) pb[q * P + k] *= rz;
            } else {
                for (int64_t q = 0; q < c; q++) pb[q * P + k] = xn[q * s + j];
            }
            k++;
        }
    }
    /* 2. one sort and scan per (group, class) */
    int64_t maxp = 0;
    for (int64_t gi = 0; gi < ng; gi++) {
        const int64_t pg = per_image ? off[gi + 1] - off[gi] : P;
        maxp = pg > maxp ? pg : maxp;
    }
    int bad = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) if (par && ntask > 1) reduction(| : bad)
#endif
    {
        uint64_t *key = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(maxp + 1));
        uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(maxp + 1));
        int64_t *idx = PL_DOUBLE ? (int64_t *)malloc(sizeof(int64_t) * (size_t)(maxp + 1)) : NULL;
        int64_t *tidx = PL_DOUBLE ? (int64_t *)malloc(sizeof(int64_t) * (size_t)(maxp + 1)) : NULL;
        if (!key || !tmp || (PL_DOUBLE && (!idx || !tidx))) bad = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t t = 0; t < ntask; t++) {
            if (bad) { tl[t] = 0; tc[t] = 0; continue; }
            const int64_t gi = t / c, cls = t % c;
            const int64_t o = per_image ? off[gi] : 0;
            const int64_t pg = per_image ? off[gi + 1] - off[gi] : P;
            int st = 0;
            tl[t] = PL_NAME(pl_lv_task)(pb + cls * P + o, lb + o, pg, cls, all_classes,
                                        gb ? gb + cls * P + o : NULL, key, tmp, idx, tidx,
                                        &tc[t], &st);
            if (st) bad = 1;
        }
        free(key); free(tmp); free(idx); free(tidx);
    }
    double total = 0.0;
    if (!bad) {
        /* 3. group means, then the gradient */
        for (int64_t gi = 0; gi < ng; gi++) {
            double sum = 0.0;
            int64_t k = 0;
            for (int64_t q = 0; q < c; q++) {
                sum += tl[gi * c + q];
                k += tc[gi * c + q];
            }
            const double lg = k ? sum / (double)k : 0.0;
            tl[gi * c] = k ? scale / (double)k : 0.0;   /* reused: the group's gradient factor */
            if (loss) loss[gi] = (T)lg;
            total += lg;
        }
    }
    if (grad && !bad) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (par)
#endif
        for (int64_t im = 0; im < n; im++) {
            const T f = (T)tl[(per_image ? im : 0) * c];
            const int64_t *ln = labels + im * s;
            const T *xn = x + im * c * s;
            T *gn = grad + im * c * s;
            int64_t k = off[im];
            (void)xn;
            for (int64_t j = 0; j < s; j++) {
                if (has_ignore && ln[j] == ignore_index) {
                    for (int64_t q = 0; q < c; q++) gn[q * s + j] = 0;
                    continue;
                }
                if (activation == 2) {
                    T dot = 0;
                    for (int64_t q = 0; q < c; q++) dot += pb[q * P + k] * gb[q * P + k];
                    for (int64_t q = 0; q < c; q++)
                        gn[q * s + j] = f * (pb[q * P + k] * (gb[q * P + k] - dot));
                } else {
                    for (int64_t q = 0; q < c; q++) gn[q * s + j] = f * gb[q * P + k];
                }
                k++;
            }
        }
    }
    free(off); free(pb); free(gb); free(lb); free(tl); free(tc);
    if (bad) { *status = 1; return NAN; }
    return total;
}
#undef PL_LV_LO
