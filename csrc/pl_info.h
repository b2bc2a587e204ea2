/* pl_info.h -- build facts, for `pyloss info` and pl.backends(). */
int pl_have_openmp(void);
int pl_max_threads(void);
int pl_have_clones(void);
