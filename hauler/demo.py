"""The demo job `make run` enqueues once `hauler up` is serving: proof the stack works.

Every queue is pinged; then the main job runs for real: a picture served on loopback by
this process is downloaded (checksum verified), pushed to an outbox directory by the
chained upload, and thumbnailed — one correlation id for the whole story.
"""

from __future__ import annotations

import hashlib
import io
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hauler.correlation import CORRELATION_HEADER
from hauler.settings import get_settings


def _wait_for_workers(app: Any, logs: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            app.send_task("health.ping").get(timeout=5)
            return
        except Exception:  # workers still starting
            time.sleep(1)
    raise SystemExit(f"hauler: workers did not answer within {timeout:g} s; see the logs in {logs}")


def _picture() -> bytes:
    """A 1280x720 JPEG, the same bytes every run (so a second run finds them in place)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, 720), (24, 64, 120))
    draw = ImageDraw.Draw(image)
    for i in range(0, 1280, 80):
        draw.rectangle((i, 0, i + 39, 720), fill=(240, 180, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _serve(body: bytes) -> ThreadingHTTPServer:
    """Serve ``body`` at /demo.jpg on 127.0.0.1 (a free port) from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _main_job(app: Any, headers: dict[str, str]) -> None:
    """Download → upload (chained) → thumbnail, printed as it goes."""
    settings = get_settings()
    body = _picture()
    server = _serve(body)
    url = f"http://127.0.0.1:{server.server_port}/demo.jpg"
    outbox = settings.data_dir / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    then = [{"task": "uploads.push", "kwargs": {"destination": outbox.as_uri() + "/"}}]
    kwargs = {"dest": "demo", "sha256": hashlib.sha256(body).hexdigest(), "then": then}
    fetched = app.send_task("downloads.fetch", args=[url], kwargs=kwargs, headers=headers)
    done = fetched.get(timeout=120)
    print(f"demo: downloaded {done['bytes']} bytes with {done['client']} → {done['path']}")
    pushed = app.AsyncResult(done["then"]).get(timeout=120)
    print(f"demo: uploaded (sha256 {pushed['sha256'][:12]}…) → {pushed['destination']}")
    thumb = app.send_task(
        "media.thumbnail", args=[done["path"]], kwargs={"width": 320}, headers=headers
    ).get(timeout=120)
    print(f"demo: thumbnail {thumb['width']}x{thumb['height']} → {thumb['path']}")
    server.shutdown()


def main() -> int:
    """Enqueue the demo job, wait for it, and print where to look."""
    from workers.app import app

    settings = get_settings()
    _wait_for_workers(app, settings.data_dir / "logs")
    correlation = f"demo-{int(time.time())}"
    headers = {CORRELATION_HEADER: correlation}
    pings = [app.send_task(f"{q}.ping", headers=headers) for q in settings.queues]
    answered = [r.get(timeout=60)["queue"] for r in pings]
    print(f"\ndemo: every queue answered: {', '.join(answered)}")
    _main_job(app, headers)
    time.sleep(2)  # the recorder writes activity in batches (HAULER_RECORDER_FLUSH_SECONDS)
    report = app.send_task("reports.daily", headers=headers).get(timeout=60)
    print(f"demo: daily report outcomes so far: {report['outcomes']}")
    print("\nwhere to look:")
    print(f"  hauler activity --correlation {correlation}   the demo's timeline")
    print("  hauler status                               queues, workers, failures")
    print(f"  http://127.0.0.1:{settings.flower_port}/                     Flower")
    print(f"  http://127.0.0.1:{settings.recorder_port}/metrics              Prometheus metrics")
    print(f"  {settings.data_dir}/logs/                  process logs")
    print("Ctrl-C stops everything.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
