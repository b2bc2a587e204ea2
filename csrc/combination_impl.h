/* combination_impl.h -- focal_smooth_l1, once per dtype.  dice_bce's body
 * is in segmentation_impl.h: it is the region engine with the BCE terms on,
 * and a second copy of that engine here doubled this unit's compile time
 * (seg_region_impl.h is included for pl_seg_rowsum only; GCC and Clang drop
 * the unused static functions before optimising them). */
#include "seg_region_impl.h"

/* torchvision sigmoid_focal_loss at one element and its derivative.
 * q = 1 - p_t = p (1 - t) + (1 - p) t with p and 1 - p each from e^-|x|
 * (no cancellation).  d q^g / dx = -g (2t - 1) r q^g with r = p (1-p) / q,
 * which lies in [0, 2] for t in [0, 1], so nothing overflows as q -> 0 even
 * for g < 1; at q = 0 the term's limit is 0.  For g = 1, 2 r q^g is the
 * product p (1-p) q^(g-1), no division.  gm: 0 g = 0, 1 g = 1, 2 g = 2
 * (multiplies), 3 any other g (exp(g log q)). */
PL_INLINE void PL_NAME(pl_focal_point)(T x, T t, T alpha, T gamma, const int gm, const int use_alpha,
                                       T *l, T *g)
{
    T e = PL_EXP(-PL_FABS(x));
    T v = (T)1 + e;
    T inv = (T)1 / v;
    T p = x >= 0 ? inv : e * inv;
    T pm = x >= 0 ? e * inv : inv;
    /* log1p(e) reusing 1/(1+e) instead of a division */
    T lp = PL_LOG1P_UNIT(e, inv);
    T ce = (x > 0 ? x : (T)0) - x * t + lp;
    T q = p * ((T)1 - t) + pm * t;
    /* qg = q^gamma; w = p (1-p) q^(gamma-1) = r q^gamma */
    T qg, w;
    if (gm == 0) {
        qg = (T)1;
        w = (T)0;
    } else if (gm == 1) {
        qg = q;
        w = p * pm;
    } else if (gm == 2) {
        qg = q * q;
        w = p * pm * q;
    } else {
        qg = PL_EXP(gamma * PL_LOG(q)); /* q = 0: log -inf, exp 0 */
        qg = q > 0 ? qg : (T)0;
        w = q > 0 ? p * pm / (q > 0 ? q : (T)1) * qg : (T)0;
    }
    T at = use_alpha ? alpha * t + ((T)1 - alpha) * ((T)1 - t) : (T)1;
    *l = at * ce * qg;
    *g = at * (qg * (p - t) - gamma * ce * ((T)2 * t - (T)1) * w);
}

/* Focal terms of a flat run of elements into l (and the scaled gradient
 * into g): a straight elementwise loop that vectorises. */
PL_INLINE void PL_NAME(pl_fsl_run)(int64_t n, const T *x, const T *t, T alpha, T gamma, T sc,
                                   T *restrict l, T *g, const int gm, const int use_alpha,
                                   const int wg)
{
    for (int64_t j = 0; j < n; j++) {
        T lj, gj;
        PL_NAME(pl_focal_point)(x[j], t[j], alpha, gamma, gm, use_alpha, &lj, &gj);
        l[j] = lj;
        if (wg) g[j] = sc * gj;
    }
}

/* One block of anchors [a0, a0 + na) (na * K <= PL_BLOCK unless na = 1):
 * returns the sum of the per-anchor terms (double), adds the block's
 * positive count to *npos.  The focal terms are computed over the block's
 * flat range in pieces of PL_BLOCK elements, then summed per row in a fixed
 * order.  gcls/gbox may alias their inputs (read before written). */
PL_INLINE double PL_NAME(pl_fsl_block)(int64_t a0, int64_t na, int64_t K, int64_t D, const T *x,
                                       const T *t, const T *bp, const T *bt, T alpha, T gamma,
                                       T beta, T inv_beta, T sc, T *loss, T *gcls, T *gbox,
                                       int64_t *npos, const int gm, const int use_alpha)
{
    T lbuf[PL_BLOCK];
    double rows[PL_BLOCK];
    int pos[PL_BLOCK];
    const int64_t nr = na < PL_BLOCK ? na : PL_BLOCK;   /* na <= PL_BLOCK by construction */
    for (int64_t i = 0; i < nr; i++) {
        const T *tr = t + (a0 + i) * K;
        int p = 0;
        for (int64_t j = 0; j < K; j++) p |= tr[j] > 0;
        pos[i] = p;
        rows[i] = 0.0;
    }
    const int64_t f0 = a0 * K, f1 = (a0 + na) * K;
    for (int64_t p0 = f0; p0 < f1; p0 += PL_BLOCK) {
        const int64_t p1 = f1 - p0 < PL_BLOCK ? f1 : p0 + PL_BLOCK;
        if (gcls)
            PL_NAME(pl_fsl_run)(p1 - p0, x + p0, t + p0, alpha, gamma, sc, lbuf, gcls + p0, gm,
                                use_alpha, 1);
        else
            PL_NAME(pl_fsl_run)(p1 - p0, x + p0, t + p0, alpha, gamma, sc, lbuf, NULL, gm,
                                use_alpha, 0);
        for (int64_t j = p0; j < p1;) {
            const int64_t a = j / K;
            const int64_t e = (a + 1) * K < p1 ? (a + 1) * K : p1;
            rows[a - a0] += PL_NAME(pl_seg_rowsum)(lbuf + (j - p0), e - j);
            j = e;
        }
    }
    double total = 0.0;
    int64_t np_ = 0;
    for (int64_t i = 0; i < nr; i++) {
        const int64_t a = a0 + i;
        const T *pr = bp + a * D, *qr = bt + a * D;
        T *gb = gbox ? gbox + a * D : NULL;
        double box = 0.0;
        for (int64_t d = 0; d < D; d++) {
            T r = pr[d] - qr[d];
            T ar = PL_FABS(r);
            T sgn = r > 0 ? (T)1 : (r < 0 ? (T)-1 : r * (T)0);
            int in = ar < beta;
            T l = in ? (T)0.5 * r * r * inv_beta : ar - (T)0.5 * beta;
            T g = in ? r * inv_beta : sgn;
            if (pos[i]) box += (double)l;
            if (gb) gb[d] = pos[i] ? sc * g : (T)0;
        }
        double row = rows[i] + box;
        np_ += pos[i];
        if (loss) loss[a] = (T)row;
        total += row;
    }
    *npos += np_;
    return total;
}

