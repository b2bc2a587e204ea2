/* segmentation.c -- dice and iou (the driver is seg_region_impl.h). */
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
