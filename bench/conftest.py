"""pytest-benchmark suite (not collected by the default ``pytest``: testpaths
is tests/).  Run from the repository root:

    python -m pytest bench/ --benchmark-enable --benchmark-group-by=param:case

Rows compare the pyloss backends with NumPy one-liners and, when installed,
PyTorch; all implementations of one case share a benchmark group.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
