"""``s3://bucket/key`` destinations on any S3-compatible store (boto3, the ``s3`` extra).

Large files go up in parts (boto3's transfer manager reads each part from disk as it
sends it). The file's sha256 is stored as object metadata (``x-amz-meta-sha256``); an
object that already has the same size and sha256 is not sent again. After the upload a
HEAD confirms the size and checksum (skipped when the credentials may only write).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

from hauler.errors import (
    ConfigurationError,
    HaulerError,
    InvalidArgument,
    PermanentError,
    RetryableError,
)
from hauler.httpstatus import retryable_status
from hauler.progress import Meter, ProgressFn
from hauler.redact import register_secret
from hauler.uploads.base import SHA256_METADATA, Sent, Upload
from hauler.uploads.settings import UploadSettings

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024
# Error codes S3 and its look-alikes send for a busy or briefly broken service.
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestTimeout",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
    }
)
INSTALL_HINT = "s3:// uploads need boto3: pip install 'hauler[s3]'"


def parse_s3(url: str, name: str) -> tuple[str, str]:
    """Bucket and key of ``s3://bucket/key``; a key that is empty or ends in ``/`` gets ``name``.

    The key is taken literally (as the AWS CLI does): no percent-decoding.
    """
    if not url.lower().startswith("s3://"):
        raise InvalidArgument("destination", f"{url!r} is not an s3://bucket/key URL")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise InvalidArgument("destination", f"{bucket!r} is not a valid S3 bucket name")
    if not key or key.endswith("/"):
        key += name
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidArgument("destination", f"the key is longer than {MAX_KEY_BYTES} bytes")
    return bucket, key


def s3_error(where: str, code: str, status: int, message: str) -> HaulerError:
    """What an S3 error response means: throttling, timeouts and 5xx retry; the rest do not."""
    text = f"{where}: {code or 'HTTP'} ({status}): {message or 'no message'}"
    if code in RETRYABLE_CODES or retryable_status(status):
        return RetryableError(text + "; will try again")
    return PermanentError(text)


def load_boto3() -> Any:
    """The boto3 module.

    Raises:
        ConfigurationError: boto3 is not installed; says how to install it.
    """
    try:
        import boto3
    except ImportError:
        raise ConfigurationError([INSTALL_HINT]) from None
    return boto3


class S3Destination:
    """Uploads to S3 or an S3-compatible store (MinIO, Ceph, moto, …)."""

    schemes: tuple[str, ...] = ("s3",)

    def __init__(self, settings: UploadSettings) -> None:
        register_secret(*settings.secrets())  # never in an error, result or log line
        self.settings = settings
        self._client: Any = None

    def validate(self, url: str) -> None:
        parse_s3(url, "upload")

    def send(self, upload: Upload, progress: ProgressFn) -> Sent:
        bucket, key = parse_s3(upload.url, upload.path.name)
        url = f"s3://{bucket}/{key}"
        client = self.client()
        with s3_errors(url):
            there = _head(client, bucket, key)
            if _holds(there, upload):
                return Sent(url, upload.size, etag=_etag(there), skipped=True)
            self._transfer(client, upload, bucket, key, Meter(upload.size, progress))
            there = _head(client, bucket, key)
        if there is not None and not _holds(there, upload):
            raise RetryableError(
                f"{url} does not hold the bytes just sent (size {there.get('ContentLength')}, "
                f"sha256 {_metadata_sha256(there)}); will send again"
            )
        return Sent(url, upload.size, etag=_etag(there))

    def client(self) -> Any:
        """A boto3 S3 client configured from the settings (or boto3's own chain)."""
        if self._client is None:
            boto3 = load_boto3()
            from botocore.config import Config

            config = self.settings
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=config.s3_endpoint_url or None,
                region_name=config.s3_region or None,
                aws_access_key_id=config.s3_access_key_id or None,
                aws_secret_access_key=config.s3_secret_access_key or None,
                config=Config(
                    connect_timeout=config.http_timeout,
                    read_timeout=config.http_timeout,
                    retries={"mode": "standard", "max_attempts": 3},
                    s3={"addressing_style": config.s3_addressing_style},
                ),
            )
        return self._client

    def _transfer(self, client: Any, upload: Upload, bucket: str, key: str, meter: Meter) -> None:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        config = TransferConfig(
            multipart_threshold=self.settings.s3_multipart_threshold,
            multipart_chunksize=self.settings.s3_part_size,
            max_concurrency=self.settings.s3_max_concurrency,
            use_threads=True,
            preferred_transfer_client="classic",
        )
        extra = {"Metadata": {SHA256_METADATA: upload.sha256}, "ContentType": upload.content_type}
        counter = _Counter()
        with create_transfer_manager(client, config) as manager:
            future = manager.upload(
                str(upload.path), bucket, key, extra_args=extra, subscribers=[counter]
            )
            while not future.done():  # report from this thread: task state is per thread
                counter.changed.wait(0.5)
                counter.changed.clear()
                meter.at(counter.done)
            future.result()
        meter.at(counter.done)
        meter.finish()


class _Counter:
    """Counts bytes the transfer threads report (an s3transfer subscriber)."""

    def __init__(self) -> None:
        self.done = 0
        self.changed = threading.Event()
        self._lock = threading.Lock()

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        return

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        with self._lock:
            self.done += bytes_transferred  # negative when a part is retried
        self.changed.set()

    def on_done(self, future: Any, **kwargs: Any) -> None:
        self.changed.set()


def _head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The object's HEAD, or None when it is missing or the credentials may not read it."""
    from botocore.exceptions import ClientError

    try:
        return dict(client.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (403, 404):
            return None
        raise


def _holds(there: dict[str, Any] | None, upload: Upload) -> bool:
    if there is None:
        return False
    return there.get("ContentLength") == upload.size and _metadata_sha256(there) == upload.sha256


def _metadata_sha256(there: dict[str, Any]) -> str | None:
    value = there.get("Metadata", {}).get(SHA256_METADATA)
    return str(value) if value is not None else None


def _etag(there: dict[str, Any] | None) -> str | None:
    return str(there["ETag"]) if there and there.get("ETag") else None


@contextlib.contextmanager
def s3_errors(where: str) -> Iterator[None]:
    """Translate boto3's exceptions into Hauler's retryable / permanent / configuration ones."""
    from botocore import exceptions as boto

    try:
        yield
    except boto.ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        raise s3_error(where, error.get("Code", ""), status, error.get("Message", "")) from None
    except (boto.ConnectionError, boto.HTTPClientError) as exc:
        raise RetryableError(f"{where}: {exc}; will try again") from None
    except (boto.NoCredentialsError, boto.PartialCredentialsError) as exc:
        raise ConfigurationError(
            [
                f"{where}: {exc}; set HAULER_UPLOADS_S3_ACCESS_KEY_ID and "
                "HAULER_UPLOADS_S3_SECRET_ACCESS_KEY, or configure boto3's credential chain"
            ]
        ) from None
    except boto.BotoCoreError as exc:
        raise PermanentError(f"{where}: {exc}") from None
