/*
 * pyloss.h -- the C API of pyloss: one declaration per exported kernel.
 *
 * The declarations live in one header per family (listed below); the cffi
 * builder (build.py) reads these same headers, minus preprocessor lines, as
 * its cdef, so C and Python can never disagree on a signature.
 *
 * Conventions shared by every kernel:
 *   - sizes and indices are int64_t; arrays are C-contiguous, of the kernel's
 *     dtype (_f32: float, _f64: double), already validated by Python;
 *   - optional inputs and outputs are NULL when absent;
 *   - gradients and Hessians come pre-multiplied by `scale` (1/sum(w) for a
 *     mean, 1 otherwise), so they are those of the returned value;
 *   - `nthreads` > 1 lets a kernel use threads above PL_PAR_MIN elements
 *     (pyloss's own workers, pool.h, or an OpenMP loop); the result is
 *     bit-identical whatever nthreads is;
 *   - kernels do not validate: Python checks shapes, dtypes, options and
 *     class indices before the call (pyloss/_dispatch.py) and raises; a
 *     kernel returns no status (it only guards its own memory accesses: a
 *     class index outside [0, C) never reaches it, and would be skipped).  The one exception is a
 *     kernel that allocates scratch memory itself (lovasz_softmax): it sets
 *     *status = 1 and returns NAN when an allocation fails, and Python raises
 *     MemoryError (pyloss/_defs/lovasz.py).
 */
#ifndef PYLOSS_H
#define PYLOSS_H
#include <stdint.h>

#include "pl_info.h"
#include "regression.h"
#include "classification.h"
#include "embedding.h"
#include "generative.h"
#include "segmentation.h"
#include "combination.h"
#include "glm.h"
#include "metric.h"
#include "lovasz.h"
#include "boxes.h"

#endif
