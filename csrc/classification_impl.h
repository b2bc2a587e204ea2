/* classification_impl.h -- classification kernels, included once per dtype by
 * classification.c (see pl_type.h).
 *
 * The elementwise ones (binary_cross_entropy, binary_cross_entropy_with_logits,
 * sigmoid_focal) are in binary_impl.h, a unit of their own (binary.c) so that
 * the two halves compile in parallel.
 *
 * The softmax losses (cross_entropy, softmax_focal) share one row engine.  A
 * "row" is the C logits of one sample position, class stride `zs`.  Per row:
 *
 *   pass 1  m = max_k z_k                                 (reads z)
 *   pass 2  e_k = exp(z_k - m), S = sum e_k, plus the target sums
 *           (stored into the gradient buffer when one is wanted)
 *   pass 3  grad_k = scale (smass e_k / S - q_k)           (gradient buffer only)
 *
 * Passes 2 and 3 hit the cache lines pass 1 brought in (a row of up to a
 * few thousand classes stays in L1/L2), so logits are read from memory once
 * and the gradient written once; no log-softmax is materialised.  Every
 * loss is computed relative to the row max (log S - (z_y - m)), so logits of
 * +-1e4 lose no digits to cancellation.
 *
 * The row's target distribution q (any of the three modes) enters only
 * through per-row scalars:
 *   q_k = a [k == y] + bw w_k + bt w_k t_k,   smass = sum_k q_k,
 *   grad_k = scale (smass p_k - q_k),  hess_k = scale smass p_k (1 - p_k).
 *   cross_entropy, class target y:  a = (1-eps) w_y, bw = eps/C, bt = 0
 *   cross_entropy, probabilities t: a = 0, bw = eps/C, bt = 1-eps
 *   softmax_focal:                  a = smass = -G (see below), bw = bt = 0
 *
 * Two layouts: rows contiguous (d == 1, C large), lanes along the classes;
 * or tiles of PL_TJ rows side by side (positions of an (N, C, d...) input,
 * or narrow rows transposed into a local buffer), lanes along the rows.
 */

#define PL_CV 16   /* lanes along a contiguous row */
#define PL_TJ 64   /* rows per tile */
#define PL_NARROW 32 /* contiguous rows with fewer classes go through tiles */
#define PL_CH 1024 /* exp chunk of a contiguous row */

#define PL_MODE_CLASS 0
#define PL_MODE_PROB 1
#define PL_MODE_FOCAL 2

/* Per-row results of passes 1-2. */
typedef struct {
    T m, S, Aw, At, Qt, rest;
} PL_NAME(pl_rowstat);

/* The per-row scalars: loss and the q coefficients. */
typedef struct {
    T smass, a, bw, bt;
} PL_NAME(pl_rowq);

/* Options shared by every row of a call. */
typedef struct {
    int mode;
    const T *weight;   /* (C,) class weights or NULL */
    T W;               /* sum of weights (C without) */
    T eps;             /* label smoothing */
    T scale;
    const T *alpha;    /* focal: per-class alpha or NULL */
    T alpha0, gamma;   /* focal: scalar alpha (when alpha NULL), gamma */
    int64_t ignore;
} PL_NAME(pl_smx);

/* Loss of one row and its q coefficients.  y < 0: ignored (mode CLASS/FOCAL).
 * zym = z_y - m.  Returns the (unscaled) loss. */
