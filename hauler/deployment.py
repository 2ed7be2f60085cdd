"""Which deployment a process belongs to: one id per broker database and data dir.

Two Hauler stacks on one host (another Redis database, another data dir) must not touch
each other's workers. Every worker Hauler starts carries its deployment's id in its
environment (``HAULER_DEPLOYMENT``), never in its command line, and the id is a hash:
it names the deployment without revealing the broker URL or its password.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from hauler.redact import redact_url
from hauler.settings import Settings

#: The environment variable that marks a process as one deployment's (also the setting).
DEPLOYMENT_ENV = "HAULER_DEPLOYMENT"


def deployment_id(settings: Settings) -> str:
    """The explicit ``HAULER_DEPLOYMENT``, else a hash of broker URL (no password) + data dir."""
    if settings.deployment:
        return settings.deployment
    source = f"{redact_url(settings.broker_url)}\0{settings.data_dir}"
    return "d" + hashlib.sha256(source.encode()).hexdigest()[:15]


def mark(env: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """``env`` for a child process of this deployment."""
    return {**env, DEPLOYMENT_ENV: deployment_id(settings)}


def belongs(env: Mapping[str, str], settings: Settings) -> bool:
    """Whether a process with environment ``env`` is one of this deployment's."""
    return env.get(DEPLOYMENT_ENV) == deployment_id(settings)
