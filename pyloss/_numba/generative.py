"""Numba kernels of the generative family."""
