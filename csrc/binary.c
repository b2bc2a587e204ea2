/* binary.c -- binary_cross_entropy, binary_cross_entropy_with_logits and
 * sigmoid_focal (declared in classification.h).  The bodies are in
 * binary_impl.h, once per dtype. */
#include "pyloss.h"
#include "elementwise.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "binary_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "binary_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
