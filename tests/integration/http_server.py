"""A loopback HTTP server for download and upload tests: ranges, faults, redirects, uploads."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, ClassVar


@dataclass
class Resource:
    """A file the server offers and how it misbehaves."""

    body: bytes
    fail_first: int = 0  # answer fail_status (500) this many times first
    fail_status: int = 500  # e.g. 503
    cut_after: int | None = None  # drop the connection after this many bytes (once)
    disposition: str | None = None  # Content-Disposition header
    status: int = 200  # e.g. 404
    ranges: bool = True  # honour Range requests
    redirect_to: str | None = None
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks
    send_length: bool = True  # False: no Content-Length on a 200, the body ends at close
    gate: threading.Event | None = None  # when set: the second half of the body waits for it
    hits: int = 0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class LoopbackServer:
    """Serves ``resources`` on ``host`` (127.0.0.1):<port>; stores PUT/POST bodies in ``received``.

    Each received upload is ``{"method", "headers", "bytes", "sha256"}`` plus ``"body"``
    (or ``"file"``, a path, when ``spool_dir`` is set, so large bodies never sit in
    memory) and, for multipart POSTs held in memory, ``"parts"``: ``[{"name",
    "filename", "content_type", "body"}]``. Every upload attempt, answered or not, is
    logged in ``upload_log`` as ``(time, method, path, status)``.
    """

    resources: dict[str, Resource] = field(default_factory=dict)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    range_requests: list[str] = field(default_factory=list)
    fail_uploads: int = 0  # answer this many uploads with 503 first
    spool_dir: Path | None = None  # stream upload bodies to files here instead of memory
    receive_delay: float = 0.0  # seconds between 64 KiB pieces read under /slow/
    upload_log: list[tuple[float, str, str, int]] = field(default_factory=list)
    host: str = "127.0.0.1"  # another loopback address (127.0.0.2) for SSRF tests

    def start(self) -> LoopbackServer:
        handler = type("BoundHandler", (Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer((self.host, 0), handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.httpd.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Handler(BaseHTTPRequestHandler):
    """Answers from the bound server's resources; misbehaves as each resource says."""

    protocol_version = "HTTP/1.1"
    server_state: ClassVar[LoopbackServer]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        resource = self.server_state.resources.get(self.path.split("?")[0])
        if resource is None:
            self._plain(404, b"not found")
            return
        resource.hits += 1
        if resource.redirect_to:
            self.send_response(302)
            self.send_header("Location", resource.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif resource.fail_first > 0:
            resource.fail_first -= 1
            self._plain(resource.fail_status, b"try again")
        elif resource.status != 200:
            self._plain(resource.status, b"no")
        else:
            self._send_body(resource)

    def _range_start(self, resource: Resource) -> int | None:
        """Where a satisfiable Range request starts, or None to send the whole body."""
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if not wanted or not resource.ranges or if_range not in (None, resource.etag):
            return None
        self.server_state.range_requests.append(wanted)
        match = re.match(r"bytes=(\d+)-", wanted)
        return int(match.group(1)) if match else 0

    def _send_body(self, resource: Resource) -> None:
        size = len(resource.body)
        start = self._range_start(resource)
        if start is not None and start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = resource.body[start or 0 :]
        self.send_response(200 if start is None else 206)
        if resource.send_length or start is not None:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("ETag", resource.etag)
        self.send_header("Accept-Ranges", "bytes")
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        if resource.disposition:
            self.send_header("Content-Disposition", resource.disposition)
        self.end_headers()
        cut, resource.cut_after = resource.cut_after, None
        self._write(body, cut, resource.chunk_delay, resource.gate)

    def _write(
        self, body: bytes, cut: int | None, delay: float, gate: threading.Event | None = None
    ) -> None:
        sent, step = 0, 64 * 1024
        try:
            while sent < len(body):
                if cut is not None and sent >= cut:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                piece = body[sent : sent + step]
                self.wfile.write(piece)
                sent += len(piece)
                if gate is not None and sent >= len(body) // 2:
                    gate.wait(timeout=120)  # a test holds the transfer mid-body
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_PUT(self) -> None:
        self._receive("PUT")

    def do_POST(self) -> None:
        self._receive("POST")

    def _receive(self, method: str) -> None:
        state = self.server_state
        entry = {"method": method, "headers": dict(self.headers), **self._read_body()}
        if state.fail_uploads > 0:
            state.fail_uploads -= 1
            status = 503
        elif self.path.startswith("/forbidden"):
            status = 403
        else:
            status = 201 if method == "PUT" else 200
            if method == "POST" and "body" in entry:
                entry["parts"] = _form_parts(self.headers.get("Content-Type", ""), entry["body"])
            state.received.setdefault(self.path, []).append(entry)
        state.upload_log.append((time.time(), method, self.path, status))
        etag = '"' + entry["sha256"][:16] + '"' if status < 300 else None
        self._plain(
            status, {201: b"created", 200: b"ok", 403: b"forbidden"}.get(status, b"busy"), etag=etag
        )

    def _read_body(self) -> dict[str, Any]:
        """The request body, hashed, in memory or (with ``spool_dir``) in a file."""
        spool_dir = self.server_state.spool_dir
        if spool_dir is None:
            sink = io.BytesIO()
            entry = self._copy_body(sink)
            entry["body"] = sink.getvalue()
            return entry
        with tempfile.NamedTemporaryFile(dir=spool_dir, delete=False) as spool:
            entry = self._copy_body(spool)
        entry["file"] = Path(spool.name)
        return entry

    def _copy_body(self, sink: BinaryIO) -> dict[str, Any]:
        """Copy the body to ``sink`` in 64 KiB pieces (slowly under /slow/)."""
        length = int(self.headers.get("Content-Length", "0"))
        delay = self.server_state.receive_delay if self.path.startswith("/slow/") else 0.0
        digest, received = hashlib.sha256(), 0
        while received < length:
            piece = self.rfile.read(min(length - received, 64 * 1024))
            if not piece:
                break
            received += len(piece)
            digest.update(piece)
            sink.write(piece)
            if delay:
                time.sleep(delay)
        return {"bytes": received, "sha256": digest.hexdigest()}

    def _plain(self, status: int, text: bytes, etag: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(text)


def _form_parts(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """The parts of a ``multipart/form-data`` body (parsed with the standard library)."""
    document = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(document)
    if not message.is_multipart():
        return []
    return [
        {
            "name": part.get_param("name", header="content-disposition"),
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "body": part.get_payload(decode=True),
        }
        for part in message.iter_parts()
    ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
