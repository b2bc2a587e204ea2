"""Numba kernels of the classification family."""
