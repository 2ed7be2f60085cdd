"""The pure parts of uploads: settings, URL parsing, error mapping, bodies, progress, checks."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import sys
from pathlib import Path

import pytest

from hauler.errors import (
    ConfigurationError,
    InvalidArgument,
    PermanentError,
    RetryableError,
    Unsupported,
)
from hauler.progress import Meter, Progress
from hauler.redact import redact_url
from hauler.settings import Settings
from hauler.uploads import service
from hauler.uploads.base import Upload
from hauler.uploads.file import FileDestination
from hauler.uploads.http import StreamedBody, multipart_frame, status_error
from hauler.uploads.s3 import INSTALL_HINT, S3Destination, load_boto3, parse_s3, s3_error
from hauler.uploads.settings import UploadSettings

MIB = 1024 * 1024


# --- settings ---------------------------------------------------------------------------------


def test_upload_settings_default_to_safe_values_without_environment():
    settings = Settings.from_env({})
    uploads = settings.uploads
    assert uploads == UploadSettings()
    assert (uploads.roots, uploads.file_roots, uploads.allow_networks) == ((), (), ())
    assert uploads.s3_part_size == 8 * MIB and uploads.s3_addressing_style == "auto"


def test_upload_settings_are_read_from_the_environment(tmp_path: Path):
    settings = Settings.from_env(
        {
            "HAULER_UPLOADS_ROOTS": f"{tmp_path}/a:{tmp_path}/b",
            "HAULER_UPLOADS_FILE_ROOTS": str(tmp_path / "out"),
            "HAULER_UPLOADS_ALLOW_NETWORKS": "10.0.0.0/8, nas.local",
            "HAULER_UPLOADS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "HAULER_UPLOADS_S3_ACCESS_KEY_ID": "key",
            "HAULER_UPLOADS_S3_SECRET_ACCESS_KEY": "secret",
            "HAULER_UPLOADS_S3_ADDRESSING_STYLE": "path",
            "HAULER_UPLOADS_S3_PART_SIZE": str(16 * MIB),
        }
    )
    uploads = settings.uploads
    assert uploads.roots == (tmp_path / "a", tmp_path / "b")
    assert uploads.file_roots == (tmp_path / "out",)
    assert uploads.allow_networks == ("10.0.0.0/8", "nas.local")
    assert (uploads.s3_addressing_style, uploads.s3_part_size) == ("path", 16 * MIB)


def test_every_bad_upload_setting_is_reported():
    env = {
        "HAULER_UPLOADS_S3_ACCESS_KEY_ID": "key-without-secret",
        "HAULER_UPLOADS_S3_ENDPOINT_URL": "minio:9000",
        "HAULER_UPLOADS_S3_PART_SIZE": "1024",
        "HAULER_UPLOADS_S3_ADDRESSING_STYLE": "sideways",
        "HAULER_UPLOADS_HTTP_TIMEOUT": "soon",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    joined = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 5
    for key in env:
        assert key in joined


# --- arguments --------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    (data / "downloads").mkdir(parents=True)
    return Settings(data_dir=data, download_dir=data / "downloads")


def test_bad_arguments_fail_naming_the_argument(settings: Settings, tmp_path: Path):
    # given a good file, a good destination, and one bad value at a time
    good = settings.data_dir / "ok.txt"
    good.write_text("ok")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("no")
    into = (settings.data_dir / "out").as_uri() + "/"
    cases = [
        ("path", {"path": "relative.txt"}),
        ("path", {"path": str(settings.data_dir / "missing.txt")}),
        ("path", {"path": str(settings.download_dir)}),
        ("path", {"path": str(outside)}),
        ("path", {"path": 42}),
        ("destination", {"destination": "not a url"}),
        ("destination", {"destination": None}),
        ("destination", {"destination": "file:///etc/"}),
        ("destination", {"destination": "s3://Bad_Bucket/key"}),
        ("destination", {"destination": "https://bad host/x"}),
        ("delete_after", {"delete_after": "yes"}),
        ("method", {"method": "PATCH"}),
        ("method", {"method": "POST", "destination": into}),
    ]
    for argument, change in cases:
        kwargs = {
            "path": str(good),
            "destination": into,
            "delete_after": False,
            "method": "PUT",
            **change,
        }
        # when the arguments are checked, then the error names that argument
        with pytest.raises(InvalidArgument) as caught:
            service.validate(settings, **kwargs)
        assert caught.value.argument == argument, (change, caught.value)


def test_an_unknown_scheme_is_unsupported(settings: Settings):
    good = settings.data_dir / "ok.txt"
    good.write_text("ok")
    with pytest.raises(Unsupported, match="ftp://"):
        service.validate(settings, str(good), "ftp://example.invalid/x", False, "PUT")


def test_good_arguments_give_a_request(settings: Settings):
    good = settings.download_dir / "ok.txt"
    good.write_text("ok")
    request = service.validate(settings, str(good), "https://example.invalid/u", True, "post")
    assert (request.path, request.method, request.delete_after) == (good, "POST", True)


def test_content_types_come_from_the_file_name():
    assert service.content_type(Path("a.json")) == "application/json"
    assert service.content_type(Path("noextension")) == "application/octet-stream"


# --- destination URLs -------------------------------------------------------------------------


def test_file_urls_name_a_directory_or_a_file(tmp_path: Path):
    destination = FileDestination([tmp_path])
    (tmp_path / "existing").mkdir()
    assert destination.target(f"file://{tmp_path}/new/", "a.bin") == tmp_path / "new" / "a.bin"
    assert destination.target(f"file://{tmp_path}/existing", "a.bin") == (
        tmp_path / "existing" / "a.bin"
    )
    assert destination.target(f"file://{tmp_path}/new/b.bin", "a.bin") == tmp_path / "new/b.bin"
    assert destination.target(f"file://localhost{tmp_path}/c%20d", "a") == tmp_path / "c d"


@pytest.mark.parametrize(
    "url", ["file://host/x", "file:relative", "file:///tmp/../etc/", "file:///dir/x?q=1"]
)
def test_bad_file_urls_are_refused(tmp_path: Path, url: str):
    with pytest.raises(InvalidArgument) as caught:
        FileDestination([tmp_path]).target(url, "a.bin")
    assert caught.value.argument == "destination"


def test_s3_urls_give_bucket_and_a_literal_key():
    assert parse_s3("s3://my-bucket/a/b.bin", "x") == ("my-bucket", "a/b.bin")
    assert parse_s3("s3://my-bucket/a/", "x.bin") == ("my-bucket", "a/x.bin")
    assert parse_s3("s3://my-bucket", "x.bin") == ("my-bucket", "x.bin")
    assert parse_s3("s3://my-bucket/50%25 off?#", "x") == ("my-bucket", "50%25 off?#")


@pytest.mark.parametrize("url", ["s3://", "s3://ab/k", "s3://UPPER/k", "s3://a..b/k", "http://b/k"])
def test_bad_s3_urls_are_refused(url: str):
    with pytest.raises(InvalidArgument) as caught:
        parse_s3(url, "x")
    assert caught.value.argument == "destination"


def test_passwords_are_hidden_in_reported_urls():
    assert redact_url("https://user:pw@host:8443/p?q") == "https://user:***@host:8443/p?q"
    assert redact_url("https://host/p") == "https://host/p"
    assert redact_url("http://u:pw@[::1]:80/p") == "http://u:***@[::1]:80/p"


# --- what peers' answers mean -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (201, None),
        (204, None),
        (408, RetryableError),
        (429, RetryableError),
        (500, RetryableError),
        (503, RetryableError),
        (301, PermanentError),
        (400, PermanentError),
        (403, PermanentError),
        (404, PermanentError),
        (413, PermanentError),
    ],
)
def test_http_statuses_map_to_success_retry_or_give_up(status: int, kind: type | None):
    error = status_error(status, "https://h/x", "Reason")
    if kind is None:
        assert error is None
    else:
        assert type(error) is kind and f"HTTP {status}" in str(error)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("NoSuchBucket", 404, PermanentError),
        ("AccessDenied", 403, PermanentError),
        ("InvalidAccessKeyId", 403, PermanentError),
        ("SlowDown", 503, RetryableError),
        ("Throttling", 400, RetryableError),
        ("RequestTimeout", 400, RetryableError),
        ("InternalError", 500, RetryableError),
        ("", 502, RetryableError),
    ],
)
def test_s3_errors_map_to_retry_or_give_up(code: str, status: int, kind: type):
    error = s3_error("s3://b/k", code, status, "message")
    assert type(error) is kind
    assert "s3://b/k" in str(error)


def test_missing_boto3_is_a_configuration_error_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # given a Python where boto3 cannot be imported
    monkeypatch.setitem(sys.modules, "boto3", None)
    # when an S3 upload needs it, then the error says how to install it
    with pytest.raises(ConfigurationError) as caught:
        load_boto3()
    assert caught.value.problems == [INSTALL_HINT]
    assert "pip install 'hauler[s3]'" in INSTALL_HINT
    source = tmp_path / "a.bin"
    source.write_bytes(b"a")
    upload = Upload(source, "s3://bucket/a.bin", 1, hashlib.sha256(b"a").hexdigest(), "x/y")
    with pytest.raises(ConfigurationError, match="hauler\\[s3\\]"):
        S3Destination(UploadSettings()).send(upload, lambda _: None)


# --- request bodies and progress --------------------------------------------------------------


def test_a_multipart_body_is_streamed_and_parses_as_one_file_field(tmp_path: Path):
    # given a file with an awkward name and the multipart frame around it
    content = bytes(range(256)) * 1000
    source = tmp_path / 'we"ird\nname.bin'
    source.write_bytes(content)
    head, tail = multipart_frame("file", source.name, "application/octet-stream", "b0undary")
    upload = Upload(
        source,
        "https://h/x",
        len(content),
        hashlib.sha256(content).hexdigest(),
        "application/octet-stream",
    )
    seen: list[Progress] = []
    # when it is read the way urllib3 reads a body, 16 KiB at a time
    with StreamedBody(
        upload, Meter(len(content), seen.append, every=0), content_type="m", head=head, tail=tail
    ) as body:
        pieces = list(iter(lambda: body.read(16384), b""))
    # then it is exactly as long as announced and a standard parser finds the file in it
    raw = b"".join(pieces)
    assert len(raw) == len(body) and max(map(len, pieces)) <= 16384
    assert body.sent == len(content) and body.digest.hexdigest() == upload.sha256
    document = b"Content-Type: multipart/form-data; boundary=b0undary\r\n\r\n" + raw
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(document)
    [part] = list(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "we%22ird%0Aname.bin"
    assert part.get_payload(decode=True) == content
    assert seen[-1].done == len(content)


def test_the_meter_reports_at_most_every_interval_and_always_at_the_end():
    # given a meter on a fake clock that reports every 0.5 s
    now = [0.0]
    seen: list[Progress] = []
    meter = Meter(1000, seen.append, every=0.5, clock=lambda: now[0])
    # when 125 bytes arrive every 0.25 s
    for _ in range(8):
        now[0] += 0.25
        meter.add(125)
    meter.finish()
    # then it reported the first batch, then every 0.5 s, then the end, with the rate
    assert [p.done for p in seen] == [125, 375, 625, 875, 1000]
    assert seen[-1] == Progress(1000, 1000, 500.0)
