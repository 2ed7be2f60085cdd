"""Files named by task arguments: checked to lie under the allowed roots, and hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hauler.errors import InvalidArgument


def file_under_roots(
    value: Any, roots: Sequence[Path], setting: str, *, argument: str = "path"
) -> Path:
    """``value`` as a resolved path to an existing regular file under one of ``roots``.

    Args:
        value: what the caller passed.
        roots: allowed directories (resolved).
        setting: the environment variable that sets ``roots``, named in the error.
        argument: the task argument ``value`` came from, named in the error.

    Raises:
        InvalidArgument: not a string, relative, outside the roots, missing or not a file.
    """
    if not isinstance(value, str) or not value:
        raise InvalidArgument(argument, "must be a non-empty string (a file path)")
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise InvalidArgument(argument, f"must be an absolute path, got {value!r}")
    path = path.resolve()
    if not any(path.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise InvalidArgument(
            argument, f"{path} is outside the allowed roots ({allowed}; {setting})"
        )
    if not path.exists():
        raise InvalidArgument(argument, f"no such file: {path}")
    if not path.is_file():
        raise InvalidArgument(argument, f"not a regular file: {path}")
    return path


def sha256_of(path: Path) -> hashlib._Hash:
    """The sha256 of a file's bytes, as a hash object a caller can go on updating."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256")


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a file's bytes."""
    return sha256_of(path).hexdigest()
