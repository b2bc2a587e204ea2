/*
 * rows.h -- the driver of the row kernels (embedding and generative
 * families): a loss per sample ("row") of several inputs.
 *
 * Rows are cut into blocks of a fixed number of rows that depends only on the
 * row length (about PL_BLOCK elements per block), each block returns the
 * double sum of its rows' losses, and block partials are combined pairwise in
 * super-chunks of PL_SUPER blocks, super-chunk totals added in order -- so the
 * result is bit-identical for any nthreads.  One OpenMP parallel region per
 * call; its threads split the blocks of each super-chunk (elementwise.h).
 */
#ifndef PL_ROWS_H
#define PL_ROWS_H

#include "common.h"
#include "elementwise.h"   /* PL_OMP_FOR, PL_SUPER */

static inline int64_t pl_rows_per_block(int64_t len)
{
    return len >= PL_BLOCK ? 1 : PL_BLOCK / (len > 0 ? len : 1);
}

/* Runs BLOCK_EXPR (which may use r0, r1: the block's row range) over every
 * block of N rows of LEN elements and adds the block values into TOTAL. */
#define PL_ROWS_RUN(N, LEN, NTHREADS, TOTAL, BLOCK_EXPR)                                       \
    do {                                                                                        \
        const int64_t rb_ = pl_rows_per_block(LEN);                                             \
        const int64_t nb_ = ((N) + rb_ - 1) / rb_;                                               \
        const int par_ = pl_use_threads((N) * ((LEN) > 0 ? (LEN) : 1), NTHREADS);               \
        double part_[PL_SUPER];                                                                 \
        (void)par_;                                                                             \
        PL_OMP_PARALLEL(par_, NTHREADS)                                                         \
        for (int64_t b0_ = 0; b0_ < nb_; b0_ += PL_SUPER) {                                     \
            const int64_t bn_ = nb_ - b0_ < PL_SUPER ? nb_ - b0_ : PL_SUPER;                    \
            PL_OMP_FOR_IN                                                                       \
            for (int64_t b_ = 0; b_ < bn_; b_++) {                                              \
                const int64_t r0 = (b0_ + b_) * rb_;                                            \
                const int64_t r1 = (N) - r0 < rb_ ? (N) : r0 + rb_;                             \
                part_[b_] = (BLOCK_EXPR);                                                       \
            }                                                                                   \
            PL_OMP_SINGLE                                                                       \
            (TOTAL) += pl_pairwise(part_, bn_);                                                 \
        }                                                                                       \
    } while (0)

#endif /* PL_ROWS_H */
