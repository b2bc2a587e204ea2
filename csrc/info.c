#include "pyloss.h"
#include "common.h"

int pl_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int pl_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

int pl_have_clones(void)
{
    return PL_HAVE_CLONES;
}
