"""Hauler's settings: one typed object, read once from the environment and validated.

Every setting is an environment variable named ``HAULER_…``. ``Settings.from_env``
collects every problem before it raises, so a bad start-up says all that is wrong,
one line per value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from hauler.env import QUEUE_DEFAULTS, EnvReader, QueueSettings
from hauler.errors import ConfigurationError

if TYPE_CHECKING:
    from autoscale.settings import AutoscaleSettings
    from hauler.archives.settings import ArchiveSettings
    from hauler.backups.settings import BackupSettings
    from hauler.downloads.settings import DownloadSettings
    from hauler.health.settings import HealthSettings
    from hauler.maintenance_settings import MaintenanceSettings
    from hauler.media.settings import MediaSettings
    from hauler.notify.settings import NotifySettings
    from hauler.recovery.settings import RecoverySettings
    from hauler.transfers.settings import WatchSettings
    from hauler.uploads.settings import UploadSettings


@dataclass(frozen=True)
class RetrySettings:
    """The default retry policy: exponential backoff with jitter and a cap."""

    max_retries: int = 5  # attempts after the first before a task is dead-lettered
    backoff: float = 2.0  # seconds before the first retry; doubles each attempt
    backoff_max: float = 600.0  # no retry waits longer than this
    jitter: bool = True  # wait a random time in [delay/2, delay] instead of delay


@dataclass(frozen=True)
class Settings:
    """Everything Hauler reads from the environment."""

    broker_url: str = "redis://127.0.0.1:6379/0"  # Redis broker
    result_backend: str = ""  # where results live; defaults to the broker URL
    result_expires: int = 86400  # seconds results are kept
    data_dir: Path = Path("var")  # root of Hauler's files
    database_url: str = ""  # SQLAlchemy URL; defaults to SQLite in data_dir
    staging_dir: Path = Path("var/staging")  # partial downloads live here
    download_dir: Path = Path("var/downloads")  # finished downloads land here
    retry: RetrySettings = field(default_factory=RetrySettings)
    queues: Mapping[str, QueueSettings] = field(default_factory=dict)
    visibility_timeout: int = 0  # Redis redelivery timeout; computed when 0
    unacked_restore_seconds: int = 60  # how often workers look for messages to redeliver
    redelivery_dead_after: float = 30.0  # seconds without a heartbeat before a worker is dead
    redelivery_sweep_seconds: float = 10.0  # how often the recorder sweeps for such messages
    imports: tuple[str, ...] = ()  # extra task modules workers import
    recorder_port: int = 9808  # recorder's /metrics and /health port
    recorder_batch_size: int = 500  # activity rows per database transaction
    recorder_flush_seconds: float = 1.0  # longest an event waits before it is written
    recorder_buffer_max: int = 100_000  # events held while the database is down
    activity_retention_days: int = 30  # activity rows older than this are deleted
    flower_port: int = 5555  # Flower's port under `hauler up`
    flower_basic_auth: str = ""  # "user:password" for Flower; empty = generated on first start
    flower_cookie_secret: str = ""  # Flower's cookie secret; empty = generated once and kept
    flower_scrape_password_file: str = ""  # file for Flower's `prometheus` login; empty = none
    listen_address: str = "127.0.0.1"  # address the recorder, autoscaler metrics and Flower bind
    deployment: str = ""  # deployment id; empty = derived from broker URL and data dir
    beat_schedule: str = "beat_schedule"  # module whose SCHEDULE beat runs
    beat_lock_timeout: int = 60  # seconds a dead beat holds the single-beat lock
    log_level: str = "INFO"  # log level of the processes Hauler starts
    media: MediaSettings = field(default_factory=lambda: _media_defaults())  # HAULER_MEDIA_*
    autoscale: AutoscaleSettings = field(default_factory=lambda: _autoscale_defaults())
    downloads: DownloadSettings = field(default_factory=lambda: _downloads_defaults())
    uploads: UploadSettings = field(default_factory=lambda: _uploads_defaults())
    archives: ArchiveSettings = field(default_factory=lambda: _archives_defaults())
    notify: NotifySettings = field(default_factory=lambda: _notify_defaults())  # HAULER_NOTIFY_*
    maintenance: MaintenanceSettings = field(default_factory=lambda: _maintenance_defaults())
    health: HealthSettings = field(default_factory=lambda: _health_defaults())  # HAULER_HEALTH_*
    backups: BackupSettings = field(default_factory=lambda: _backups_defaults())  # HAULER_BACKUP_*
    recovery: RecoverySettings = field(default_factory=lambda: _recovery_defaults())
    watch: WatchSettings = field(default_factory=lambda: _watch_defaults())  # HAULER_WATCH_*

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise ConfigurationError listing all problems."""
        reader = EnvReader(os.environ if env is None else env)
        data_dir = Path(reader.text("HAULER_DATA_DIR", _default_data_dir(reader.env)))
        data_dir = data_dir.expanduser().absolute()
        broker = reader.url("HAULER_BROKER_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss"))
        retry = RetrySettings(
            max_retries=reader.integer("HAULER_RETRY_MAX", 5, minimum=0),
            backoff=reader.number("HAULER_RETRY_BACKOFF", 2.0, minimum=0.0),
            backoff_max=reader.number("HAULER_RETRY_BACKOFF_MAX", 600.0, minimum=0.0),
            jitter=reader.boolean("HAULER_RETRY_JITTER", True),
        )
        queues = {name: reader.queue(name, *defaults) for name, defaults in QUEUE_DEFAULTS.items()}
        settings = cls(
            broker_url=broker,
            result_backend=reader.url("HAULER_RESULT_BACKEND", broker, ("redis", "rediss")),
            result_expires=reader.integer("HAULER_RESULT_EXPIRES", 86400, minimum=60),
            data_dir=data_dir,
            database_url=reader.text("HAULER_DATABASE_URL", f"sqlite:///{data_dir}/hauler.db"),
            staging_dir=Path(reader.text("HAULER_STAGING_DIR", str(data_dir / "staging"))),
            download_dir=Path(reader.text("HAULER_DOWNLOAD_DIR", str(data_dir / "downloads"))),
            retry=retry,
            queues=queues,
            visibility_timeout=reader.integer("HAULER_VISIBILITY_TIMEOUT", 0, minimum=0),
            unacked_restore_seconds=reader.integer("HAULER_UNACKED_RESTORE_SECONDS", 60, minimum=1),
            redelivery_dead_after=reader.number("HAULER_REDELIVERY_DEAD_AFTER", 30.0, minimum=1.0),
            redelivery_sweep_seconds=reader.number(
                "HAULER_REDELIVERY_SWEEP_SECONDS", 10.0, minimum=0.1
            ),
            imports=tuple(
                m.strip() for m in reader.text("HAULER_IMPORTS", "").split(",") if m.strip()
            ),
            recorder_port=reader.integer("HAULER_RECORDER_PORT", 9808, minimum=0, maximum=65535),
            recorder_batch_size=reader.integer("HAULER_RECORDER_BATCH_SIZE", 500, minimum=1),
            recorder_flush_seconds=reader.number(
                "HAULER_RECORDER_FLUSH_SECONDS", 1.0, minimum=0.01
            ),
            recorder_buffer_max=reader.integer("HAULER_RECORDER_BUFFER_MAX", 100_000, minimum=100),
            activity_retention_days=reader.integer("HAULER_ACTIVITY_RETENTION_DAYS", 30, minimum=1),
            flower_port=reader.integer("HAULER_FLOWER_PORT", 5555, minimum=1, maximum=65535),
            flower_basic_auth=reader.text("HAULER_FLOWER_BASIC_AUTH", ""),
            flower_cookie_secret=reader.text("HAULER_FLOWER_COOKIE_SECRET", ""),
            flower_scrape_password_file=reader.text("HAULER_FLOWER_SCRAPE_PASSWORD_FILE", ""),
            listen_address=reader.text("HAULER_LISTEN_ADDRESS", "127.0.0.1"),
            deployment=reader.text("HAULER_DEPLOYMENT", ""),
            beat_schedule=reader.text("HAULER_BEAT_SCHEDULE", "beat_schedule"),
            beat_lock_timeout=reader.integer("HAULER_BEAT_LOCK_TIMEOUT", 60, minimum=2),
            media=_media_from_env(reader),
            autoscale=_autoscale_from_env(reader),
            downloads=_downloads_from_env(reader),
            uploads=_uploads_from_env(reader),
            archives=_archives_from_env(reader),
            notify=_notify_from_env(reader),
            maintenance=_maintenance_from_env(reader),
            health=_health_from_env(reader),
            backups=_backups_from_env(reader),
            recovery=_recovery_from_env(reader),
            watch=_watch_from_env(reader),
            log_level=reader.choice(
                "HAULER_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
            ),
        )
        reader.problems.extend(settings._cross_checks())
        if reader.problems:
            raise ConfigurationError(reader.problems)
        return settings

    @property
    def longest_time_limit(self) -> int:
        """The largest hard time limit of any queue, in seconds."""
        return max((q.time_limit for q in self.queues.values()), default=0)

    @property
    def beat_max_loop_interval(self) -> float:
        """Longest beat sleep: the lock holder renews well within the lock timeout."""
        return self.beat_lock_timeout / 10

    @property
    def effective_visibility_timeout(self) -> int:
        """Redis visibility timeout: longer than any hard limit or retry countdown."""
        if self.visibility_timeout:
            return self.visibility_timeout
        waits = (self.retry.backoff_max, self.recovery.backoff_max)  # countdowns in the broker
        return int(max(self.longest_time_limit, *waits)) + 600

    def _cross_checks(self) -> list[str]:
        problems = []
        if self.retry.backoff_max < self.retry.backoff:
            problems.append(
                f"HAULER_RETRY_BACKOFF_MAX={self.retry.backoff_max:g} is below "
                f"HAULER_RETRY_BACKOFF={self.retry.backoff:g}"
            )
        if self.visibility_timeout:
            floor = int(max(self.longest_time_limit, self.retry.backoff_max))
            if self.visibility_timeout <= floor:
                problems.append(
                    f"HAULER_VISIBILITY_TIMEOUT={self.visibility_timeout} must be longer than the "
                    f"longest hard time limit or retry wait ({floor} s), or tasks run twice"
                )
        if self.redelivery_sweep_seconds * 3 > self.redelivery_dead_after * 2:
            problems.append(
                f"HAULER_REDELIVERY_SWEEP_SECONDS={self.redelivery_sweep_seconds:g} must be at "
                f"most 2/3 of HAULER_REDELIVERY_DEAD_AFTER={self.redelivery_dead_after:g}, or a "
                "broker outage that expires heartbeats could pass between two sweeps unseen"
            )
        if self.flower_basic_auth and ":" not in self.flower_basic_auth:
            problems.append("HAULER_FLOWER_BASIC_AUTH must look like user:password")
        if self.flower_cookie_secret and len(self.flower_cookie_secret) < 32:
            problems.append("HAULER_FLOWER_COOKIE_SECRET must be at least 32 characters")
        if not _is_ip_address(self.listen_address):
            problems.append(f"HAULER_LISTEN_ADDRESS={self.listen_address!r} is not an IP address")
        return problems


