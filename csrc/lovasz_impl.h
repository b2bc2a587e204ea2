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

/* One call's arrays, for the three parallel steps (pl_run_blocks). */
typedef struct {
    int64_t n, c, s, P, maxp;
    const T *x;
    const int64_t *labels, *off;
    int has_ignore, activation, per_image, all_classes;
    int64_t ignore_index;
    T *pb, *gb, *grad;
    int64_t *lb;
    double *tl;
    int *tc;
    void **scr;   /* step 2: sort scratch per thread (pl_pool_tid), made on first use */
    int *bad;     /* step 2: an allocation failed, per thread */
} PL_NAME(lv_job);

/* Step 1, image im: the probabilities and labels of its valid pixels. */
static double PL_NAME(lv_prep_one)(void *vj, int64_t im)
{
    const PL_NAME(lv_job) *j = (const PL_NAME(lv_job) *)vj;
    const int64_t c = j->c, s = j->s, P = j->P;
    const T *xn = j->x + im * c * s;
    const int64_t *ln = j->labels + im * s;
    T *pb = j->pb;
    int64_t k = j->off[im];
    for (int64_t q = 0; q < s; q++) {
        if (j->has_ignore && ln[q] == j->ignore_index) continue;
        j->lb[k] = ln[q];
        if (j->activation == 2) {
            T m = xn[q];
            for (int64_t u = 1; u < c; u++) m = xn[u * s + q] > m ? xn[u * s + q] : m;
            T z = 0;
            for (int64_t u = 0; u < c; u++) {
                const T e = PL_EXP(xn[u * s + q] - m);
                pb[u * P + k] = e;
                z += e;
            }
            const T rz = (T)1 / z;
            for (int64_t u = 0; u < c; u++) pb[u * P + k] *= rz;
        } else {
            for (int64_t u = 0; u < c; u++) pb[u * P + k] = xn[u * s + q];
        }
        k++;
    }
    return 0.0;
}

/* Step 2, task t = (group, class): one sort and scan. */
static double PL_NAME(lv_task_one)(void *vj, int64_t t)
{
    const PL_NAME(lv_job) *j = (const PL_NAME(lv_job) *)vj;
    const int tid = pl_pool_tid();
    const int64_t c = j->c, P = j->P, m1 = j->maxp + 1;
    if (!j->scr[tid] && !j->bad[tid]) {
        /* key, tmp (uint64) and, in double, idx, tidx (int64): m1 each */
        j->scr[tid] = malloc(sizeof(uint64_t) * (size_t)(m1 * (PL_DOUBLE ? 4 : 2)));
        if (!j->scr[tid]) j->bad[tid] = 1;
    }
    if (j->bad[tid]) {
        j->tl[t] = 0;
        j->tc[t] = 0;
        return 0.0;
    }
    uint64_t *key = (uint64_t *)j->scr[tid], *tmp = key + m1;
    int64_t *idx = PL_DOUBLE ? (int64_t *)(void *)(tmp + m1) : NULL;
    int64_t *tidx = PL_DOUBLE ? idx + m1 : NULL;
    const int64_t gi = t / c, cls = t % c;
    const int64_t o = j->per_image ? j->off[gi] : 0;
    const int64_t pg = j->per_image ? j->off[gi + 1] - j->off[gi] : P;
    int st = 0;
    j->tl[t] = PL_NAME(pl_lv_task)(j->pb + cls * P + o, j->lb + o, pg, cls, j->all_classes,
                                   j->gb ? j->gb + cls * P + o : NULL, key, tmp, idx, tidx,
                                   &j->tc[t], &st);
    if (st) j->bad[tid] = 1;
    return 0.0;
}

/* Step 3, image im: the gradient, pulled back through the softmax. */
static double PL_NAME(lv_grad_one)(void *vj, int64_t im)
{
    const PL_NAME(lv_job) *j = (const PL_NAME(lv_job) *)vj;
    const int64_t c = j->c, s = j->s, P = j->P;
    const T f = (T)j->tl[(j->per_image ? im : 0) * c];
    const int64_t *ln = j->labels + im * s;
    const T *pb = j->pb, *gb = j->gb;
    T *gn = j->grad + im * c * s;
    int64_t k = j->off[im];
    for (int64_t q = 0; q < s; q++) {
        if (j->has_ignore && ln[q] == j->ignore_index) {
            for (int64_t u = 0; u < c; u++) gn[u * s + q] = 0;
            continue;
        }
        if (j->activation == 2) {
            T dot = 0;
            for (int64_t u = 0; u < c; u++) dot += pb[u * P + k] * gb[u * P + k];
            for (int64_t u = 0; u < c; u++)
                gn[u * s + q] = f * (pb[u * P + k] * (gb[u * P + k] - dot));
        } else {
            for (int64_t u = 0; u < c; u++) gn[u * s + q] = f * gb[u * P + k];
        }
        k++;
    }
    return 0.0;
}

double PL_NAME(pl_lovasz_softmax)(int64_t n, int64_t c, int64_t s, const T *x,
                                            const int64_t *labels, int has_ignore,
                                            int64_t ignore_index, int activation, int per_image,
                                            int all_classes, double scale, T *loss, T *grad,
                                            int nthreads, int *status)
{
    *status = 0;
    const int nt = pl_threads(n * c * s, nthreads);
    /* valid pixels per image, and where each image starts in pb */
    int64_t *off = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!off) { *status = 1; return NAN; }
    off[0] = 0;
    for (int64_t im = 0; im < n; im++) {
        int64_t v = s;
        if (has_ignore) {
            v = 0;
            for (int64_t q = 0; q < s; q++) v += labels[im * s + q] != ignore_index;
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
    void **scr = (void **)calloc((size_t)nt, sizeof(void *));
    int *badt = (int *)calloc((size_t)nt, sizeof(int));
    if (!pb || (grad && !gb) || !lb || !tl || !tc || !scr || !badt) {
        free(off); free(pb); free(gb); free(lb); free(tl); free(tc); free(scr); free(badt);
        *status = 1;
        return NAN;
    }
    int64_t maxp = 0;
    for (int64_t gi = 0; gi < ng; gi++) {
        const int64_t pg = per_image ? off[gi + 1] - off[gi] : P;
        maxp = pg > maxp ? pg : maxp;
    }
    PL_NAME(lv_job) j = {n, c, s, P, maxp, x, labels, off, has_ignore, activation, per_image,
                         all_classes, ignore_index, pb, gb, grad, lb, tl, tc, scr, badt};
    /* 1. probabilities and labels of the valid pixels */
    pl_run_blocks(n, nt, PL_NAME(lv_prep_one), &j, NULL);
    /* 2. one sort and scan per (group, class) */
    pl_run_blocks(ntask, nt, PL_NAME(lv_task_one), &j, NULL);
    int bad = 0;
    for (int q = 0; q < nt; q++) {
        bad |= badt[q];
        free(scr[q]);
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
    if (grad && !bad) pl_run_blocks(n, nt, PL_NAME(lv_grad_one), &j, NULL);
    free(off); free(pb); free(gb); free(lb); free(tl); free(tc); free(scr); free(badt);
    if (bad) { *status = 1; return NAN; }
    return total;
}
#undef PL_LV_LO
