"""All registered operators, importable as ``degrade.ops.<name>``.

Each op is a plain function ``op(image, **params, rng=None)``; see ``degrade ops`` for the
table of names, parameters and domains. Importing this package imports every module in it
(one module per operator family), which registers the ops; each op is then bound here under
its registered name (an op may share its family module's name, e.g. ``jpeg``).
"""
from __future__ import annotations

import importlib
import pkgutil

from .._registry import registered_functions

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

globals().update(registered_functions())
__all__ = sorted(registered_functions())