PL_INLINE T PL_NAME(smx_finish)(const PL_NAME(pl_smx) *o, int64_t c, PL_NAME(pl_rowstat) st,
                                int64_t y, T zym, PL_NAME(pl_rowq) *q)
{
    T logS = PL_LOG(st.S);
    if (o->mode == PL_MODE_PROB) {
        T bw = o->eps / (T)c, bt = (T)1 - o->eps;
        q->a = 0; q->bw = bw; q->bt = bt;
        q->smass = bt * st.Qt + bw * o->W;
        T l = bt * (st.Qt * logS - st.At);
        if (o->eps > 0) l += bw * (o->W * logS - st.Aw);
        return l;
    }
    if (y < 0) {
        q->a = q->bw = q->bt = q->smass = 0;
        return 0;
    }
    if (o->mode == PL_MODE_CLASS) {
        T wy = o->weight ? o->weight[y] : (T)1;
        T a = ((T)1 - o->eps) * wy, bw = o->eps / (T)c;
        q->a = a; q->bw = bw; q->bt = 0;
        q->smass = a + bw * o->W;
        T l = a * (logS - zym);
        if (o->eps > 0) l += bw * (o->W * logS - st.Aw);
        return l;
    }
    /* softmax focal.  u = 1 - p_t = rest / S without cancellation; log p_t
     * from log1p(rest) when t is the max (e_t = 1), which keeps the digits of
     * p_t near 1.  r = log(p_t) / u -> -1 as u -> 0, so u^gamma r never
     * forms u^(gamma-1) (finite for every gamma >= 0). */
    T at = o->alpha ? o->alpha[y] : o->alpha0;
    T logpt = zym == 0 ? -PL_LOG1P_POS(st.rest) : zym - logS;
    T u = st.rest / st.S;
    T pt = (zym == 0 ? (T)1 : PL_EXP(zym)) / st.S;
    T r = u > 0 ? logpt / u : (T)-1;
    T g = o->gamma;
    T F = g == 0 ? (T)1 : (g == 2 ? u * u : (g == 1 ? u : PL_POW(u, g)));
    T G = at * F * (g * pt * r - (T)1);
    q->a = -G; q->smass = -G; q->bw = 0; q->bt = 0;
    return -at * F * logpt;
}

/* ------------------------------------------------------------------ */
/* Contiguous rows: lanes along the classes                            */
/* ------------------------------------------------------------------ */
PL_INLINE PL_NAME(pl_rowstat) PL_NAME(row_stats)(const PL_NAME(pl_smx) *o, int64_t c, const T *z,
                                                 const T *tp, int64_t y, T *e_out,
                                                 const int mode, const int ww, const int we,
                                                 const int store)
{
    /* pass 1: the max and, for label smoothing, sum_k w_k z_k, which gives
     * sum_k w_k (z_k - m) = sum w z - W m without another pass (its rounding,
     * ~eps max|z| sqrt(C), enters the loss times eps/C) */
    const T *w = o->weight;
    T mv[PL_CV], zw[PL_CV];
    for (int j = 0; j < PL_CV; j++) mv[j] = -INFINITY, zw[j] = 0;
    int64_t k = 0;
    for (; k + PL_CV <= c; k += PL_CV)
        for (int j = 0; j < PL_CV; j++) {
            mv[j] = z[k + j] > mv[j] ? z[k + j] : mv[j];
            if (we) zw[j] += (ww ? w[k + j] : (T)1) * z[k + j];
        }
    T m = -INFINITY, zws = 0;
    for (int j = 0; k < c; k++, j++) {
        m = z[k] > m ? z[k] : m;
        if (we) zw[j] += (ww ? w[k] : (T)1) * z[k];
    }
    for (int j = 0; j < PL_CV; j++) m = mv[j] > m ? mv[j] : m;
    for (int j = 0; j < PL_CV; j++) zws += zw[j];

    T S[PL_CV], Aw[PL_CV], At[PL_CV], Qt[PL_CV], R[PL_CV];
    for (int j = 0; j < PL_CV; j++) S[j] = Aw[j] = At[j] = Qt[j] = R[j] = 0;
    /* exp in a plain loop of its own (vectorises like pl_vexp), into the
     * gradient row or a stack chunk; the sums then read it back from L1 */
    T buf[PL_CH];
    for (int64_t k0 = 0; k0 < c; k0 += PL_CH) {
        const int64_t len = c - k0 < PL_CH ? c - k0 : PL_CH;
        T *eb = store ? e_out + k0 : buf;
        const T *zc = z + k0;
        for (int64_t i = 0; i < len; i++) eb[i] = PL_EXP(zc[i] - m);
        int64_t i = 0;
#define PL_ROW_BODY(I, J)                                                     \
        {                                                                     \
            S[J] += eb[I];                                                    \
            if (mode == PL_MODE_PROB) {                                       \
                T zk = zc[I] - m;                                             \
                T wk = ww ? w[k0 + (I)] : (T)1;                               \
                {                                                             \
                    T qk = wk * tp[k0 + (I)];                                 \
                    At[J] += qk * zk;                                         \
                    Qt[J] += qk;                                              \
                }                                                             \
            }                                                                 \
            if (mode == PL_MODE_FOCAL) R[J] += k0 + (I) != y ? eb[I] : (T)0;  \
        }
        for (; i + PL_CV <= len; i += PL_CV)
            for (int j = 0; j < PL_CV; j++) PL_ROW_BODY(i + j, j)
        for (int j = 0; i < len; i++, j++) PL_ROW_BODY(i, j)
#undef PL_ROW_BODY
    }
    PL_NAME(pl_rowstat) st;
    st.m = m;
    /* fixed-order lane combination: deterministic */
    T s = 0, aw = 0, at = 0, qt = 0, r = 0;
    for (int j = 0; j < PL_CV; j++) { s += S[j]; aw += Aw[j]; at += At[j]; qt += Qt[j]; r += R[j]; }
    if (we) aw = zws - o->W * m;
    st.S = s; st.Aw = aw; st.At = at; st.Qt = qt; st.rest = r;
    return st;
}

