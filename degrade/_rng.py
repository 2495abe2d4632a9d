"""The only place where random seeds are derived.

Sample ``index`` of a run with root ``seed`` owns ``SeedSequence([seed, index])``.  Everything
random about that sample hangs off it by a fixed, static key (the node number of a recipe
stage and a purpose), never by execution order, worker or partition:

* ``stream(seed, index, node, PLAN)`` draws the parameters of recipe node ``node``;
* ``stream(seed, index, node, OP)`` is the Generator handed to the op of that node
  (the noise it adds, ...).

Hence any sample can be made alone, in any order, on any worker, and gives the same bits.
Nothing in degrade uses the global ``np.random`` state or the ``random`` module.
"""
from __future__ import annotations

import numpy as np

PLAN = 0      #: purpose: drawing a node's parameters / control decisions
OP = 1        #: purpose: the Generator an op receives
TARGET = 2    #: purpose: target-side draws (crop position, flips)
TRAIN = 3     #: purpose: training-time augmentation (seed, epoch, index)
SOURCE = 4    #: purpose: the dataset engine's patch draw on the source image (node 0)


def _check(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def sample_sequence(seed: int, index: int) -> np.random.SeedSequence:
    """``SeedSequence([seed, index])``: the root of everything random about one sample."""
    return np.random.SeedSequence([_check(seed, "seed"), _check(index, "index")])


def stream(seed: int, index: int, node: int, purpose: int) -> np.random.Generator:
    """A fresh Generator for (sample, recipe node, purpose); independent of call order.

    Its SeedSequence is the child ``spawn_key=(node, purpose)`` of
    :func:`sample_sequence` ``(seed, index)`` (built directly, without the parent object).
    """
    child = np.random.SeedSequence([_check(seed, "seed"), _check(index, "index")],
                                   spawn_key=(_check(node, "node"), purpose))
    return np.random.Generator(np.random.PCG64(child))


def epoch_stream(seed: int, epoch: int, index: int) -> np.random.Generator:
    """Generator for training-time augmentation, deterministic per (seed, epoch, index)."""
    seq = np.random.SeedSequence([_check(seed, "seed"), _check(epoch, "epoch"),
                                  _check(index, "index")], spawn_key=(TRAIN,))
    return np.random.Generator(np.random.PCG64(seq))
