"""The error tree every Hauler module raises from.

::

    HaulerError
     ├── PermanentError          never retried; dead-lettered at once
     │    ├── InvalidArgument    a task argument is wrong (names the argument)
     │    ├── Unsupported        a link, scheme or format Hauler does not handle
     │    ├── CorruptArchive     an archive (or a volume set) cannot be read
     │    ├── UnsafeArchive      an archive entry would escape its folder, or a bomb
     │    ├── PasswordRequired   an encrypted archive and no password
     │    ├── WrongPassword      an encrypted archive and the wrong password
     │    ├── BackupFailed       a backup cannot be made, verified or restored (not transient)
     │    ├── RestoreRefused     a restore would overwrite a database it must not touch
     │    ├── CredentialsRefused a peer program refuses the credentials Hauler has
     │    ├── TooLarge           a transfer is larger than its ``max_bytes``
     │    ├── DownloadFailed     a handed-off download failed for good
     │    └── ForeignComponent   a restart would touch another deployment's container
     ├── RetryableError          retried with exponential backoff, then dead-lettered
     │    ├── DiskFull           the disk a transfer writes to is full
     │    └── RestartFailed      a component could not be restarted now (Docker, supervisor)
     ├── ConfigurationError      a setting is wrong; raised at start-up
     └── ServiceUnavailable      Redis or the database cannot be reached
"""

from __future__ import annotations


class HaulerError(Exception):
    """Raised for any failure Hauler itself recognises; the base of the tree."""


class PermanentError(HaulerError):
    """Raised when retrying cannot help: the task fails at once and is dead-lettered."""


class InvalidArgument(PermanentError):
    """Raised when a task argument is missing, unexpected or has a bad value."""

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(f"invalid argument {argument!r}: {reason}")
        self.argument = argument
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidArgument], tuple[str, str]]:
        return (type(self), (self.argument, self.reason))


class Unsupported(PermanentError):
    """Raised when a link, scheme or file format is one Hauler does not handle."""


class CorruptArchive(PermanentError):
    """Raised when an archive is damaged or truncated, or a volume of its set is missing."""


class UnsafeArchive(PermanentError):
    """Raised when an archive entry would land outside its folder, or an archive is a bomb."""


class PasswordRequired(PermanentError):
    """Raised when an archive is encrypted and no password was given."""


class WrongPassword(PermanentError):
    """Raised when an archive is encrypted and the password given does not open it."""


class BackupFailed(PermanentError):
    """Raised when a backup cannot be made, verified or restored and retrying cannot help."""


class RestoreRefused(PermanentError):
    """Raised when a restore would overwrite the live database without --yes or with workers up."""


class CredentialsRefused(PermanentError):
    """Raised when a peer program (a download client, a server) refuses Hauler's credentials;
    the message names the setting to fix."""


class TooLarge(PermanentError):
    """Raised when a download or upload is (or turns out to be) larger than ``max_bytes``."""


class DownloadFailed(PermanentError):
    """Raised (as the task's result) when a download handed to a client failed for good."""


class ForeignComponent(PermanentError):
    """Raised when healing would restart a container of another deployment or project."""


class RetryableError(HaulerError):
    """Raised when a failure is transient (network, 5xx, busy peer): retry with backoff."""


class DiskFull(RetryableError):
    """Raised when the disk a transfer writes to is full; partial data is kept for resume."""


class ConfigurationError(HaulerError):
    """Raised at start-up when one or more settings are invalid; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __reduce__(self) -> tuple[type[ConfigurationError], tuple[list[str]]]:
        return (type(self), (self.problems,))


class ServiceUnavailable(HaulerError):
    """Raised when Redis or the database cannot be reached; the message says what to do."""


class RestartFailed(RetryableError):
    """Raised when a failed component could not be restarted now (Docker or Redis said no)."""
