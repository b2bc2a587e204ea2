/* embedding.c -- kernels of the embedding family: triplet, contrastive. */
#include "pyloss.h"
#include "rows.h"

#define PL_DOUBLE 0
#include "pl_type.h"
#include "embedding_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE

#define PL_DOUBLE 1
#include "pl_type.h"
#include "embedding_impl.h"
#include "pl_type_end.h"
#undef PL_DOUBLE
