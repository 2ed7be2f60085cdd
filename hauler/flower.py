"""Flower's login: taken from the settings or generated once under the data dir, passed by env.

Flower 2 refuses its REST API (401) unless authentication is configured, so Hauler always
configures it: ``HAULER_FLOWER_BASIC_AUTH`` if set, else credentials generated on first
start and kept in ``<data dir>/flower-credentials.json`` (mode 0600), like a first-run
admin password. The cookie secret is kept there too, so sessions survive a restart.
Both reach Flower through its environment (``FLOWER_BASIC_AUTH``,
``FLOWER_COOKIE_SECRET``), never its command line, where ``ps`` would show them.
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


@dataclass(frozen=True)
class FlowerLogin:
    """What Flower is started with."""

    basic_auth: str  # "user:password"; several comma-separated, as Flower reads them
    cookie_secret: str
    path: Path  # the file that keeps them
    generated: bool  # the password was made just now: show it to the operator once
    configured: bool = False  # from HAULER_FLOWER_BASIC_AUTH, not the stored file

    @property
    def user(self) -> str:
        return self.basic_auth.split(":", 1)[0]


def login(settings: Settings) -> FlowerLogin:
    """Flower's credentials; generates and stores them on first use."""
    path = settings.data_dir / CREDENTIALS_FILE
    stored, created = _load_or_create(path)
    if settings.flower_basic_auth:
        return FlowerLogin(settings.flower_basic_auth, stored["cookie_secret"], path, False, True)
    return FlowerLogin(stored["basic_auth"], stored["cookie_secret"], path, created)


def environment(env: Mapping[str, str], flower: FlowerLogin) -> dict[str, str]:
    """``env`` for a Flower process: the login as Flower's own variables."""
    return {
        **env,
        "FLOWER_BASIC_AUTH": flower.basic_auth,
        "FLOWER_COOKIE_SECRET": flower.cookie_secret,
    }


def _load_or_create(path: Path) -> tuple[dict[str, str], bool]:
    """Read the stored login, or store a new one (atomically: a link never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fresh = {
            "basic_auth": f"{USER}:{secrets.token_urlsafe(18)}",
            "cookie_secret": secrets.token_urlsafe(48),
        }
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(fresh, out)
        try:
            os.link(draft, path)  # fails if another process stored one first
            return fresh, True
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    try:
        stored = json.loads(path.read_text())
        return {
            "basic_auth": str(stored["basic_auth"]),
            "cookie_secret": str(stored["cookie_secret"]),
        }, False
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            [f"{path} is not Flower's stored login ({exc}); delete it to generate a new one"]
        ) from exc
