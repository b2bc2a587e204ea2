/*
 * elementwise.h -- the one driver behind every elementwise loss kernel.
 *
 * A family impl file writes, per loss, a point function
 *
 *     PL_INLINE void PL_NAME(<name>_point)(T p, T t, T a, T p0, T p1,
 *                                          T *l, T *g, T *h)
 *
 * (per-element loss l, dl/dp g, d2l/dp2 h; a is the optional per-element
 * auxiliary input, p0/p1 the loss's scalar options) and then invokes
 * PL_EW_KERNEL(<name>).  That defines the exported
 *
 *     double pl_<name>_<f32|f64>(int64_t n, const T *pred, const T *target,
 *         const T *weight, const T *aux, double p0, double p1, double scale,
 *         T *loss, T *grad, T *hess, int nthreads)
 *
 * which returns sum_i w_i l_i (accumulated in double, blocked, combined in a
 * fixed order) and, for each non-NULL output, writes loss_i = w_i l_i,
 * grad_i = scale w_i g_i, hess_i = scale w_i h_i.  weight/aux may be NULL.
 * Outputs may alias pred or target: element i is read before it is written
 * and nothing else reads it, so no restrict qualifiers are used.
 *
 * Each output goes to the caller's array or to a local chunk, so one loop
 * serves value, loss and gradient calls alike; the Hessian and the weights are
 * compile-time cases (four straight, vectorisable loops per loss and dtype),
 * an auxiliary input takes a generic path.  Only kernels defined with
 * PL_EW_KERNEL_AUX (their point function reads a: binary_cross_entropy_with_logits'
 * pos_weight, quantile's levels) compile that path; the others ignore aux (their
 * point functions do not read it), which saves a fifth loop per loss and dtype
 * that no call used.
 */
#ifndef PL_ELEMENTWISE_H
#define PL_ELEMENTWISE_H

#include "common.h"

#define PL_EW_V 1
#define PL_EW_L 2
#define PL_EW_G 4
#define PL_EW_H 8

#define PL_EW_CH 512           /* elements per inner chunk (multiple of PL_LANES) */