/* pass 3 over one contiguous row: g holds e_k on entry */
PL_INLINE void PL_NAME(row_grad)(const PL_NAME(pl_smx) *o, int64_t c, const T *tp, int64_t y,
                                 T invS, PL_NAME(pl_rowq) q, T *g, const int mode,
                                 const int ww, const int hm)
{
    const T sc = o->scale;
    const T A = sc * q.smass * invS;
    const T bw = sc * q.bw, bt = sc * q.bt;
    const T *w = o->weight;
    if (hm) {
        for (int64_t k = 0; k < c; k++) {
            T p = g[k] * invS;
            g[k] = (sc * q.smass) * p * ((T)1 - p);
        }
        return;
    }
    for (int64_t k = 0; k < c; k++) {
        T wk = ww ? w[k] : (T)1;
        T v = A * g[k] - bw * wk;
        if (mode == PL_MODE_PROB) v -= bt * wk * tp[k];
        g[k] = v;
    }
    if (mode != PL_MODE_PROB && y >= 0) g[y] -= sc * q.a;
}

PL_INLINE double PL_NAME(rows_contig)(const PL_NAME(pl_smx) *o, int64_t r0, int64_t r1, int64_t c,
                                      const T *z, const int64_t *yv, const T *tp, T *loss, T *g,
                                      const int hm, const int mode, const int ww, const int we)
{
    double acc = 0;
    for (int64_t r = r0; r < r1; r++) {
        const T *zr = z + r * c;
        const T *tr = mode == PL_MODE_PROB ? tp + r * c : NULL;
        int64_t y = -1;
        if (mode != PL_MODE_PROB) {
            y = yv[r];
            if (y == o->ignore || y < 0 || y >= c) y = -1;
        }
        T *gr = g ? g + r * c : NULL;
        /* a constant `store` flag: a conditional store would block vectorisation,
         * and a scratch chunk would cost a store per class in value calls */
        PL_NAME(pl_rowstat) st = gr ? PL_NAME(row_stats)(o, c, zr, tr, y, gr, mode, ww, we, 1)
                                    : PL_NAME(row_stats)(o, c, zr, tr, y, gr, mode, ww, we, 0);
        PL_NAME(pl_rowq) q;
        T zym = y >= 0 ? zr[y] - st.m : (T)0;
        T l = PL_NAME(smx_finish)(o, c, st, y, zym, &q);
        if (loss) loss[r] = l;
        acc += (double)l;
        if (gr) {
            if (y < 0 && mode != PL_MODE_PROB) {
                for (int64_t k = 0; k < c; k++) gr[k] = 0;
            } else {
                PL_NAME(row_grad)(o, c, tr, y, (T)1 / st.S, q, gr, mode, ww, hm);
            }
        }
    }
    return acc;
}

