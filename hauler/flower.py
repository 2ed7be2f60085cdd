"""Flower's login: taken from the settings or generated once under the data dir, passed by env.

Flower 2 refuses its REST API (401) unless authentication is configured, so Hauler always
configures it: ``HAULER_FLOWER_BASIC_AUTH`` if set, else credentials generated on first
start and kept in ``<data dir>/flower-credentials.json`` (mode 0600), like a first-run
admin password. The cookie secret is ``HAULER_FLOWER_COOKIE_SECRET`` if set, else kept
there too, so sessions survive a restart. Both reach Flower through its environment
(``FLOWER_BASIC_AUTH``, ``FLOWER_COOKIE_SECRET``), never its command line, where ``ps``
would show them.

For Prometheus, ``HAULER_FLOWER_SCRAPE_PASSWORD_FILE`` adds a second login, user
``prometheus`` with a password generated once (kept in the same file), and writes that
password alone to the named file: what Prometheus's ``basic_auth.password_file`` reads.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hauler.errors import ConfigurationError
from hauler.settings import Settings

CREDENTIALS_FILE = "flower-credentials.json"
USER = "admin"
SCRAPE_USER = "prometheus"  # the user deploy/prometheus.yml scrapes Flower as
_KEYS = ("basic_auth", "cookie_secret", "scrape_password")


@dataclass(frozen=True)
class FlowerLogin:
    """What Flower is started with."""

    basic_auth: str  # "user:password"; several comma-separated, as Flower reads them
    cookie_secret: str
    path: Path  # the file that keeps them
    generated: bool  # the password was made just now: show it to the operator once
    configured: bool = False  # from HAULER_FLOWER_BASIC_AUTH, not the stored file
    scrape_password: str = ""  # the `prometheus` login's password; empty = no such login

    @property
    def user(self) -> str:
        return self.basic_auth.split(":", 1)[0]

    @property
    def logins(self) -> str:
        """FLOWER_BASIC_AUTH: the operator's login, and Prometheus's if there is one."""
        if not self.scrape_password:
            return self.basic_auth
        return f"{self.basic_auth},{SCRAPE_USER}:{self.scrape_password}"


def login(settings: Settings) -> FlowerLogin:
    """Flower's credentials; generates and stores them on first use."""
    path = settings.data_dir / CREDENTIALS_FILE
    stored, created = _load_or_create(path)
    cookie_secret = settings.flower_cookie_secret or stored["cookie_secret"]
    scrape = stored["scrape_password"] if settings.flower_scrape_password_file else ""
    if settings.flower_basic_auth:
        return FlowerLogin(settings.flower_basic_auth, cookie_secret, path, False, True, scrape)
    return FlowerLogin(stored["basic_auth"], cookie_secret, path, created, False, scrape)


def environment(env: Mapping[str, str], flower: FlowerLogin) -> dict[str, str]:
    """``env`` for a Flower process: the login as Flower's own variables."""
    return {
        **env,
        "FLOWER_BASIC_AUTH": flower.logins,
        "FLOWER_COOKIE_SECRET": flower.cookie_secret,
    }


def write_scrape_password(settings: Settings, flower: FlowerLogin) -> Path | None:
    """Write the ``prometheus`` login's password alone to HAULER_FLOWER_SCRAPE_PASSWORD_FILE.

    Mode 0644: Prometheus runs as a user of its own, so keep the file in a directory (or
    volume) that only Flower and Prometheus share. Replaced atomically on every start.
    """
    if not settings.flower_scrape_password_file or not flower.scrape_password:
        return None
    target = Path(settings.flower_scrape_password_file)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        draft = target.with_name(f".{target.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w") as out:
            out.write(flower.scrape_password)
        os.chmod(draft, 0o644)  # whatever the umask
        os.replace(draft, target)
    except OSError as exc:
        raise ConfigurationError(
            [f"HAULER_FLOWER_SCRAPE_PASSWORD_FILE={target} cannot be written ({exc})"]
        ) from exc
    return target


def _fresh() -> dict[str, str]:
    return {
        "basic_auth": f"{USER}:{secrets.token_urlsafe(18)}",
        "cookie_secret": secrets.token_urlsafe(48),
        "scrape_password": secrets.token_urlsafe(18),
    }


def _store(path: Path, values: dict[str, str], *, replace: bool) -> bool:
    """Write ``values`` to ``path`` (0600) atomically; without ``replace``, only if absent."""
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(values, out)
    try:
        if replace:
            os.replace(draft, path)
            return True
        os.link(draft, path)  # fails if another process stored one first
        return True
    except FileExistsError:
        return False
    finally:
        if draft.exists():
            draft.unlink()


def _load_or_create(path: Path) -> tuple[dict[str, str], bool]:
    """Read the stored login, or store a new one (atomically: a file never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() and _store(path, fresh := _fresh(), replace=False):
        return fresh, True
    try:
        stored = json.loads(path.read_text())
        values = {key: str(stored[key]) for key in _KEYS[:2]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            [f"{path} is not Flower's stored login ({exc}); delete it to generate a new one"]
        ) from exc
    if "scrape_password" not in stored:  # stored by an older Hauler: add it once
        values["scrape_password"] = _fresh()["scrape_password"]
        _store(path, values, replace=True)
        stored = json.loads(path.read_text())  # a concurrent start's, if it wrote last
    if isinstance(stored.get("scrape_password"), str):
        values["scrape_password"] = str(stored["scrape_password"])
    return values, False
