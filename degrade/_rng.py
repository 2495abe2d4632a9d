"""The only place where random seeds are derived.

Sample ``index`` of a run with root ``seed`` owns ``SeedSequence([seed, index])``.  Everything
random about that sample hangs off it by a fixed, static key (the node number of a recipe
stage and a purpose), never by execution order, worker or partition:

* ``stream(seed, index, node, PLAN)`` draws the parameters of recipe node ``node``;
* ``stream(seed, index, node, OP)`` is the Generator handed to the op of that node
  (the noise it adds, ...);
* ``epoch_stream(seed, epoch, index)`` draws training-time augmentation, and
  ``epoch_seed(seed, epoch)`` is the recipe seed of an on-the-fly epoch (degrade.torch).

Hence any sample can be made alone, in any order, on any worker, and gives the same bits.
Nothing in degrade uses the global ``np.random`` state or the ``random`` module.
"""
from __future__ import annotations

import sys

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

from ._validate import check_integer

PLAN = 0      #: purpose: drawing a node's parameters / control decisions
OP = 1        #: purpose: the Generator an op receives
TARGET = 2    #: purpose: target-side draws (crop position, flips)
TRAIN = 3     #: purpose: training-time augmentation (seed, epoch, index)
SOURCE = 4    #: purpose: the dataset engine's patch draw on the source image (node 0)


def _check(value: int, what: str) -> int:
    return check_integer(what, value, 0)


def sample_sequence(seed: int, index: int) -> np.random.SeedSequence:
    """``SeedSequence([seed, index])``: the root of everything random about one sample."""
    return np.random.SeedSequence([_check(seed, "seed"), _check(index, "index")])


def stream(seed: int, index: int, node: int, purpose: int) -> np.random.Generator:
    """A fresh Generator for (sample, recipe node, purpose); independent of call order.

    Its SeedSequence is the child ``spawn_key=(node, purpose)`` of
    :func:`sample_sequence` ``(seed, index)`` (built directly, without the parent object).
    """
    return _generator((_check(seed, "seed"), _check(index, "index")),
                      (_check(node, "node"), purpose))


def _generator(entropy: tuple, spawn_key: tuple) -> np.random.Generator:
    """``Generator(PCG64(SeedSequence(list(entropy), spawn_key=spawn_key)))``, bit for bit, with
    the seed words hashed by the compiled kernel (~2 us instead of ~14 us)."""
    return np.random.Generator(np.random.PCG64(_SeedWords(entropy, spawn_key)))


def _words32(value: int) -> list[int]:
    """``value`` as little-endian 32-bit words, as SeedSequence coerces an integer."""
    words = [value & 0xFFFFFFFF]
    value >>= 32
    while value:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
    return words


_seed_words_kernel = None


class _SeedWords(ISpawnableSeedSequence):
    """Stands for ``SeedSequence(list(entropy), spawn_key=spawn_key)``: ``generate_state(4,
    uint64)`` (what PCG64 asks for) from the compiled hash; anything else (other sizes,
    ``spawn``) from numpy's own SeedSequence, so the Generator behaves the same in every way."""

    __slots__ = ("entropy", "spawn_key", "_seq")

    def __init__(self, entropy: tuple, spawn_key: tuple):
        self.entropy, self.spawn_key, self._seq = entropy, spawn_key, None

    def _numpy(self) -> np.random.SeedSequence:
        """The equivalent numpy SeedSequence, made once (it counts the children spawned)."""
        if self._seq is None:
            self._seq = np.random.SeedSequence(list(self.entropy), spawn_key=self.spawn_key)
        return self._seq

    def generate_state(self, n_words, dtype=np.uint32):
        global _seed_words_kernel
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            return self._numpy().generate_state(n_words, dtype)
        if _seed_words_kernel is None:
            if "numba" not in sys.modules:
                # a process that runs no kernel (a DataLoader worker drawing crops) does not
                # pay numba's import and cache load (~0.5 s) for a 10 us saving per stream
                return self._numpy().generate_state(n_words, dtype)
            from ._nb.seeds import _seed_words_kernel
        run = [w for value in self.entropy for w in _words32(value)]
        key = [w for value in self.spawn_key for w in _words32(value)]
        if key and len(run) < 4:                    # numpy pads the run entropy (gh-16539)
            run += [0] * (4 - len(run))
        out = np.empty(4, np.uint64)
        _seed_words_kernel(np.array(run + key, np.uint64), out)
        return out

    def spawn(self, n_children):
        return self._numpy().spawn(n_children)


def epoch_stream(seed: int, epoch: int, index: int) -> np.random.Generator:
    """Generator for training-time augmentation, deterministic per (seed, epoch, index)."""
    return _generator((_check(seed, "seed"), _check(epoch, "epoch"), _check(index, "index")),
                      (TRAIN,))


def epoch_seed(seed: int, epoch: int) -> int:
    """Recipe seed of on-the-fly epoch ``epoch``: ``seed`` itself for epoch 0 (the store of
    ``degrade generate --seed seed``), else the 64-bit word of
    ``SeedSequence([seed, epoch], spawn_key=(TRAIN, 1))``."""
    seed, epoch = _check(seed, "seed"), _check(epoch, "epoch")
    if epoch == 0:
        return seed
    seq = np.random.SeedSequence([seed, epoch], spawn_key=(TRAIN, 1))
    return int(seq.generate_state(1, np.uint64)[0])
