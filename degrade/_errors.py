"""Exception hierarchy of degrade.

Every error a user can cause derives from :class:`DegradeError`; the CLI turns those into a
single ``error: ...`` line and exit status 2.  Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class DegradeError(Exception):
    """Base class of all user-facing errors raised by degrade."""


class ParameterError(DegradeError, ValueError):
    """An operator or function received an invalid parameter value."""


class InputError(DegradeError):
    """An input file or array cannot be used (missing, unreadable, wrong shape)."""


class RecipeError(DegradeError):
    """A recipe is invalid.

    Carries the recipe file (or ``<text>`` for inline YAML) and the path inside it
    (e.g. ``stages[3].sigma``) so the message says exactly where the problem is.
    """

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None):
        self.file = file
        self.path = path
        self.detail = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{where}: {self.detail}" if where else self.detail

    def located(self, *, file: str | None = None, path: str | None = None) -> "RecipeError":
        """Return a copy with a file and/or path prefix filled in where still missing."""
        return RecipeError(self.detail, file=self.file or file, path=self.path or path)
