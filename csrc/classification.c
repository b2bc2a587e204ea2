/* classification.c -- cross_entropy and softmax_focal (and the vector-math
 * test kernels); the binary ones are in binary.c.  The bodies are in
 * classification_impl.h, once per dtype. */
#include "pyloss.h"
#include "elementwise.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "classification_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "classification_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
