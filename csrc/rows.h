/*
 * rows.h -- the driver of the row kernels (embedding and generative
 * families): a loss per sample ("row") of several inputs.
 *
 * Rows are cut into blocks of a fixed number of rows that depends only on the
 * row length (about PL_BLOCK elements per block), each block returns the
 * double sum of its rows' losses, and block partials are combined pairwise in
 * super-chunks of PL_SUPER blocks, super-chunk totals added in order -- so the
 * result is bit-identical for any nthreads.  The blocks go to pyloss's worker
 * threads (pool.h: pl_sum_blocks).
 */
#ifndef PL_ROWS_H
#define PL_ROWS_H

#include "common.h"

static inline int64_t pl_rows_per_block(int64_t len)
{
    return len >= PL_BLOCK ? 1 : PL_BLOCK / (len > 0 ? len : 1);
}

/* One row kernel call, for its blocks (pl_sum_blocks): the rows, their
 * length, and the kernel's arrays and options in generic slots that the
 * kernel's block function (pl_block_fn) reads back in its own order. */
typedef struct {
    int64_t n, len, rb;   /* rows, elements per row, rows per block */
    const void *in[4];    /* inputs */
    void *out[4];         /* outputs (NULL when not asked for) */
    double s[4];          /* scalar options */
    int64_t k[2];         /* sizes */
    int f[4];             /* flags */
} pl_rows_job;

/* Block b's rows [*r0, *r1). */
static inline void pl_rows_range(const pl_rows_job *j, int64_t b, int64_t *r0, int64_t *r1)
{
    *r0 = b * j->rb;
    *r1 = j->n - *r0 < j->rb ? j->n : *r0 + j->rb;
}

/* The sum of fn over every block of j's rows (fn(j, b) returns block b's
 * value), combined as every kernel combines its blocks. */
static inline double pl_rows_sum(pl_rows_job *j, int nthreads, pl_block_fn fn)
{
    j->rb = pl_rows_per_block(j->len);
    const int64_t nb = (j->n + j->rb - 1) / j->rb;
    return pl_sum_blocks(nb, pl_threads(j->n * (j->len > 0 ? j->len : 1), nthreads), fn, j);
}

/* A loop over independent items (rows of an N x N matrix, tiles) that each
 * write their own outputs: fn(a, i) for every i in [0, m), `per` items per
 * block of pl_run_blocks (metric_impl.h). */
typedef void (*pl_item_fn)(const void *a, int64_t i);

typedef struct {
    pl_item_fn fn;
    const void *a;
    int64_t m, per;
} pl_items_job;

static inline double pl_items_one(void *vj, int64_t b)
{
    const pl_items_job *j = (const pl_items_job *)vj;
    const int64_t i1 = j->m - b * j->per < j->per ? j->m : (b + 1) * j->per;
    for (int64_t i = b * j->per; i < i1; i++) j->fn(j->a, i);
    return 0.0;
}

/* nt: the kernel's pl_threads (its own measure of the work) */
static inline void pl_for_items(int64_t m, int64_t per, int nt, pl_item_fn fn, const void *a)
{
    pl_items_job j;
    j.fn = fn;
    j.a = a;
    j.m = m;
    j.per = per > 0 ? per : 1;
    pl_run_blocks((m + j.per - 1) / j.per, nt, pl_items_one, &j, NULL);
}

#endif /* PL_ROWS_H */
