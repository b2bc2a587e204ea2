/* combination.c -- kernels of the combination family. */
#include "pyloss.h"
#include "common.h"
