"""The recorder's HTTP endpoint: ``/metrics``, ``/health`` and POST routes (the alert intake)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hauler.health.document import MEDIA_TYPE, http_status

log = logging.getLogger(__name__)

#: Returns the application/health+json document to serve (503 when its status is fail).
HealthCheck = Callable[[], dict[str, Any]]
#: A POST route: (body, headers) → (HTTP status, JSON answer).
PostHandler = Callable[[bytes, Mapping[str, str]], tuple[int, dict[str, Any]]]
#: Largest POST body read, in bytes.
MAX_POST_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    """GET /metrics and /health; POST to the routes given."""

    registry: ClassVar[CollectorRegistry]
    health: ClassVar[HealthCheck]
    posts: ClassVar[Mapping[str, PostHandler]] = {}

    def do_GET(self) -> None:
        if self.path.startswith("/metrics"):
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.registry))
        elif self.path.startswith("/health"):
            document = type(self).health()
            body = json.dumps(document, default=str).encode()
            self._send(http_status(document), MEDIA_TYPE, body)
        else:
            self._send(404, "text/plain", b"not found\n")

    def do_POST(self) -> None:
        route = self.posts.get(self.path.split("?", 1)[0])
        if route is None:
            self._send(404, "text/plain", b"not found\n")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_POST_BODY:
            self._json(413, {"status": "error", "error": "body too large or length missing"})
            return
        body = self.rfile.read(length)
        try:
            status, answer = route(body, dict(self.headers.items()))
        except Exception as exc:  # a broken route answers 500, the server goes on
            log.warning("POST %s failed: %s", self.path, type(exc).__name__)
            status, answer = 500, {"status": "error", "error": type(exc).__name__}
        self._json(status, answer)

    def _json(self, status: int, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="hauler"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(
    registry: CollectorRegistry,
    health: HealthCheck,
    host: str,
    port: int,
    posts: Mapping[str, PostHandler] | None = None,
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; return the server (``server_port`` is the port)."""
    bound = type(
        "BoundHandler",
        (Handler,),
        {"registry": registry, "health": staticmethod(health), "posts": dict(posts or {})},
    )
    server = ThreadingHTTPServer((host, port), bound)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="recorder-http", daemon=True).start()
    return server
