"""Seed derivation: keyed streams, independent of call order."""
from __future__ import annotations

import numpy as np
import pytest

from degrade import _rng
from degrade._errors import ParameterError


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
    with pytest.raises(ParameterError, match="seed = -1: expected an integer >= 0"):
        _rng.stream(-1, 0, 0, 0)
    with pytest.raises(ParameterError, match="index = 1.5: expected an integer >= 0"):
        _rng.stream(0, 1.5, 0, 0)
    with pytest.raises(ParameterError, match="epoch = True: expected an integer >= 0"):
        _rng.epoch_seed(0, True)


def _random_int(rng):
    """0, 1, a 32-bit value, or values of 2-4 words (how SeedSequence splits big integers)."""
    kind = rng.integers(0, 5)
    return [0, 1, int(rng.integers(0, 2 ** 32)), int(rng.integers(0, 2 ** 63)) * 3,
            int(rng.integers(0, 2 ** 62)) ** 2][kind]


def test_compiled_seed_hash_equals_numpy_seedsequence():
    """The compiled hash gives numpy's generate_state(4, uint64) for 2000 random entropies
    and spawn keys (1-3 run values, 0-3 key values, each of 1-4 words)."""
    import degrade._nb.seeds  # noqa: F401  (numba loaded: streams take the compiled path)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        entropy = tuple(_random_int(rng) for _ in range(rng.integers(1, 4)))
        key = tuple(_random_int(rng) for _ in range(rng.integers(0, 4)))
        want = np.random.SeedSequence(list(entropy), spawn_key=key).generate_state(4, np.uint64)
        got = _rng._SeedWords(entropy, key).generate_state(4, np.uint64)
        assert np.array_equal(got, want), (entropy, key)
    assert _rng._seed_words_kernel is not None        # the compiled hash was the one compared


def test_without_numba_loaded_streams_use_numpys_hash(fresh_python):
    """A process that has not imported numba (a DataLoader worker drawing crops) gets the
    same Generators from numpy's own SeedSequence, without loading numba."""
    code = ("import sys, numpy as np; from degrade import _rng; "
            "a = _rng.stream(4, 5, 6, 1).random(3); "
            "b = np.random.Generator(np.random.PCG64(np.random.SeedSequence([4, 5], "
            "spawn_key=(6, 1)))).random(3); "
            "print(np.array_equal(a, b), 'numba' in sys.modules)")
    assert fresh_python(code).split() == ["True", "False"]


def test_streams_behave_as_numpy_generators_in_every_way():
    seq = np.random.SeedSequence([3, 2 ** 40 + 7], spawn_key=(5, _rng.PLAN))
    ours, numpy_ = _rng.stream(3, 2 ** 40 + 7, 5, _rng.PLAN), np.random.Generator(np.random.PCG64(seq))
    assert np.array_equal(ours.random(8), numpy_.random(8))
    for _ in range(2):                      # a second spawn gives new children, as numpy's
        assert np.array_equal(ours.spawn(2)[1].random(3), numpy_.spawn(2)[1].random(3))
    import pickle
    again = pickle.loads(pickle.dumps(ours))                        # pickles and continues
    assert np.array_equal(again.random(4), ours.random(4))
    words = ours.bit_generator.seed_seq.generate_state(3)            # other sizes: numpy's own
    assert np.array_equal(words, seq.generate_state(3))
    epoch = np.random.SeedSequence([1, 2, 3], spawn_key=(_rng.TRAIN,))
    assert np.array_equal(_rng.epoch_stream(1, 2, 3).random(4),
                          np.random.Generator(np.random.PCG64(epoch)).random(4))
