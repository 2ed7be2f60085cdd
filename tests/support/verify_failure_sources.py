"""Check every row of the failure table against the clients' own sources.

Usage: ``python -m tests.support.verify_failure_sources MIRRORS`` where MIRRORS holds bare
git clones named ``sabnzbd+sabnzbd``, ``nzbget+nzbget``, ``qbittorrent+qBittorrent`` and
``aria2+aria2`` (each ``<name>/repo``), with the tags the rows name. Prints each row whose
cited line does not contain its text; exits 1 if there is one. Not a test: it needs the
clients' repositories, which CI does not have.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hauler.failures.table import RULES

REPOS = {
    "sabnzbd": ("sabnzbd+sabnzbd", "sabnzbd/"),
    "nzbget": ("nzbget+nzbget", "daemon/"),
    "qBittorrent": ("qbittorrent+qBittorrent", ""),
    "aria2": ("aria2+aria2", "src/"),
}


def main(mirrors: Path) -> int:
    bad = 0
    for rule in RULES:
        project, tag, rest = rule.source.split(" ", 2)
        path, line = rest.split(" ")[0].rsplit(":", 1)
        repo, prefix = REPOS[project]
        path = path if path.startswith(prefix) else prefix + path
        shown = subprocess.run(
            ["git", "-C", str(mirrors / repo / "repo"), "show", f"{tag}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[int(line) - 1]
        if rule.field == "message":
            needle = rule.pattern
            if needle.startswith("URL Fetching failed; ") and "%s" not in needle:
                needle = needle.split("; ", 1)[1]  # the inserted reason's own msgid
            needle = needle.replace("Repairing failed, Disk full", "Disk full")
            if "status=" in needle:
                needle = "status=%d"
        elif rule.client == "aria2":
            needle = rest.split(" ")[1]  # the error_code.h name
        else:
            needle = rule.pattern
        if needle not in shown:
            bad += 1
            print(f"{rule.client} {rule.pattern!r} {rule.source}: {shown.strip()}")
    print(f"{len(RULES)} rows checked, {bad} not found at their line")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")))
