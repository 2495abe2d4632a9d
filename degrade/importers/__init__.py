"""Importers: other tools' configuration files -> degrade recipes (``degrade import``)."""
from __future__ import annotations

from .basicsr import import_basicsr

__all__ = ["import_basicsr", "IMPORTERS"]

IMPORTERS = {"basicsr": import_basicsr}