#define PL_EW_BLOCK(NAME, AUX)                                                                  \
    PL_INLINE double PL_NAME(NAME##_blk)(int64_t n, const T *pred, const T *target,              \
                                         const T *weight, const T *aux, T p0, T p1, T scale,    \
                                         T *loss, T *grad, T *hess, const int m, const int ww,   \
                                         const int wa)                                          \
    {                                                                                           \
        double acc[PL_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};                                        \
        T lbuf[PL_EW_CH], gbuf[PL_EW_CH], hbuf[PL_EW_CH];                                       \
        for (int64_t c0 = 0; c0 < n; c0 += PL_EW_CH) {                                          \
            const int64_t cn = n - c0 < PL_EW_CH ? n - c0 : PL_EW_CH;                           \
            const T *pp = pred + c0, *tt = target + c0;                                         \
            const T *wp = ww ? weight + c0 : NULL, *ap = wa ? aux + c0 : NULL;                  \
            /* every output goes to the caller's array or to a local chunk: one loop     \
             * for all of them, the same instructions whatever is asked for */            \
            T *lo = (m & PL_EW_L) ? loss + c0 : lbuf;                                           \
            T *go = (m & PL_EW_G) ? grad + c0 : gbuf;                                           \
            T *ho = (m & PL_EW_H) ? hess + c0 : hbuf;                                           \
            for (int64_t k = 0; k < cn; k++) {                                                  \
                T l, g, h;                                                                      \
                PL_NAME(NAME##_point)(pp[k], tt[k], wa ? ap[k] : (T)0, p0, p1, &l, &g, &h);     \
                T w = ww ? wp[k] : (T)1;                                                        \
                lo[k] = w * l;                                                                  \
                go[k] = (scale * w) * g;                                                        \
                if (m & PL_EW_H) ho[k] = (scale * w) * h;                                       \
            }                                                                                   \
            if (m & PL_EW_V) {                                                                  \
                int64_t k = 0;                                                                  \
                for (; k + PL_LANES <= cn; k += PL_LANES)                                       \
                    for (int j = 0; j < PL_LANES; j++) acc[j] += (double)lo[k + j];             \
                for (int j = 0; k < cn; k++, j++) acc[j] += (double)lo[k];                      \
            }                                                                                   \
        }                                                                                       \
        return pl_lanes_sum(acc);                                                               \
    }                                                                                           \
    static double PL_NAME(NAME##_blkd)(int64_t n, const T *pred, const T *target,      \
                                       const T *weight, const T *aux, T p0, T p1, T scale,      \
                                       T *loss, T *grad, T *hess, int m, int wa)                \
    {                                                                                           \
        const int ww = weight != NULL;                                                          \
        const int wx = (AUX) && wa;                                                             \
        /* the loss and the gradient are always computed and stored (to a local     \
         * chunk when not asked for), so value() is bit-identical to                \
         * value_and_grad()'s value even though FMA contraction                     \
         * (-ffp-contract=fast) is free to fuse differently in code that differs;   \
         * only the Hessian and the weights are compile-time cases: straight loops */  \
        switch (((m & PL_EW_H) ? 1 : 0) | (ww << 1) | (wx << 2)) {                              \
        PL_EW_CASE(NAME, 0, 0)                                                                  \
        PL_EW_CASE(NAME, 0, 1)                                                                  \
        PL_EW_CASE(NAME, 1, 0)                                                                  \
        PL_EW_CASE(NAME, 1, 1)                                                                  \
        default: /* an auxiliary input (AUX kernels only): one body with run-time flags */      \
            return (AUX) ? PL_NAME(NAME##_blk)(n, pred, target, weight, aux, p0, p1, scale,      \
                                               loss, grad, hess, m, ww, wa) : 0.0;               \
        }                                                                                       \
    }

#define PL_EW_CASE(NAME, H, WW)                                                                 \
    case (H) | ((WW) << 1):                                                                     \
        return PL_NAME(NAME##_blk)(n, pred, target, weight, aux, p0, p1, scale, loss, grad,     \
                                   hess, (m & (PL_EW_V | PL_EW_L | PL_EW_G)) | ((H) ? PL_EW_H : 0), \
                                   WW, 0);

/* The exported kernel: blocks of PL_BLOCK elements, computed by the caller
 * and pyloss's worker threads (pool.h: pl_sum_blocks), partials combined in a
 * fixed order, so the result does not depend on nthreads. */
typedef struct {
    int64_t n;
    const void *pred, *target, *weight, *aux;
    double p0, p1, scale;
    void *loss, *grad, *hess;
    int m, wa;
} pl_ew_ctx;

/* PL_EW_INTERNAL: the same kernel with internal linkage, for one that only a
 * dispatcher in its unit calls (a unit's global names are exactly those its
 * header declares: csrc/build.py renames them per CPU build).
 * PL_EW_KERNEL_SPLIT(NAME, ALT, SEL): NAME's kernel whose blocks run ALT's
 * point function where SEL(len, target of the block) is true: a cheaper form
 * of the same loss for those targets, which must give the same bits (BCE on
 * hard 0/1 labels takes one log, not two).  The choice is per block, so it
 * does not depend on the thread count. */
#define PL_EW_KERNEL(NAME) PL_EW_KERNEL_AS(NAME, , 0)
#define PL_EW_INTERNAL(NAME) PL_EW_KERNEL_AS(NAME, static, 0)
#define PL_EW_KERNEL_AUX(NAME) PL_EW_KERNEL_AS(NAME, , 1)
#define PL_EW_KERNEL_AS(NAME, STORAGE, AUX)                                                     \
    PL_EW_BLOCK(NAME, AUX)                                                                      \
    static double PL_NAME(NAME##_one)(void *vc, int64_t b)                                      \
    {                                                                                           \
        PL_EW_ONE_ARGS;                                                                         \
        return PL_EW_CALL(NAME);                                                                \
    }                                                                                           \
    PL_EW_EXPORT(NAME, STORAGE)
#define PL_EW_KERNEL_SPLIT(NAME, ALT, SEL)                                                      \
    PL_EW_BLOCK(NAME, 0)                                                                        \
    PL_EW_BLOCK(ALT, 0)                                                                         \
    static double PL_NAME(NAME##_one)(void *vc, int64_t b)                                      \
    {                                                                                           \
        PL_EW_ONE_ARGS;                                                                         \
        return SEL(len, (const T *)c->target + s) ? PL_EW_CALL(ALT) : PL_EW_CALL(NAME);         \
    }                                                                                           \
    PL_EW_EXPORT(NAME, )
/* The locals of a block's call (block b of the context vc) and the call. */
#define PL_EW_ONE_ARGS                                                                          \
    const pl_ew_ctx *c = (const pl_ew_ctx *)vc;                                                 \
    const int64_t s = b * PL_BLOCK;                                                             \
    const int64_t len = c->n - s < PL_BLOCK ? c->n - s : PL_BLOCK;                              \
    const T *weight = (const T *)c->weight, *aux = (const T *)c->aux;                           \
    T *loss = (T *)c->loss, *grad = (T *)c->grad, *hess = (T *)c->hess
#define PL_EW_CALL(NAME)                                                                        \
    PL_NAME(NAME##_blkd)(len, (const T *)c->pred + s, (const T *)c->target + s,                 \
                         weight ? weight + s : NULL, aux ? aux + s : NULL, (T)c->p0, (T)c->p1,  \
                         (T)c->scale, loss ? loss + s : NULL, grad ? grad + s : NULL,           \
                         hess ? hess + s : NULL, c->m, c->wa)
#define PL_EW_EXPORT(NAME, STORAGE)                                                             \
    STORAGE double PL_NAME(pl_##NAME)(int64_t n, const T *pred, const T *target,               \
                                        const T *weight, const T *aux, double p0, double p1,    \
                                        double scale, T *loss, T *grad, T *hess, int nthreads)  \
    {                                                                                           \
        pl_ew_ctx c;                                                                            \
        c.n = n; c.pred = pred; c.target = target; c.weight = weight; c.aux = aux;              \
        c.p0 = p0; c.p1 = p1; c.scale = scale; c.loss = loss; c.grad = grad; c.hess = hess;     \
        c.m = (loss ? PL_EW_L : PL_EW_V) | (grad ? PL_EW_G : 0) | (hess ? PL_EW_H : 0);         \
        c.wa = aux != NULL;                                                                     \
        return pl_sum_blocks(pl_nblocks(n), pl_threads(n, nthreads),                            \
                             PL_NAME(NAME##_one), &c);                                          \
    }

#endif /* PL_ELEMENTWISE_H */
