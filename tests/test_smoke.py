"""Quick end-to-end check of every registered loss on every backend."""
import numpy as np
import pytest

import pyloss as pl
from conftest import CASES


@pytest.mark.parametrize("name", pl.losses())
@pytest.mark.parametrize("backend", pl.backends())
def test_every_loss_runs_and_matches_numpy(name, backend, rng):
    case = CASES[name]
    arrays, opts = case.make(rng, (7, 5), np.float64)
    loss = pl.get(name)
    v_ref = loss.reference(*arrays, **opts)
    v, g = loss.value_and_grad(*arrays, backend=backend, **opts)
    np.testing.assert_allclose(v, v_ref, rtol=1e-10, atol=1e-12)
    assert np.isfinite(v)
