/* segmentation.c -- kernels of the segmentation family. */
#include "pyloss.h"
#include "common.h"
