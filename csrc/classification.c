/* classification.c -- kernels of the classification family. */
#include "pyloss.h"
#include "common.h"
