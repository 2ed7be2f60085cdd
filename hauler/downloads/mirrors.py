"""``downloads.fetch(..., mirrors=[...])``: other sources of the same content.

Each mirror is another URL, .nzb or magnet of the same file. Recovery hands the next
unused one to whichever client suits it when the first source fails in a way retrying
it cannot fix (``hauler.recovery.mirror``); the result is checked against ``sha256``
when the caller gave one. They are read and checked here like ``url`` itself.
"""

from __future__ import annotations

from typing import Any

from hauler.downloads.links import Link, classify
from hauler.errors import InvalidArgument, PermanentError

MAX_MIRRORS = 8


def validate_mirrors(mirrors: Any, link: Link, check_local: Any = None) -> tuple[str, ...]:
    """The mirrors as a tuple of URLs; the error names ``mirrors`` and the bad entry.

    Args:
        mirrors: None or a list of strings.
        link: the main ``url``, which a mirror must not repeat.
        check_local: called with a local .torrent/.nzb mirror's Link (the input roots).
    """
    if mirrors is None:
        return ()
    if not isinstance(mirrors, list | tuple) or not all(isinstance(m, str) for m in mirrors):
        raise InvalidArgument("mirrors", "must be a list of URLs, .nzb files or magnets")
    if len(mirrors) > MAX_MIRRORS:
        raise InvalidArgument("mirrors", f"at most {MAX_MIRRORS} mirrors")
    seen = {link.url}
    kept = []
    for number, mirror in enumerate(mirrors):
        try:
            parsed = classify(mirror)
            if parsed.local and check_local is not None:
                check_local(parsed)
        except PermanentError as exc:
            raise InvalidArgument("mirrors", f"entry {number}: {exc}") from None
        if parsed.url in seen:
            raise InvalidArgument("mirrors", f"entry {number} repeats an earlier source")
        seen.add(parsed.url)
        kept.append(mirror)
    return tuple(kept)
