"""Files named by task arguments: checked to lie under the allowed roots, and hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hauler.errors import InvalidArgument

#: Longest path accepted, in bytes (Linux's PATH_MAX), and longest name in it (NAME_MAX).
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` short enough for an error message (long values are cut)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(str(value))} chars)"


def check_path_text(value: Any, argument: str, *, what: str = "a file path") -> str:
    """``value`` if it can name a file at all: a non-empty string the OS can take.

    Raises:
        InvalidArgument: not a string, empty, a NUL byte, a lone surrogate (not UTF-8),
            longer than 4096 bytes or a component longer than 255 bytes.
    """
    if not isinstance(value, str) or not value:
        raise InvalidArgument(argument, f"must be a non-empty string ({what})")
    if "\x00" in value:
        raise InvalidArgument(argument, f"contains a NUL byte: {shown(value)}")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(
            argument, f"is not valid Unicode text (a lone surrogate?): {shown(value)}"
        ) from None
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidArgument(
            argument, f"is {len(encoded)} bytes long; a path is at most {MAX_PATH_BYTES}"
        )
    if any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise InvalidArgument(
            argument, f"has a name longer than {MAX_NAME_BYTES} bytes: {shown(value)}"
        )
    return value


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
    check_path_text(value, argument)
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise InvalidArgument(argument, f"must be an absolute path, got {shown(value)}")
    try:
        path = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a component too long
        raise InvalidArgument(
            argument, f"cannot be resolved ({getattr(exc, 'strerror', None) or exc})"
        ) from None
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
