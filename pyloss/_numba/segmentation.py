"""Numba kernels of the segmentation family."""
