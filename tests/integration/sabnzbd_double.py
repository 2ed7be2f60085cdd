"""A SABnzbd protocol double: SABnzbd's documented JSON API over loopback HTTP.

SABnzbd is not packaged for Debian bookworm, so its client is tested against this. It
answers ``mode=`` version, queue (with ``name=delete``), history (with ``name=delete``),
addurl, addfile (multipart), retry, and refuses a missing or wrong ``apikey`` as SABnzbd
does (``{"status": false, "error": "API Key Incorrect"}``). It really downloads: a worker
thread fetches the .nzb (addurl), takes each article from the test NNTP server, decodes
its yEnc, advances ``mb``/``mbleft``/``percentage``, then writes the file into
``complete/<job name>/`` and moves the job to the history (``storage`` = that folder).
A missing or corrupt article fails the job as SABnzbd does; ``fail_next`` makes the next
job of a name fail with a given ``fail_message``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests

from hauler.downloads.nzb import BadNzb, Nzb, parse
from tests.integration.nntp_server import NntpServer
from tests.integration.yenc import YencError, decode_part

VERSION = "4.3.3"
API_KEY = "0123456789abcdef0123456789abcdef"  # the tests' key
MIB = 1024 * 1024
NOT_COMPLETE = "Aborted, cannot be completed - https://sabnzbd.org/not-complete"


@dataclass
class DoubleJob:
    """One job, in the queue or in the history."""

    nzo_id: str
    name: str
    category: str
    status: str  # Grabbing, Queued, Downloading, Moving, Completed, Failed
    url: str = ""
    nzb: Nzb | None = None
    done: int = 0  # posted bytes fetched so far
    fail_message: str = ""
    storage: str = ""
    downloaded: int = 0
    completed: int = 0

    @property
    def total(self) -> int:
        return self.nzb.bytes if self.nzb else 0

    def queue_slot(self, index: int) -> dict[str, Any]:
        mb, left = self.total / MIB, (self.total - self.done) / MIB
        percentage = int(100 * self.done / self.total) if self.total else 0
        return {
            "status": self.status,
            "index": index,
            "password": "",
            "avg_age": "1d",
            "script": "None",
            "has_rating": False,
            "mb": f"{mb:.2f}",
            "mbleft": f"{left:.2f}",
            "mbmissing": "0.0",
            "size": f"{mb:.1f} MB",
            "sizeleft": f"{left:.1f} MB",
            "filename": self.name,
            "labels": [],
            "priority": "Normal",
            "cat": self.category,
            "eta": "unknown",
            "timeleft": "0:00:00",
            "percentage": str(percentage),
            "nzo_id": self.nzo_id,
            "unpackopts": "3",
        }

    def history_slot(self, number: int) -> dict[str, Any]:
        return {
            "action_line": "",
            "series": "",
            "script_log": "",
            "meta": None,
            "fail_message": self.fail_message,
            "loaded": self.status not in ("Completed", "Failed"),
            "id": number,
            "size": f"{self.downloaded / MIB:.1f} MB",
            "category": self.category,
            "pp": "D",
            "retry": int(self.status == "Failed"),
            "script": "None",
            "nzb_name": f"{self.name}.nzb",
            "download_time": 1,
            "storage": self.storage,
            "has_rating": False,
            "status": self.status,
            "script_line": "",
            "completed": self.completed,
            "nzo_id": self.nzo_id,
            "downloaded": self.downloaded,
            "report": "",
            "password": "",
            "path": self.storage,
            "postproc_time": 0,
            "name": self.name,
            "url": self.url or f"{self.name}.nzb",
            "md5sum": "",
            "bytes": self.downloaded,
            "url_info": "",
            "stage_log": [],
        }


@dataclass
class SabnzbdDouble:
    """Serves SABnzbd's API on 127.0.0.1:<port>/api and runs its jobs in a thread."""

    api_key: str
    news: NntpServer
    root: Path
    article_delay: float = 0.02  # seconds per article, so progress can be seen
    queue: list[DoubleJob] = field(default_factory=list)
    history: list[DoubleJob] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # job name -> fail_message
    paused: bool = False  # True holds every job in the queue
    calls: list[dict[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def start(self) -> SabnzbdDouble:
        self._counter = 0
        self._running = True
        (self.root / "complete").mkdir(parents=True, exist_ok=True)
        handler = type("BoundSabnzbdHandler", (SabnzbdHandler,), {"double": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/api"

    def stop(self) -> None:
        self._running = False
        self.httpd.shutdown()
        self.httpd.server_close()
        self.worker.join(timeout=5)

    def fail_next(self, name: str, fail_message: str) -> None:
        """The next job called ``name`` fails with ``fail_message`` once it is downloaded."""
        with self.lock:
            self.failures[name] = fail_message

    def new_job(self, name: str, category: str, url: str = "", nzb: Nzb | None = None) -> str:
        with self.lock:
            self._counter += 1
            nzo_id = f"SABnzbd_nzo_{self._counter:06x}"
            status = "Queued" if nzb else "Grabbing"
            self.queue.append(DoubleJob(nzo_id, name, category or "*", status, url, nzb))
            return nzo_id

    def _work(self) -> None:
        while self._running:
            job = self._next_job()
            if job is None:
                time.sleep(0.02)
            else:
                self._run(job)

    def _next_job(self) -> DoubleJob | None:
        with self.lock:
            if self.paused:
                return None
            return next((j for j in self.queue if j.status in ("Grabbing", "Queued")), None)

    def _run(self, job: DoubleJob) -> None:
        if job.nzb is None and not self._grab(job):
            return
        assert job.nzb is not None
        job.status = "Downloading"
        files: dict[str, bytearray] = {}
        for posted in job.nzb.files:
            for segment in posted.segments:
                if not self._still_queued(job):
                    return
                if not self._fetch(job, segment.message_id, files):
                    self._to_history(job, "Failed", NOT_COMPLETE)
                    return
                job.done += segment.bytes
                time.sleep(self.article_delay)
        self._post_process(job, files)

    def _grab(self, job: DoubleJob) -> bool:
        """Fetch the .nzb of an addurl job, as SABnzbd's URL grabber does."""
        try:
            response = requests.get(job.url, timeout=10)
            response.raise_for_status()
            job.nzb = parse(response.content)
        except (requests.RequestException, BadNzb) as exc:
            self._to_history(job, "Failed", f"URL Fetching failed; {exc}")
            return False
        return True

    def _fetch(self, job: DoubleJob, message_id: str, files: dict[str, bytearray]) -> bool:
        article = self.news.get(message_id)
        if article is None:
            return False
        try:
            part = decode_part(article.body)
        except YencError:
            return False
        data = files.setdefault(part.name, bytearray(part.file_size))
        data[part.begin : part.begin + len(part.data)] = part.data
        return True

    def _still_queued(self, job: DoubleJob) -> bool:
        with self.lock:
            return job in self.queue

    def _post_process(self, job: DoubleJob, files: dict[str, bytearray]) -> None:
        with self.lock:
            message = self.failures.pop(job.name, None)
        if message is not None:
            self._to_history(job, "Failed", message)
            return
        self._to_history(job, "Moving", "")
        time.sleep(0.1)  # post-processing is visible in the history for a moment
        folder = self._unique(self.root / "complete" / job.name)
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        job.downloaded = sum(len(d) for d in files.values())
        job.storage = str(folder)
        job.status = "Completed"

    def _to_history(self, job: DoubleJob, status: str, fail_message: str) -> None:
        with self.lock:
            if job in self.queue:
                self.queue.remove(job)
            if job not in self.history:
                self.history.insert(0, job)
            job.status, job.fail_message, job.completed = status, fail_message, int(time.time())

    @staticmethod
    def _unique(folder: Path) -> Path:
        candidate, number = folder, 0
        while candidate.exists():
            number += 1
            candidate = folder.with_name(f"{folder.name}.{number}")
        return candidate


class SabnzbdHandler(BaseHTTPRequestHandler):
    """Answers ``/api`` from the bound double."""

    double: ClassVar[SabnzbdDouble]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._answer(_params(self.path), {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        kind = self.headers.get("Content-Type", "")
        params: dict[str, str] = _params(self.path)
        uploads: dict[str, tuple[str, bytes]] = {}
        if kind.startswith("multipart/form-data"):
            fields, uploads = _multipart(kind, body)
            params.update(fields)
        elif kind.startswith("application/x-www-form-urlencoded"):
            params.update(_params("?" + body.decode()))
        self._answer(params, uploads)

    def _answer(self, params: dict[str, str], uploads: dict[str, tuple[str, bytes]]) -> None:
        if urlsplit(self.path).path.rstrip("/") != "/api":
            self._json({"status": False, "error": "not found"}, 404)
            return
        self.double.calls.append(params)
        mode = params.get("mode", "")
        if mode != "version" and params.get("apikey", "") != self.double.api_key:
            error = "API Key Required" if not params.get("apikey") else "API Key Incorrect"
            self._json({"status": False, "error": error})
            return
        api = Api(self.double)
        handler = {
            "version": api.version,
            "queue": api.queue,
            "history": api.history,
            "addurl": api.addurl,
            "retry": api.retry,
        }.get(mode)
        if mode == "addfile":
            self._json(api.addfile(params, uploads))
        elif handler is not None:
            self._json(handler(params))
        else:
            self._json({"status": False, "error": "not implemented"})

    def _json(self, data: Any, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Api:
    """SABnzbd's API calls against the double's state."""

    double: SabnzbdDouble

    def version(self, params: dict[str, str]) -> dict[str, Any]:
        return {"version": VERSION}

    def queue(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("name") == "delete":
            return self._delete(self.double.queue, params.get("value", ""))
        with self.double.lock:
            jobs = _select(self.double.queue, params)
            slots = [job.queue_slot(i) for i, job in enumerate(jobs)]
            total = sum(j.total for j in self.double.queue) / MIB
            left = sum(j.total - j.done for j in self.double.queue) / MIB
            status = "Paused" if self.double.paused else ("Downloading" if slots else "Idle")
        return {
            "queue": {
                "status": status,
                "paused": self.double.paused,
                "noofslots_total": len(slots),
                "noofslots": len(slots),
                "limit": int(params.get("limit") or 0),
                "start": int(params.get("start") or 0),
                "speedlimit": "100",
                "kbpersec": "0.00",
                "mb": f"{total:.2f}",
                "mbleft": f"{left:.2f}",
                "slots": slots,
                "version": VERSION,
            }
        }

    def history(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("name") == "delete":
            return self._delete(self.double.history, params.get("value", ""), params)
        if params.get("name"):
            return {"status": False, "error": "not implemented"}
        with self.double.lock:
            jobs = _select(self.double.history, params)
            slots = [job.history_slot(i) for i, job in enumerate(jobs, start=1)]
        return {
            "history": {
                "noofslots": len(slots),
                "slots": slots,
                "ppslots": 0,
                "version": VERSION,
                "last_history_update": int(time.time()),
                "day_size": "0 B",
                "week_size": "0 B",
                "month_size": "0 B",
                "total_size": "0 B",
            }
        }

    def addurl(self, params: dict[str, str]) -> dict[str, Any]:
        url = params.get("name", "")
        if not url:
            return {"status": False, "error": "expects one parameter"}
        name = params.get("nzbname") or Path(urlsplit(url).path).stem
        nzo_id = self.double.new_job(name, params.get("cat", ""), url=url)
        return {"status": True, "nzo_ids": [nzo_id]}

    def addfile(
        self, params: dict[str, str], uploads: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        upload = uploads.get("name") or uploads.get("nzbfile")
        if upload is None:
            return {"status": False, "error": "expects one parameter"}
        filename, content = upload
        try:
            nzb = parse(content)
        except BadNzb:
            return {"status": False, "nzo_ids": []}
        name = params.get("nzbname") or Path(filename).stem
        nzo_id = self.double.new_job(name, params.get("cat", ""), nzb=nzb)
        return {"status": True, "nzo_ids": [nzo_id]}

    def retry(self, params: dict[str, str]) -> dict[str, Any]:
        """Put a failed job back in the queue under a new nzo_id, as SABnzbd's retry does."""
        with self.double.lock:
            old = next((j for j in self.double.history if j.nzo_id == params.get("value")), None)
            if old is None or old.status != "Failed":
                return {"status": False, "error": "item does not exist"}
            self.double.history.remove(old)
        nzo_id = self.double.new_job(old.name, old.category, url=old.url, nzb=old.nzb)
        return {"status": True, "nzo_id": nzo_id}

    def _delete(
        self, jobs: list[DoubleJob], value: str, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        wanted = {v for v in value.split(",") if v}
        if not wanted:
            return {"status": False, "error": "expects one parameter"}
        with self.double.lock:
            removed = [j for j in jobs if j.nzo_id in wanted or "all" in wanted]
            for job in removed:
                jobs.remove(job)
        return {"status": bool(removed), "nzo_ids": [j.nzo_id for j in removed]}


def _select(jobs: list[DoubleJob], params: dict[str, str]) -> list[DoubleJob]:
    search = params.get("search", "").lower()
    ids = {i for i in params.get("nzo_ids", "").split(",") if i}
    chosen = [j for j in jobs if search in j.name.lower() and (not ids or j.nzo_id in ids)]
    start, limit = int(params.get("start") or 0), int(params.get("limit") or 0)
    return chosen[start : start + limit] if limit else chosen[start:]


def _params(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


def _multipart(kind: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Form fields and uploaded files of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    uploads: dict[str, tuple[str, bytes]] = {}
    for part in message.walk():
        name = part.get_param("name", header="content-disposition")
        if part.is_multipart() or not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename:
            uploads[name] = (filename, data)
        else:
            fields[name] = data.decode()
    return fields, uploads
