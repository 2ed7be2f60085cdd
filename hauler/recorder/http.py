"""The recorder's HTTP endpoint: ``/metrics`` for Prometheus and ``/health``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hauler.health.document import MEDIA_TYPE, http_status

#: Returns the application/health+json document to serve (503 when its status is fail).
HealthCheck = Callable[[], dict[str, Any]]


def serve(
    registry: CollectorRegistry, health: HealthCheck, host: str, port: int
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; return the server (``server_port`` is the port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif self.path.startswith("/health"):
                document = health()
                body = json.dumps(document, default=str).encode()
                self._send(http_status(document), MEDIA_TYPE, body)
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="recorder-http", daemon=True).start()
    return server
