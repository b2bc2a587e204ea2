/* classification.h -- kernels of the classification family. */
