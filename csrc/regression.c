/* regression.c -- mse, mae, huber, smooth_l1, log_cosh, quantile, pseudo_huber, fair, expectile. */
#include "pyloss.h"
#include "elementwise.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "regression_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "regression_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
