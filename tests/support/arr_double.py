"""A protocol double of Sonarr's/Radarr's v3 queue, blocklist and command endpoints.

Sonarr and Radarr cannot be installed here; this loopback server answers the calls
Hauler makes the way Sonarr's QueueController and CommandController do:
``GET /api/v3/queue?page=&pageSize=`` (a paging resource of records with ``id``,
``downloadId``, ``episodeId`` or ``movieId``), ``DELETE /api/v3/queue/{id}`` (with
``removeFromClient``, ``blocklist``, ``skipRedownload``), ``POST /api/v3/command``
(answers the queued command with an ``id``). Every call needs ``X-Api-Key``; a wrong
key answers 401. The calls are kept in ``calls`` for the tests to read.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class ArrDouble:
    """A Sonarr (``episodeId`` records) or Radarr (``movieId``) at 127.0.0.1:<port>."""

    api_key: str
    records: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    commands: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> ArrDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                double._handle(self, "GET")

            def do_DELETE(self) -> None:
                double._handle(self, "DELETE")

            def do_POST(self) -> None:
                double._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length)) if length else None
        self.calls.append(
            {
                "method": method,
                "path": parts.path,
                "query": query,
                "body": body,
                "key": request.headers.get("X-Api-Key"),
            }
        )
        if request.headers.get("X-Api-Key") != self.api_key:
            return _reply(request, 401, {"error": "Unauthorized"})
        if method == "GET" and parts.path == "/api/v3/queue":
            page, size = int(query.get("page", 1)), int(query.get("pageSize", 10))
            chunk = self.records[(page - 1) * size : page * size]
            paging = {"page": page, "pageSize": size, "totalRecords": len(self.records)}
            return _reply(request, 200, {**paging, "records": chunk})
        if method == "DELETE" and parts.path.startswith("/api/v3/queue/"):
            wanted = int(parts.path.rsplit("/", 1)[1])
            before = len(self.records)
            self.records = [r for r in self.records if r["id"] != wanted]
            return _reply(request, 200 if len(self.records) < before else 404, {})
        if method == "POST" and parts.path == "/api/v3/command":
            self.commands += 1
            return _reply(request, 201, {"id": self.commands, **(body or {}), "status": "queued"})
        return _reply(request, 404, {"message": "NotFound"})


def _reply(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
