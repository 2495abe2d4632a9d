"""degrade/_quantise.py: one helper, two named rounding rules (store encoding vs codes)."""
from __future__ import annotations

import numpy as np
import pytest

from degrade._quantise import dequantise, quantise
from degrade.run.store import quantise as store_quantise


def _ties(scale: int) -> np.ndarray:
    """float32 values in [0, 1] whose float32 product with ``scale`` is exactly k + 1/2."""
    x = ((np.arange(scale) + 0.5) / scale).astype(np.float32)
    return x[(x * np.float32(scale)) % 1 == 0.5]


@pytest.mark.parametrize("dtype, scale", [("uint8", 255), ("uint16", 65535)])
def test_the_two_rules_are_the_documented_formulas_and_differ_only_on_ties(dtype, scale):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-0.2, 1.2, 10000).astype(np.float32), _ties(scale)])
    up, even = quantise(x, dtype, "half_up"), quantise(x, dtype, "half_even")
    clipped = np.clip(x, 0, 1) * np.float32(scale)
    assert np.array_equal(up, np.floor(clipped + np.float32(0.5)).astype(dtype))
    assert np.array_equal(even, np.rint(clipped).astype(dtype))
    ties = _ties(scale)
    assert ties.size > 0
    differ = up != even
    assert np.isin(x[differ], ties).all()                 # only exact ties round apart
    assert (up[differ].astype(int) - even[differ] == 1).all()
    assert np.array_equal(store_quantise(x, dtype), up)   # the store encodes half up
    assert np.abs(dequantise(up) - np.clip(x, 0, 1)).max() <= 0.5 / scale + 1e-7


def test_bad_rules_and_outputs_are_refused():
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="rounding = 'nearest'"):
        quantise(x, "uint8", "nearest")
    with pytest.raises(ValueError, match="half_even makes new integer arrays only"):
        quantise(x, "uint8", "half_even", out=np.empty(4, np.uint8))
    assert quantise(x + 0.25, "float16", "half_up").dtype == np.float16
