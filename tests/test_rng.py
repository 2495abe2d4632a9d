"""Seed derivation: keyed streams, independent of call order."""
from __future__ import annotations

import numpy as np
import pytest

from degrade import _rng


def test_streams_are_reproducible_and_distinct():
    a = _rng.stream(1, 2, 3, _rng.OP).random(4)
    assert np.array_equal(a, _rng.stream(1, 2, 3, _rng.OP).random(4))
    others = [_rng.stream(1, 2, 3, _rng.PLAN), _rng.stream(1, 2, 4, _rng.OP),
              _rng.stream(1, 3, 3, _rng.OP), _rng.stream(2, 2, 3, _rng.OP)]
    for g in others:
        assert not np.array_equal(a, g.random(4))


def test_sample_root_is_seedsequence_seed_index():
    root = _rng.sample_sequence(5, 9)
    assert tuple(root.entropy) == (5, 9)
    expected = np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([5, 9], spawn_key=(3, _rng.OP)))).random(3)
    assert np.array_equal(_rng.stream(5, 9, 3, _rng.OP).random(3), expected)


def test_bad_seeds_are_rejected():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        _rng.stream(-1, 0, 0, 0)
    with pytest.raises(ValueError, match="index must be a non-negative integer"):
        _rng.stream(0, 1.5, 0, 0)
