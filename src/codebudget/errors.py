"""The one exception type a user ever sees.

A `UserError` is a mistake the user can fix (a bad file, a missing dataset, an unknown
name). The CLI prints its message and hint and exits with status 2, never a traceback.
Anything else escaping is a bug in codebudget and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, stated with where and how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"