/* ------------------------------------------------------------------ */
/* Tiles: J rows side by side, class stride zs, lanes along the rows   */
/* ------------------------------------------------------------------ */
PL_INLINE double PL_NAME(tile)(const PL_NAME(pl_smx) *o, int J, int64_t c, const T *z, int64_t zs,
                               const int64_t *yv, const T *tp, T *loss, T *g, const int hm,
                               const int mode, const int we, const int st)
{
    T m[PL_TJ], S[PL_TJ], Aw[PL_TJ], At[PL_TJ], Qt[PL_TJ], R[PL_TJ], invS[PL_TJ], sink[PL_TJ];
    int64_t y[PL_TJ];
    const T *w = o->weight;
    for (int j = 0; j < J; j++) {
        m[j] = -INFINITY;
        S[j] = Aw[j] = At[j] = Qt[j] = R[j] = 0;
        int64_t t = mode == PL_MODE_PROB ? -1 : yv[j];
        y[j] = (t == o->ignore || t < 0 || t >= c) ? -1 : t;
    }
    for (int64_t k = 0; k < c; k++) {
        const T *zk = z + k * zs;
        for (int j = 0; j < J; j++) m[j] = zk[j] > m[j] ? zk[j] : m[j];
    }
    for (int64_t k = 0; k < c; k++) {
        const T *zk = z + k * zs;
        const T *tk = mode == PL_MODE_PROB ? tp + k * zs : NULL;
        /* st (a constant): 0 no gradient, no store; 1 a gradient; 2 either,
         * known at run time: without a gradient e goes to a scratch row (an
         * unconditional store, one loop for both: half the code, but 10-40%
         * slower value calls, so the hot combinations get 0 and 1) */
        T *gk = st == 1 ? g + k * zs : st == 2 ? (g ? g + k * zs : sink) : NULL;
        T wk = w ? w[k] : (T)1;
        for (int j = 0; j < J; j++) {
            T d = zk[j] - m[j];
            T e = PL_EXP(d);
            S[j] += e;
            /* an ignored row's gradient is exactly 0, even over NaN/inf logits */
            if (st) gk[j] = (mode != PL_MODE_PROB && y[j] < 0) ? (T)0 : e;
            if (we) Aw[j] += wk * d;
            if (mode == PL_MODE_PROB) { T qk = wk * tk[j]; At[j] += qk * d; Qt[j] += qk; }
            if (mode == PL_MODE_FOCAL) R[j] += k != y[j] ? e : (T)0;
        }
    }
    double acc = 0;
    T A[PL_TJ], Bw[PL_TJ], Bt[PL_TJ], Ay[PL_TJ];
    for (int j = 0; j < J; j++) {
        PL_NAME(pl_rowstat) st = {m[j], S[j], Aw[j], At[j], Qt[j], R[j]};
        PL_NAME(pl_rowq) q;
        T zym = y[j] >= 0 ? z[y[j] * zs + j] - m[j] : (T)0;
        T l = PL_NAME(smx_finish)(o, c, st, y[j], zym, &q);
        if (loss) loss[j] = l;
        acc += (double)l;
        invS[j] = (T)1 / S[j];
        T sm = o->scale * q.smass;
        A[j] = hm ? sm : sm * invS[j];
        Bw[j] = o->scale * q.bw;
        Bt[j] = o->scale * q.bt;
        Ay[j] = o->scale * q.a;
        if (y[j] < 0 && mode != PL_MODE_PROB) A[j] = Bw[j] = Bt[j] = Ay[j] = 0, invS[j] = 0;
    }
    if (!g) return acc;
    for (int64_t k = 0; k < c; k++) {
        T *gk = g + k * zs;
        const T *tk = mode == PL_MODE_PROB ? tp + k * zs : NULL;
        T wk = w ? w[k] : (T)1;
        if (hm) {
            for (int j = 0; j < J; j++) {
                T p = gk[j] * invS[j];
                gk[j] = A[j] * p * ((T)1 - p);
            }
        } else {
            for (int j = 0; j < J; j++) {
                T v = A[j] * gk[j] - Bw[j] * wk;
                if (mode == PL_MODE_PROB) v -= Bt[j] * wk * tk[j];
                else v -= k == y[j] ? Ay[j] : (T)0;
                gk[j] = v;
            }
        }
    }
    return acc;
}

