/* combination.h -- kernels of the combination family. */
