/* embedding.h -- kernels of the embedding family. */
