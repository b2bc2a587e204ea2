"""NumPy-only reference implementations: the test oracle and the ``numpy`` backend.

Each family module defines, per loss, a function returning the per-element
(or per-sample) loss and its derivatives, written as plainly as NumPy
allows and computed in float64.  Nothing here imports the rest of pyloss.
"""
from . import _common, classification, combination, embedding, generative, regression, segmentation  # noqa: F401