def _media_defaults() -> MediaSettings:
    from hauler.media.settings import MediaSettings

    return MediaSettings()


def _media_from_env(reader: EnvReader) -> MediaSettings:
    from hauler.media.settings import MediaSettings

    return MediaSettings.from_env(reader)


def _autoscale_defaults() -> AutoscaleSettings:
    from autoscale.settings import AutoscaleSettings

    return AutoscaleSettings()


def _autoscale_from_env(reader: EnvReader) -> AutoscaleSettings:
    from autoscale.settings import AutoscaleSettings

    return AutoscaleSettings.from_env(reader)


def _downloads_defaults() -> DownloadSettings:
    from hauler.downloads.settings import DownloadSettings

    return DownloadSettings()


def _downloads_from_env(reader: EnvReader) -> DownloadSettings:
    from hauler.downloads.settings import DownloadSettings

    return DownloadSettings.from_env(reader)


def _uploads_defaults() -> UploadSettings:
    from hauler.uploads.settings import UploadSettings

    return UploadSettings()


def _uploads_from_env(reader: EnvReader) -> UploadSettings:
    from hauler.uploads.settings import UploadSettings

    return UploadSettings.from_env(reader)


def _is_ip_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _archives_defaults() -> ArchiveSettings:
    from hauler.archives.settings import ArchiveSettings

    return ArchiveSettings()


