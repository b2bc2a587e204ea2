"""Numba kernels of the combination family."""
