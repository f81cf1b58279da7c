"""Files named on the command line: `-` for stdin, and one clear error when one is missing.

Every command that takes a path checks it here before doing anything, so a typo is a one-line
`error: ...` and exit status 2 (a usage problem), never a traceback or a half-done run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, Literal

from halops.errors import HalopsError

STDIN = "-"


class InputFileError(HalopsError):
    """A file or folder named on the command line is missing or unreadable (exit status 2)."""


def is_stdin(path: Path | None) -> bool:
    return path is not None and str(path) == STDIN


def need(path: Path, what: str, kind: Literal["file", "dir", "any"] = "file") -> Path:
    """`path` itself, once it is known to exist, be of `kind` and be readable."""
    if not path.exists():
        raise InputFileError(f"{what} {path}: no such file or directory")
    if kind == "file" and path.is_dir():
        raise InputFileError(f"{what} {path}: is a directory, not a file")
    if kind == "dir" and not path.is_dir():
        raise InputFileError(f"{what} {path}: is not a directory")
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise InputFileError(f"{what} {path}: permission denied")
    return path


def need_optional(path: Path | None, what: str, kind: Literal["file", "dir", "any"] = "file") -> Path | None:
    return None if path is None else need(path, what, kind)


def open_binary(path: Path | None, what: str) -> BinaryIO:
    """Standard input for None or `-`, else the file (checked first)."""
    if path is None or is_stdin(path):
        return sys.stdin.buffer
    need(path, what)
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{what} {path}: {exc.strerror or exc}") from None


def read_text(path: Path, what: str) -> str:
    """The text of `path` (`-`: standard input), UTF-8."""
    if is_stdin(path):
        return sys.stdin.read()
    need(path, what)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"{what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{what} {path}: not UTF-8 text") from None