static double PL_NAME(pl_fsl_blkd)(int64_t a0, int64_t na, int64_t K, int64_t D,
                                             const T *x, const T *t, const T *bp, const T *bt,
                                             T alpha, T gamma, T beta, T inv_beta, T sc, T *loss,
                                             T *gcls, T *gbox, int64_t *npos)
{
#define PL_FSL(GM, UA)                                                                          \
    return PL_NAME(pl_fsl_block)(a0, na, K, D, x, t, bp, bt, alpha, gamma, beta, inv_beta, sc,   \
                                 loss, gcls, gbox, npos, GM, UA)
    const int ua = alpha >= 0;
    if (gamma == 2) { if (ua) PL_FSL(2, 1); else PL_FSL(2, 0); }
    if (gamma == 0) { if (ua) PL_FSL(0, 1); else PL_FSL(0, 0); }
    if (gamma == 1) { if (ua) PL_FSL(1, 1); else PL_FSL(1, 0); }
    if (ua) PL_FSL(3, 1);
    PL_FSL(3, 0);
#undef PL_FSL
}

static int64_t PL_NAME(pl_fsl_count)(int64_t a0, int64_t na, int64_t K, const T *t)
{
    int64_t np_ = 0;
    for (int64_t a = a0; a < a0 + na; a++) {
        const T *tr = t + a * K;
        int pos = 0;
        for (int64_t j = 0; j < K; j++) pos |= tr[j] > 0;
        np_ += pos;
    }
    return np_;
}

typedef struct {
    int64_t a, k, d, rb, first;   /* first: the block that fsl_one's b = 0 is */
    const T *x, *t, *bp, *bt;
    T alpha, gamma, beta, inv_beta, sc;
    T *loss, *g_cls, *g_box;
    int64_t *cnts;                /* positives per block, from `first` on */
} PL_NAME(fsl_job);

static double PL_NAME(fsl_count_one)(void *vj, int64_t b)
{
    const PL_NAME(fsl_job) *j = (const PL_NAME(fsl_job) *)vj;
    const int64_t a0 = b * j->rb;
    return (double)PL_NAME(pl_fsl_count)(a0, j->a - a0 < j->rb ? j->a - a0 : j->rb, j->k, j->t);
}

static double PL_NAME(fsl_one)(void *vj, int64_t b)
{
    const PL_NAME(fsl_job) *j = (const PL_NAME(fsl_job) *)vj;
    const int64_t a0 = (j->first + b) * j->rb;
    j->cnts[b] = 0;
    return PL_NAME(pl_fsl_blkd)(a0, j->a - a0 < j->rb ? j->a - a0 : j->rb, j->k, j->d, j->x, j->t,
                                j->bp, j->bt, j->alpha, j->gamma, j->beta, j->inv_beta, j->sc,
                                j->loss, j->g_cls, j->g_box, &j->cnts[b]);
}

double PL_NAME(pl_focal_smooth_l1)(int64_t a, int64_t k, int64_t d, const T *cls_logits,
                                             const T *cls_target, const T *box_pred,
                                             const T *box_target, double alpha, double gamma,
                                             double beta, int normalize, T *loss, T *g_cls,
                                             T *g_box, int64_t *num_pos, int nthreads)
{
    const int64_t width = k + d > 0 ? k + d : 1;
    const int64_t rb = width >= PL_BLOCK ? 1 : PL_BLOCK / width;
    const int64_t nb = (a + rb - 1) / rb;
    const int nt = pl_threads(a * width, nthreads);
    int64_t cnts[PL_SUPER];
    PL_NAME(fsl_job) j = {a, k, d, rb, 0, cls_logits, cls_target, box_pred, box_target,
                          (T)alpha, (T)gamma, (T)beta, beta > 0 ? (T)(1.0 / beta) : (T)0, (T)1,
                          loss, g_cls, g_box, cnts};
    double sc = 1.0;
    if (normalize && (g_cls || g_box)) {
        /* the gradient carries 1 / max(1, positives): count them first (block
         * counts add exactly in double far beyond any array) */
        const double cnt = pl_sum_blocks(nb, nt, PL_NAME(fsl_count_one), &j);
        sc = 1.0 / (cnt > 1 ? cnt : 1.0);
    }
    j.sc = (T)sc;
    /* one super-chunk of blocks at a time (its counts fit on the stack); the
     * super-chunk totals are added in order, as pl_sum_blocks adds them */
    double total = 0.0;
    int64_t npos = 0;
    for (int64_t b0 = 0; b0 < nb; b0 += PL_SUPER) {
        const int64_t bn = nb - b0 < PL_SUPER ? nb - b0 : PL_SUPER;
        j.first = b0;
        total += pl_sum_blocks(bn, nt, PL_NAME(fsl_one), &j);
        for (int64_t b = 0; b < bn; b++) npos += cnts[b];
    }
    *num_pos = npos;
    return total;
}