/* The tile bodies, each compiled once and shared by narrow contiguous rows
 * (transposed, zs = PL_TJ) and positions of an (N, C, d...) input (zs = d):
 * plain cross-entropy and softmax focal get separate value and gradient
 * bodies (st 0 and 1); the rarer combinations (class weights, label
 * smoothing, probability targets) one body per mode with the gradient known
 * at run time (st 2).  Class weights enter a tile only per class, outside its
 * inner loops, so they are read at run time; the rare bodies always sum
 * w_k (z_k - m) (one FMA per element), used only with label smoothing.  Nine
 * inlined copies of the tile (one per combination and layout) made this unit
 * the slowest to compile for no measurable speed. */
#define PL_TILE_FN(NAME, MODE, WE, ST)                                                      \
    static double PL_NAME(NAME)(const PL_NAME(pl_smx) *o, int J, int64_t c, const T *z,     \
                                int64_t zs, const int64_t *yv, const T *tp, T *loss, T *g,  \
                                int hm)                                                     \
    {                                                                                       \
        return PL_NAME(tile)(o, J, c, z, zs, yv, tp, loss, g, hm, MODE, WE, ST);            \
    }
PL_TILE_FN(tile_class_v, PL_MODE_CLASS, 0, 0)
PL_TILE_FN(tile_class_g, PL_MODE_CLASS, 0, 1)
PL_TILE_FN(tile_focal_v, PL_MODE_FOCAL, 0, 0)
PL_TILE_FN(tile_focal_g, PL_MODE_FOCAL, 0, 1)
PL_TILE_FN(tile_class_any, PL_MODE_CLASS, 1, 2)
PL_TILE_FN(tile_prob_any, PL_MODE_PROB, 1, 2)
#undef PL_TILE_FN

/* J rows side by side, class stride zs: the tile body for this call. */
static double PL_NAME(tile_pick)(const PL_NAME(pl_smx) *o, int J, int64_t c, const T *z,
                                 int64_t zs, const int64_t *yv, const T *tp, T *loss, T *g,
                                 int hm)
{
    if (o->mode == PL_MODE_PROB)
        return PL_NAME(tile_prob_any)(o, J, c, z, zs, yv, tp, loss, g, hm);
    if (o->weight != NULL || o->eps > 0)
        return PL_NAME(tile_class_any)(o, J, c, z, zs, yv, tp, loss, g, hm);
    if (o->mode == PL_MODE_FOCAL)
        return g ? PL_NAME(tile_focal_g)(o, J, c, z, zs, yv, tp, loss, g, hm)
                 : PL_NAME(tile_focal_v)(o, J, c, z, zs, yv, tp, loss, g, hm);
    return g ? PL_NAME(tile_class_g)(o, J, c, z, zs, yv, tp, loss, g, hm)
             : PL_NAME(tile_class_v)(o, J, c, z, zs, yv, tp, loss, g, hm);
}

/* Narrow contiguous rows r0..r1: transpose J rows into a local tile. */
static double PL_NAME(rows_narrow)(const PL_NAME(pl_smx) *o, int64_t r0, int64_t r1, int64_t c,
                                   const T *z, const int64_t *yv, const T *tp, T *loss, T *g,
                                   const int hm)
{
    T zb[PL_NARROW * PL_TJ], gb[PL_NARROW * PL_TJ], tb[PL_NARROW * PL_TJ];
    double acc = 0;
    for (int64_t r = r0; r < r1; r += PL_TJ) {
        int J = (int)(r1 - r < PL_TJ ? r1 - r : PL_TJ);
        for (int j = 0; j < J; j++)
            for (int64_t k = 0; k < c; k++) zb[k * PL_TJ + j] = z[(r + j) * c + k];
        if (tp)
            for (int j = 0; j < J; j++)
                for (int64_t k = 0; k < c; k++) tb[k * PL_TJ + j] = tp[(r + j) * c + k];
        acc += PL_NAME(tile_pick)(o, J, c, zb, PL_TJ, yv ? yv + r : NULL, tb,
                                  loss ? loss + r : NULL, g ? gb : NULL, hm);
        if (g)
            for (int j = 0; j < J; j++)
                for (int64_t k = 0; k < c; k++) g[(r + j) * c + k] = gb[k * PL_TJ + j];
    }
    return acc;
}

