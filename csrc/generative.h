/* generative.h -- kernels of the generative family. */
