"""Example calls of every registered op, used by tests/test_ops_contract.py.

Each module here defines ``EXAMPLES``: a list of dicts with keys
``op`` (name), ``params`` (dict, JSON values as a recipe would give them),
``input`` (domain of the synthetic input: srgb | linear | camera | raw | packed),
optionally ``meta`` (dict, e.g. {"pattern": "RGGB"}) and ``unclipped`` (True when the op
may legitimately leave [0, 1], e.g. bicubic overshoot). Every registered op needs at least
one example; the contract test fails for an op that has none.
"""
from __future__ import annotations

import importlib
import pkgutil


def all_examples() -> list[dict]:
    out = []
    for m in pkgutil.iter_modules(__path__):
        out += importlib.import_module(f"{__name__}.{m.name}").EXAMPLES
    return out
