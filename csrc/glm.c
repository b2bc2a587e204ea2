/* glm.c -- poisson, gamma, tweedie, exponential (log-link GLM / boosting losses). */
#include "pyloss.h"
#include "elementwise.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "glm_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "glm_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
