/* combination.c -- focal_smooth_l1 (dice_bce is compiled in segmentation.c). */
/* Without -fno-trapping-math GCC will not if-convert the selects of
 * pl_expf/pl_logf, so no loop calling them vectorises.  It changes no IEEE
 * result (NaN/Inf propagate as before), only the FP exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "pyloss.h"
#include "elementwise.h"
#include "seg_region.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "combination_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "combination_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
