/* generative.c -- kernels of the generative family. */
#include "pyloss.h"
#include "common.h"
