"""Loopback webhook receivers that behave like Slack's, Discord's and a generic one.

- ``slack``: answers ``ok``; takes one message per second and answers a faster one with
  429 and ``Retry-After: 1`` (Slack's incoming-webhook limit); refuses a header block
  over 150 characters or a section over 3,000 (``invalid_blocks``), as Slack does.
- ``discord``: answers 204; refuses ``content`` over 2,000 characters or an embed over
  its limits with 400 and Discord's error JSON; sends ``X-RateLimit-*`` headers and,
  past ``burst`` messages per window, 429 with ``retry_after`` (seconds) in its body.
- ``json``: answers 200; ``fail_next`` answers that many requests with 429 and
  ``Retry-After`` (``retry_after`` seconds) first.

Every request received (accepted or refused) is in ``requests`` with its time.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    at: float
    path: str
    body: dict[str, Any]
    status: int
    headers: dict[str, str]


@dataclass
class FakeReceiver:
    """One loopback webhook of ``kind`` (slack | discord | json)."""

    kind: str
    fail_next: int = 0  # json: answer this many with 429 first
    retry_after: float = 1.0  # seconds asked for in a 429
    burst: int = 5  # discord: messages per window
    window: float = 2.0  # discord: the window, seconds
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeReceiver:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                with state.lock:
                    status, headers, answer = state.answer(body)
                    state.requests.append(
                        Received(time.time(), self.path, body, status, dict(self.headers.items()))
                    )
                payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    @property
    def url(self) -> str:
        # the path stands for the webhook's token, as in Slack's and Discord's URLs
        return f"http://127.0.0.1:{self.httpd.server_port}/hooks/T0SECRET/B0SECRET/xoxTOKEN123"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if self.kind == "slack":
            return self._slack(body)
        if self.kind == "discord":
            return self._discord(body)
        if self.fail_next > 0:
            self.fail_next -= 1
            return 429, {"Retry-After": f"{self.retry_after:g}"}, {"error": "slow down"}
        return 200, {}, {"status": "ok"}

    def _slack(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        now = time.time()
        last = [r.at for r in self.accepted]
        if last and now - last[-1] < 1.0:
            return 429, {"Retry-After": "1"}, b"rate_limited"
        if not body.get("text") and not body.get("blocks"):
            return 400, {}, b"no_text"
        for block in body.get("blocks") or ():
            text = (block.get("text") or {}).get("text", "")
            limit = 150 if block.get("type") == "header" else 3000
            if len(text) > limit:
                return 400, {}, b"invalid_blocks"
        return 200, {"Content-Type": "text/html"}, b"ok"

    def _discord(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        now = time.time()
        recent = [r for r in self.accepted if now - r.at < self.window]
        reset_after = self.window - (now - recent[0].at) if recent else self.window
        headers = {
            "X-RateLimit-Limit": str(self.burst),
            "X-RateLimit-Remaining": str(max(0, self.burst - len(recent) - 1)),
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "webhook",
        }
        if len(recent) >= self.burst:
            answer = {"message": "You are being rate limited.", "retry_after": reset_after}
            return (
                429,
                {**headers, "Retry-After": str(int(reset_after) + 1)},
                answer | {"global": False},
            )
        problems = _discord_problems(body)
        if problems:
            return 400, {}, {"code": 50035, "message": "Invalid Form Body", "errors": problems}
        return 204, headers, b""


def _discord_problems(body: dict[str, Any]) -> dict[str, str]:
    problems = {}
    if len(body.get("content") or "") > 2000:
        problems["content"] = "Must be 2000 or fewer in length."
    total = 0
    for n, embed in enumerate(body.get("embeds") or ()):
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            size = len(embed.get(key) or "")
            total += size
            if size > limit:
                problems[f"embeds.{n}.{key}"] = f"Must be {limit} or fewer in length."
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems[f"embeds.{n}.fields"] = "Must be 25 or fewer in length."
        for f in fields:
            total += len(f.get("name", "")) + len(f.get("value", ""))
            if len(f.get("name", "")) > 256 or len(f.get("value", "")) > 1024:
                problems[f"embeds.{n}.fields"] = "Field too long."
        total += len((embed.get("footer") or {}).get("text", ""))
    if total > 6000:
        problems["embeds"] = "Embed size exceeds maximum size of 6000"
    if not body.get("content") and not body.get("embeds"):
        problems["content"] = "Cannot send an empty message"
    return problems
