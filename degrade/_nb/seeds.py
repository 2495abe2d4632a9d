"""numpy's ``SeedSequence`` hash, compiled: the PCG64 seed words of a spawned seed sequence.

``np.random.SeedSequence(entropy, spawn_key=key).generate_state(4, np.uint64)`` costs ~14 us
in numpy (array bookkeeping around a few dozen 32-bit multiplies); a recipe makes 7-25
Generators per sample, so that was 10 % of a light sample's time, all of it holding the GIL.
This kernel computes the same words (tests/test_rng.py compares them with numpy's on
thousands of inputs). The algorithm is numpy's (``numpy/random/bit_generator.pyx``, after
M. O'Neill's ``seed_seq_fe``): the assembled entropy (run entropy zero-padded to the pool
size when a spawn key follows, then the spawn key, as little-endian 32-bit words) is hashed
into a 4-word pool; ``generate_state`` hashes the pool cyclically into the output words.
"""
from __future__ import annotations

import numba
import numpy as np

POOL_SIZE = 4
# uint64 constants: numba turns uint64 op int64 into float64 or int64
_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_MULT_L = np.uint64(0xCA01F9DD)
_MIX_MULT_R = np.uint64(0x4973F715)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT16 = np.uint64(16)
_SHIFT32 = np.uint64(32)


@numba.njit(cache=True, nogil=True, inline="always")
def _hashmix(value, hash_const):
    """One hashmix step; returns ``(hashed value, next hash constant)`` (uint32 in uint64)."""
    value = (value ^ hash_const) & _MASK32
    hash_const = (hash_const * _MULT_A) & _MASK32
    value = (value * hash_const) & _MASK32
    return value ^ (value >> _SHIFT16), hash_const


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(x, y):
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return result ^ (result >> _SHIFT16)


@numba.njit(cache=True, nogil=True)
def _seed_words_kernel(entropy, out):
    """``out`` (uint64, n) = ``generate_state(n, uint64)`` of the pool made from ``entropy``
    (uint64 array holding the assembled 32-bit entropy words)."""
    pool = np.zeros(POOL_SIZE, np.uint64)
    h = _INIT_A
    for i in range(POOL_SIZE):
        word = entropy[i] if i < entropy.size else np.uint64(0)
        pool[i], h = _hashmix(word, h)
    for i_src in range(POOL_SIZE):
        for i_dst in range(POOL_SIZE):
            if i_src != i_dst:
                hashed, h = _hashmix(pool[i_src], h)
                pool[i_dst] = _mix(pool[i_dst], hashed)
    for i_src in range(POOL_SIZE, entropy.size):
        for i_dst in range(POOL_SIZE):
            hashed, h = _hashmix(entropy[i_src], h)
            pool[i_dst] = _mix(pool[i_dst], hashed)
    h = _INIT_B
    for i in range(2 * out.size):
        value = (pool[i % POOL_SIZE] ^ h) & _MASK32
        h = (h * _MULT_B) & _MASK32
        value = (value * h) & _MASK32
        value ^= value >> _SHIFT16
        if i % 2 == 0:
            out[i // 2] = value
        else:
            out[i // 2] |= value << _SHIFT32
