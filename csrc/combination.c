/* combination.c -- dice_bce and focal_smooth_l1. */
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
