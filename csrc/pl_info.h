/* pl_info.h -- build facts, for `pyloss info` and pl.backends(). */
int pl_have_openmp(void);
int pl_max_threads(void);
int pl_have_clones(void);
/* Worker threads pyloss's own pool (pool.c) has started so far, -1 where
 * the build has none (no OpenMP, or no POSIX threads: OpenMP's loop). */
int pl_pool_workers(void);
/* The per-CPU build in use: 0 baseline, 1 x86-64-v3, 2 x86-64-v4 (always 0 in
 * a one-body build).  pl_set_isa(level) switches (level -1: the best this CPU
 * runs) and returns the level now in use, or -1, changing nothing, when the
 * CPU cannot run that level.  Not thread-safe: for start-up and tests. */
int pl_isa(void);
int pl_isa_max(void);   /* the best level this CPU runs in this build */
int pl_set_isa(int level);
