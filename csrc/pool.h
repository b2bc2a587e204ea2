/*
 * pool.h -- pyloss's own worker threads, for every kernel's parallel loop
 * (elementwise.h, rows.h, classification, the region engine, boxes,
 * focal_smooth_l1, the metric row passes, lovasz_softmax).
 *
 *     double pl_sum_blocks(int64_t nb, int nthreads, pl_block_fn fn, void *ctx)
 *
 * computes part[b] = fn(ctx, b) for every block b in [0, nb), each exactly
 * once, and returns the sum of the partials combined as every kernel combines
 * them (common.h): pairwise within super-chunks of PL_SUPER blocks, super-chunk
 * totals added in order.  Which thread computes a block never changes a bit
 * of the result, so it is the same for any nthreads.
 *
 * Why not an OpenMP loop: a static OpenMP loop gives each thread a fixed share
 * and the caller waits at the region's join barrier for all of them.  On a
 * busy machine (another process on the other cores, the usual case next to a
 * data loader or a second job) a worker the OS has not scheduled yet holds
 * its share hostage: a 0.2 ms call took 15 ms at the 90th percentile.  Here
 * the caller and the workers claim blocks from one atomic counter, a few
 * blocks at a time; a worker that is not running claims nothing, the caller
 * computes what is left, and it waits only for blocks already claimed
 * (a worker preempted in the middle of a claim, which is short).
 *
 * Compiled once (pool.c; not a kernel, not per CPU).  POSIX threads where the
 * build has OpenMP (so PYLOSS_NO_OPENMP=1 still builds single-threaded
 * kernels); OpenMP's dynamic loop where there are no POSIX threads (MSVC).
 * Calls from several Python threads at once are safe: one call at a time uses
 * the workers, a call that finds them busy computes its blocks alone.
 */
#ifndef PL_POOL_H
#define PL_POOL_H

#include <stdint.h>

#define PL_SUPER 1024   /* blocks per super-chunk of the deterministic sum */

typedef double (*pl_block_fn)(void *ctx, int64_t b);

double pl_sum_blocks(int64_t nb, int nthreads, pl_block_fn fn, void *ctx);

/* part[b] = fn(ctx, b) for every b in [0, nb), on the same threads, for a
 * driver that combines the partials its own way (boxes_impl.h); part NULL:
 * fn's values are dropped (a loop whose blocks write their own results:
 * seg_region_impl.h). */
void pl_run_blocks(int64_t nb, int nthreads, pl_block_fn fn, void *ctx, double *part);

/* Inside a block function: which of the call's threads runs it, 0 (the
 * caller) .. nthreads - 1, for per-thread scratch space. */
int pl_pool_tid(void);

#endif /* PL_POOL_H */
