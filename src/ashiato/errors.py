"""One exception root for everything ashiato raises on purpose.

    AshiatoError
     ├── EvidenceError   a file, folder or archive can't be read safely
     ├── FormatError     no format recognises a file, or a forced one does not exist
     ├── CaseError       the case folder or its store is missing, locked or inconsistent
     └── QueryError      a user-supplied query or filter is not acceptable

Messages are written for a responder: they name the file (and line, where there is one)
and say what to do next. The CLI prints them without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in the evidence a problem sits."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


class AshiatoError(Exception):
    """Root of every error ashiato raises deliberately."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class EvidenceError(AshiatoError):
    """Evidence can't be read (missing, unreadable, unsafe archive member, bomb)."""


class FormatError(AshiatoError):
    """A file's format is unknown, or the format asked for does not exist."""


class CaseError(AshiatoError):
    """The case folder is missing, locked by another writer, or inconsistent."""


class QueryError(AshiatoError):
    """A user query or filter was refused (not read-only, bad syntax, bad value)."""