/* One work item: rows [r0, r1) of a contiguous (rows, C) input, or, for d > 1,
 * sample n's positions [j0, j1). */
static double PL_NAME(smx_item)(const PL_NAME(pl_smx) *o, int64_t c, int64_t d, const T *z,
                                const int64_t *yv, const T *tp, T *loss, T *g, int hm,
                                int64_t a0, int64_t a1, int64_t nidx)
{
    const int mode = o->mode;
    const int ww = o->weight != NULL;
    const int we = o->eps > 0;
    if (d == 1) {
        if (c < PL_NARROW)
            return PL_NAME(rows_narrow)(o, a0, a1, c, z, yv, tp, loss, g, hm);
#define PL_DISPATCH(MODE, WW, WE)                                                                  \
        if (mode == MODE && ww == WW && we == WE)                                                  \
            return PL_NAME(rows_contig)(o, a0, a1, c, z, yv, tp, loss, g, hm, MODE, WW, WE);
        PL_DISPATCH(PL_MODE_CLASS, 0, 0)
        PL_DISPATCH(PL_MODE_CLASS, 0, 1)
        PL_DISPATCH(PL_MODE_CLASS, 1, 0)
        PL_DISPATCH(PL_MODE_CLASS, 1, 1)
        PL_DISPATCH(PL_MODE_PROB, 0, 0)
        PL_DISPATCH(PL_MODE_PROB, 0, 1)
        PL_DISPATCH(PL_MODE_PROB, 1, 0)
        PL_DISPATCH(PL_MODE_PROB, 1, 1)
        PL_DISPATCH(PL_MODE_FOCAL, 0, 0)
#undef PL_DISPATCH
        return 0;
    }
    /* sample nidx, positions a0..a1 (a1 - a0 <= PL_TJ) */
    const int64_t base = nidx * c * d + a0;
    const int64_t ro = nidx * d + a0;
    return PL_NAME(tile_pick)(o, (int)(a1 - a0), c, z + base, d, yv ? yv + ro : NULL,
                              tp ? tp + base : NULL, loss ? loss + ro : NULL,
                              g ? g + base : NULL, hm);
}

/* Rows per work item for contiguous rows: fixed by C alone (never by the
 * thread count), so the block partials -- and the result -- are the same for
 * any number of threads. */
static inline int64_t PL_NAME(smx_rows_per_item)(int64_t c)
{
    int64_t r = PL_BLOCK / (c > 0 ? c : 1);
    r = r < 1 ? 1 : r;
    /* narrow rows go through whole tiles; wide ones keep one row per item
     * so that a few long rows still spread over the threads */
    return c < PL_NARROW ? ((r + PL_TJ - 1) / PL_TJ) * PL_TJ : r;
}

/* One smx_run call's arguments, for its work items (pl_sum_blocks). */
typedef struct {
    const PL_NAME(pl_smx) *o;
    int64_t n, c, d, per, tiles;
    const T *z, *tp;
    const int64_t *yv;
    T *loss, *g;
    int hm;
} PL_NAME(smx_job);

static double PL_NAME(smx_one)(void *vj, int64_t it)
{
    const PL_NAME(smx_job) *j = (const PL_NAME(smx_job) *)vj;
    if (j->d == 1) {
        int64_t r0 = it * j->per, r1 = r0 + j->per < j->n ? r0 + j->per : j->n;
        return PL_NAME(smx_item)(j->o, j->c, j->d, j->z, j->yv, j->tp, j->loss, j->g, j->hm, r0,
                                 r1, 0);
    }
    int64_t nn = it / j->tiles, t = it % j->tiles;
    int64_t a0 = t * PL_TJ, a1 = a0 + PL_TJ < j->d ? a0 + PL_TJ : j->d;
    return PL_NAME(smx_item)(j->o, j->c, j->d, j->z, j->yv, j->tp, j->loss, j->g, j->hm, a0, a1,
                             nn);
}

