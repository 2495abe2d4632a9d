"""The parsed form of a recipe: a tree of nodes, each with a static node number.

Node numbers are assigned depth-first in the order the recipe text lists things (blocks are
expanded where they are used), so they depend only on the recipe text. They key the random
streams (see degrade/_rng.py), which makes every draw independent of execution order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._registry import OpSpec, SamplerSpec
from .distributions import Value


@dataclass
class Node:
    node: int
    path: str
    p: float


@dataclass
class OpNode(Node):
    op: OpSpec
    params: dict[str, Value]
    label: str | None = None
    sampler: SamplerSpec | None = None
    sampler_config: dict = field(default_factory=dict)


@dataclass
class GroupNode(Node):
    children: list[Node]


@dataclass
class OneOfNode(Node):
    children: list[Node]
    cumulative: np.ndarray


@dataclass
class SomeOfNode(Node):
    """``n`` of the children (drawn without replacement, by weight), run in the listed or a
    random order (Albumentations' SomeOf)."""
    children: list[Node]
    probs: np.ndarray
    n: Value
    order: str = "listed"


@dataclass
class ShuffleNode(Node):
    groups: list[GroupNode]
    keep_order: list[tuple[int, int]]


def walk(nodes):
    """Every node of a tree, depth-first."""
    for n in nodes:
        yield n
        if isinstance(n, ShuffleNode):
            yield from walk(n.groups)
        elif isinstance(n, (GroupNode, OneOfNode, SomeOfNode)):
            yield from walk(n.children)
