/* classification.c -- cross_entropy, softmax_focal, binary_cross_entropy,
 * binary_cross_entropy_with_logits, sigmoid_focal (and the vector-math test
 * kernels).  The bodies are in classification_impl.h, once per dtype. */
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
