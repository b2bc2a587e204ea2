/* generative.c -- kernels of the generative family: kl_gaussian, vae,
 * kl_div and the GAN terms. */
#include "pyloss.h"
#include "elementwise.h"   /* kl_div, the GAN terms */
#include "rows.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "generative_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "generative_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
