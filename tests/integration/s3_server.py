"""moto's standalone S3 server on 127.0.0.1, the S3 peer of the upload tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.integration.http_server import free_port

REGION = "us-east-1"
KEY_ID = "testing"  # moto accepts any credentials
SECRET = "testing"


@dataclass
class MotoServer:
    """A running ``moto_server`` subprocess."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def start(cls, log: Path, timeout: float = 30.0) -> MotoServer:
        port = free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = cls(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(requests.RequestException):
                requests.get(server.url + "/moto-api/", timeout=1)
                return server
            time.sleep(0.2)
        server.stop()
        raise AssertionError(f"moto_server did not start:\n{log.read_text(errors='replace')}")

    def client(self) -> Any:
        """A boto3 S3 client for this server, to look at what landed."""
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )

    def env(self) -> dict[str, str]:
        """The HAULER_UPLOADS_S3_* variables that point Hauler at this server."""
        return {
            "HAULER_UPLOADS_S3_ENDPOINT_URL": self.url,
            "HAULER_UPLOADS_S3_REGION": REGION,
            "HAULER_UPLOADS_S3_ACCESS_KEY_ID": KEY_ID,
            "HAULER_UPLOADS_S3_SECRET_ACCESS_KEY": SECRET,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
