"""Settings of the uploads queue (``HAULER_UPLOADS_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from hauler.env import EnvReader

MIB = 1024 * 1024
S3_MIN_PART = 5 * MIB  # S3's smallest part size for multipart uploads
ADDRESSING_STYLES = ("AUTO", "PATH", "VIRTUAL")


@dataclass(frozen=True)
class UploadSettings:
    """What uploads may read and write, and how they reach HTTP and S3 peers."""

    roots: tuple[Path, ...] = ()  # files to upload must lie under one; () = data + download dir
    file_roots: tuple[Path, ...] = ()  # file:// destinations must lie under one; () = data dir
    allow_networks: tuple[str, ...] = ()  # CIDRs or host names exempt from the SSRF guard
    http_timeout: float = 30.0  # seconds to connect, and to wait for an answer, over HTTP
    s3_endpoint_url: str = ""  # S3-compatible endpoint, e.g. http://127.0.0.1:9000; "" = AWS
    s3_region: str = ""  # S3 region; "" = boto3's usual chain (AWS_DEFAULT_REGION, config)
    s3_access_key_id: str = ""  # S3 access key; "" = boto3's usual credential chain
    s3_secret_access_key: str = ""  # S3 secret key; set together with the access key
    s3_addressing_style: str = "auto"  # auto, path (MinIO, moto) or virtual bucket addressing
    s3_multipart_threshold: int = 8 * MIB  # files at least this large go up in parts
    s3_part_size: int = 8 * MIB  # bytes per multipart part (S3's minimum is 5 MiB)
    s3_max_concurrency: int = 4  # parts sent at once per upload

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        settings = cls(
            roots=_paths(reader.text("HAULER_UPLOADS_ROOTS", "")),
            file_roots=_paths(reader.text("HAULER_UPLOADS_FILE_ROOTS", "")),
            allow_networks=_names(reader.text("HAULER_UPLOADS_ALLOW_NETWORKS", "")),
            http_timeout=reader.number("HAULER_UPLOADS_HTTP_TIMEOUT", 30.0, minimum=1.0),
            s3_endpoint_url=reader.text("HAULER_UPLOADS_S3_ENDPOINT_URL", ""),
            s3_region=reader.text("HAULER_UPLOADS_S3_REGION", ""),
            s3_access_key_id=reader.text("HAULER_UPLOADS_S3_ACCESS_KEY_ID", ""),
            s3_secret_access_key=reader.text("HAULER_UPLOADS_S3_SECRET_ACCESS_KEY", ""),
            s3_addressing_style=reader.choice(
                "HAULER_UPLOADS_S3_ADDRESSING_STYLE", "AUTO", ADDRESSING_STYLES
            ).lower(),
            s3_multipart_threshold=reader.integer(
                "HAULER_UPLOADS_S3_MULTIPART_THRESHOLD", 8 * MIB, minimum=S3_MIN_PART
            ),
            s3_part_size=reader.integer(
                "HAULER_UPLOADS_S3_PART_SIZE", 8 * MIB, minimum=S3_MIN_PART
            ),
            s3_max_concurrency=reader.integer(
                "HAULER_UPLOADS_S3_MAX_CONCURRENCY", 4, minimum=1, maximum=64
            ),
        )
        reader.problems.extend(settings._problems())
        return settings

    def secrets(self) -> tuple[str, ...]:
        """The configured secrets (the S3 secret key), to be masked wherever they appear."""
        return (self.s3_secret_access_key,) if self.s3_secret_access_key else ()

    def _problems(self) -> list[str]:
        problems = []
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            problems.append(
                "HAULER_UPLOADS_S3_ACCESS_KEY_ID and HAULER_UPLOADS_S3_SECRET_ACCESS_KEY "
                "must be set together"
            )
        endpoint = self.s3_endpoint_url
        if endpoint and not endpoint.startswith(("http://", "https://")):
            problems.append(
                f"HAULER_UPLOADS_S3_ENDPOINT_URL={endpoint!r} must be a URL starting with "
                "http:// or https://"
            )
        return problems


def _paths(raw: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser().resolve() for p in raw.split(":") if p.strip())


def _names(raw: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in raw.split(",") if a.strip())