def _archives_from_env(reader: EnvReader) -> ArchiveSettings:
    from hauler.archives.settings import ArchiveSettings

    return ArchiveSettings.from_env(reader)


def _notify_defaults() -> NotifySettings:
    from hauler.notify.settings import NotifySettings

    return NotifySettings()


def _notify_from_env(reader: EnvReader) -> NotifySettings:
    from hauler.notify.settings import NotifySettings

    return NotifySettings.from_env(reader)


def _maintenance_defaults() -> MaintenanceSettings:
    from hauler.maintenance_settings import MaintenanceSettings

    return MaintenanceSettings()


def _maintenance_from_env(reader: EnvReader) -> MaintenanceSettings:
    from hauler.maintenance_settings import MaintenanceSettings

    return MaintenanceSettings.from_env(reader)


def _health_defaults() -> HealthSettings:
    from hauler.health.settings import HealthSettings

    return HealthSettings()


def _health_from_env(reader: EnvReader) -> HealthSettings:
    from hauler.health.settings import HealthSettings

    return HealthSettings.from_env(reader)


def _backups_defaults() -> BackupSettings:
    from hauler.backups.settings import BackupSettings

    return BackupSettings()


def _backups_from_env(reader: EnvReader) -> BackupSettings:
    from hauler.backups.settings import BackupSettings

    return BackupSettings.from_env(reader)


def _recovery_defaults() -> RecoverySettings:
    from hauler.recovery.settings import RecoverySettings

    return RecoverySettings()


def _recovery_from_env(reader: EnvReader) -> RecoverySettings:
    from hauler.recovery.settings import RecoverySettings

    return RecoverySettings.from_env(reader)


def _watch_defaults() -> WatchSettings:
    from hauler.transfers.settings import WatchSettings

    return WatchSettings()


def _watch_from_env(reader: EnvReader) -> WatchSettings:
    from hauler.transfers.settings import WatchSettings

    return WatchSettings.from_env(reader)


def _default_data_dir(env: Mapping[str, str]) -> str:
    xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(xdg) / "hauler")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings.from_env()