static double PL_NAME(smx_run)(const PL_NAME(pl_smx) *o, int64_t n, int64_t c, int64_t d,
                               const T *z, const int64_t *yv, const T *tp, T *loss, T *g, int hm,
                               int nthreads)
{
    const int64_t rows = n * d;
    if (rows == 0) return 0.0;
    if (c == 0) {
        /* no classes: log of an empty sum, as PyTorch (loss nan/-inf); nothing to write */
        double acc = 0;
        for (int64_t i = 0; i < rows; i++) {
            int64_t y = yv ? yv[i] : -1;
            T l = (o->mode == PL_MODE_PROB || (y != o->ignore)) ? (T)NAN : (T)0;
            if (loss) loss[i] = l;
            acc += (double)l;
        }
        return acc;
    }
    int64_t per, tiles, items;
    if (d == 1) {
        per = PL_NAME(smx_rows_per_item)(c);
        tiles = 0;
        items = (n + per - 1) / per;
    } else {
        per = PL_TJ;
        tiles = (d + PL_TJ - 1) / PL_TJ;
        items = n * tiles;
    }
    PL_NAME(smx_job) j;
    j.o = o; j.n = n; j.c = c; j.d = d; j.per = per; j.tiles = tiles;
    j.z = z; j.tp = tp; j.yv = yv; j.loss = loss; j.g = g; j.hm = hm;
    return pl_sum_blocks(items, pl_threads(rows * c, nthreads),
                         PL_NAME(smx_one), &j);
}

double PL_NAME(pl_cross_entropy)(int64_t n, int64_t c, int64_t d, const T *logits,
                                           const int64_t *target, const T *prob, const T *weight,
                                           int64_t ignore_index, double label_smoothing,
                                           double scale, T *loss, T *grad, T *hess, int nthreads)
{
    PL_NAME(pl_smx) o;
    o.mode = target ? PL_MODE_CLASS : PL_MODE_PROB;
    o.weight = weight;
    double W = 0;
    if (weight) for (int64_t k = 0; k < c; k++) W += (double)weight[k];
    else W = (double)c;
    o.W = (T)W;
    o.eps = (T)label_smoothing;
    o.scale = (T)scale;
    o.alpha = NULL;
    o.alpha0 = 1;
    o.gamma = 0;
    o.ignore = ignore_index;
    return PL_NAME(smx_run)(&o, n, c, d, logits, target, prob, loss, hess ? hess : grad,
                            hess != NULL, nthreads);
}

double PL_NAME(pl_softmax_focal)(int64_t n, int64_t c, int64_t d, const T *logits,
                                           const int64_t *target, const T *alpha, double alpha0,
                                           double gamma, int64_t ignore_index, double scale,
                                           T *loss, T *grad, int nthreads)
{
    PL_NAME(pl_smx) o;
    o.mode = PL_MODE_FOCAL;
    o.weight = NULL;
    o.W = 0;
    o.eps = 0;
    o.scale = (T)scale;
    o.alpha = alpha;
    o.alpha0 = (T)alpha0;
    o.gamma = (T)gamma;
    o.ignore = ignore_index;
    return PL_NAME(smx_run)(&o, n, c, d, logits, target, NULL, loss, grad, 0, nthreads);
}

/* Test kernels for tests/test_math.py: the vector math of common.h. */
void PL_NAME(pl_vexp)(int64_t n, const T *x, T *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = PL_EXP(x[i]);
}
void PL_NAME(pl_vlog)(int64_t n, const T *x, T *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = PL_LOG(x[i]);
}
void PL_NAME(pl_vlog1p_pos)(int64_t n, const T *x, T *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = PL_LOG1P_POS(x[i]);
}
