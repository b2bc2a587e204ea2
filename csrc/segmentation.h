/* segmentation.h -- kernels of the segmentation family. */
