/* metric.c -- fused row passes of the metric-learning family (metric.h). */
#include <stdlib.h>

#include "pyloss.h"
#include "rows.h"

/* Ascending doubles for qsort; no NaN reaches it (NaN rows are skipped). */
static int pl_metric_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Number of entries of the ascending v[0..n) that are < x (lower bound). */
static inline int64_t pl_metric_below(const double *v, int64_t n, double x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Number of entries of the ascending v[0..n) that are <= x (upper bound). */
static inline int64_t pl_metric_upto(const double *v, int64_t n, double x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#define PL_DOUBLE 0
#include "pl_type.h"
#include "metric_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "metric_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
