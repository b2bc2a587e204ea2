"""Numba kernels of the embedding family."""
