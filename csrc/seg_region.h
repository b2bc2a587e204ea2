/*
 * seg_region.h -- the dtype-independent half of the region-overlap driver
 * shared by dice, iou (segmentation.c) and dice_bce (combination.c).
 *
 * The work of one call is cut into tasks (sample n, spatial block b) of
 * SB positions; SB, the chunk of samples handled between the two passes and
 * the window of tasks whose partial sums are held at once depend only on the
 * shape, never on the thread count, so results are bit-identical for any
 * nthreads.
 */
#ifndef PL_SEG_REGION_H
#define PL_SEG_REGION_H

#include "common.h"

#define PL_SEG_ACT_NONE 0
#define PL_SEG_ACT_SIGMOID 1
#define PL_SEG_ACT_SOFTMAX 2

#define PL_SEG_DICE 0
#define PL_SEG_DICE_SQ 1
#define PL_SEG_IOU 2
#define PL_SEG_TVERSKY 3
#define PL_SEG_GDL 4

/* generalized Dice weight types */
#define PL_SEG_W_SQUARE 0
#define PL_SEG_W_SIMPLE 1
#define PL_SEG_W_UNIFORM 2

/* flags of pl_region (segmentation.h) */
#define PL_SEG_F_IGNORE 1   /* labels < 0 are ignored pixels */
#define PL_SEG_F_NOBG 2     /* class 0 left out of the class mean */
#define PL_SEG_F_BATCH 4    /* one ratio per class over the whole batch */

/* Spatial positions per task: the softmax scratch (C+3)*SB values stays in
 * L1/L2 for small C; a multiple of 8 (the accumulator lanes). */
static inline int64_t pl_seg_sb(int64_t c)
{
    int64_t sb = c > 0 ? 8192 / c : 1024;
    sb = sb > 1024 ? 1024 : sb;
    sb = sb < 64 ? 64 : sb;
    return sb & ~(int64_t)7;
}

/* Samples per chunk: both passes over a chunk run before the next chunk, so
 * the gradient pass finds the chunk's inputs still in cache. */
static inline int64_t pl_seg_chunk(int64_t n, int64_t c, int64_t s)
{
    int64_t per = c * s;
    int64_t cn = per > 0 ? (65536 + per - 1) / per : n;
    cn = cn < 1 ? 1 : cn;
    return cn > n ? n : cn;
}

/* Tasks whose (C x 4) partials are held at once. */
static inline int64_t pl_seg_window(int64_t c)
{
    int64_t w = c > 0 ? 65536 / c : 1024;
    w = w > 1024 ? 1024 : w;
    return w < 16 ? 16 : w;
}

/* Generalized Dice weight of class sum Tt (before the infinite ones are
 * replaced). */
static inline double pl_seg_gdl_w(double Tt, int wtype)
{
    if (wtype == PL_SEG_W_UNIFORM) return 1.0;
    return wtype == PL_SEG_W_SIMPLE ? 1.0 / Tt : 1.0 / (Tt * Tt);
}

/* The region options of pl_seg_t left at their defaults (dice_bce). */
#define PL_SEG_NO_OPTS 0, 0, 0, 0, 0.0, 0.0, 0.0, 0

static inline int64_t pl_seg_nblocks(int64_t s, int64_t sb) { return (s + sb - 1) / sb; }

/* Pairwise sum of x[0], x[stride], ..., always split at the same place. */
static inline double pl_seg_pairwise_strided(const double *x, int64_t n, int64_t stride)
{
    if (n <= 8) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += x[i * stride];
        return s;
    }
    int64_t h = n / 2;
    return pl_seg_pairwise_strided(x, h, stride) + pl_seg_pairwise_strided(x + h * stride, n - h, stride);
}

/* Size in doubles of the work buffer a region kernel needs. */
static inline int64_t pl_seg_work_size(int64_t n, int64_t c, int64_t s, int nthreads)
{
    int64_t sb = pl_seg_sb(c);
    int64_t cn = pl_seg_chunk(n, c, s);
    int64_t w = pl_seg_window(c);
    int64_t nt = nthreads < 1 ? 1 : nthreads;
    /* + c * 4: the batch sums of PL_SEG_F_BATCH */
    return w * c * 4 + 2 * cn * c * 4 + nt * (c + 3) * sb + c * 4 + 8;
}

#endif /* PL_SEG_REGION_H */
