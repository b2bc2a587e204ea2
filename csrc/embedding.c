/* embedding.c -- kernels of the embedding family. */
#include "pyloss.h"
#include "common.h"
