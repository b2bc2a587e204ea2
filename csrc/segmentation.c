/* segmentation.c -- dice, iou, the region losses and dice_bce (the driver is
 * seg_region_impl.h). */
/* Without -fno-trapping-math GCC will not if-convert the selects of
 * pl_expf/pl_logf, so no loop calling them vectorises.  It changes no IEEE
 * result (NaN/Inf propagate as before), only the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "pyloss.h"
#include "seg_region.h"

int64_t pl_seg_work(int64_t n, int64_t c, int64_t s, int nthreads)
{
    return pl_seg_work_size(n, c, s, nthreads);
}

#define PL_DOUBLE 0
#include "pl_type.h"
#include "segmentation_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "segmentation_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
