"""Hauler's HTTP download client against curl, on a 1 GiB file over loopback.

Three contenders fetch the same file from the same loopback server (a separate process
answering with ``sendfile``), in the same run, several times each, taking turns to go
first (the best run counts):

- Hauler: ``HttpClient.download`` — streamed to the staging file with the sha256
  computed on the way, in a subprocess whose peak RSS is reported;
- ``curl -o`` then ``sha256sum``: the same guarantee (bytes on disk + checksum), two steps;
- ``curl -o`` alone: the bare transfer.

Prints the throughputs, the ratios (targets: >= 1.0 against curl + sha256sum, >= 0.8
against bare curl) and Hauler's peak RSS (it must stay flat: streamed, not buffered).

    python bench/download.py [--size-mib 1024] [--runs 5] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def serve(path: Path, port: int) -> None:
    """Serve ``path`` at /file.bin with sendfile (runs in its own process)."""
    size = path.stat().st_size

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("ETag", '"bench"')
            self.end_headers()
            with path.open("rb") as handle:
                self.connection.sendfile(handle)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hauler_once(url: str, workdir: Path) -> dict[str, float | str]:
    """One Hauler download in a fresh subprocess: seconds, sha256 and peak RSS."""
    code = f"""
import json, resource, time
from pathlib import Path
from hauler.downloads.clients.http import HttpClient
from hauler.downloads.clients.base import Job
from hauler.downloads.links import classify
client = HttpClient(allow=["127.0.0.1/32"])
started = time.perf_counter()
done = client.download(Job(classify({url!r}), Path({str(workdir)!r}), "bench"), lambda p: None)
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "sha256": done.sha256, "rss_mib": rss}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def curl_once(url: str, target: Path, checksum: bool) -> tuple[float, str | None]:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True)
    digest = None
    if checksum:
        out = subprocess.run(["sha256sum", str(target)], capture_output=True, text=True, check=True)
        digest = out.stdout.split()[0]
    return time.perf_counter() - started, digest


def baseline_rss() -> float:
    """Peak RSS of a subprocess that only imports the client (what Hauler costs at rest)."""
    code = (
        "import resource, hauler.downloads.clients.http;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def make_file(path: Path, size_mib: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for i in range(size_mib):
            chunk = block[i % 1024 :] + block[: i % 1024]  # every MiB differs
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    if shutil.which("curl") is None or shutil.which("sha256sum") is None:
        print("bench/download.py needs curl and sha256sum", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        base = Path(scratch)
        source = base / "source.bin"
        expected = make_file(source, args.size_mib)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(source), str(port)], cwd=ROOT
        )
        try:
            _wait_port(port)
            return report(f"http://127.0.0.1:{port}/file.bin", base, expected, args)
        finally:
            server.terminate()
            server.wait()


def report(url: str, base: Path, expected: str, args: argparse.Namespace) -> int:
    size = args.size_mib * 1024 * 1024
    times: dict[str, list[float]] = {"hauler": [], "curl+sha256sum": [], "curl": []}
    peak = [0.0]

    def hauler() -> float:
        workdir = base / "hauler"
        workdir.mkdir()
        result = hauler_once(url, workdir)
        assert result["sha256"] == expected, "Hauler's checksum is wrong"
        peak[0] = max(peak[0], float(result["rss_mib"]))
        return float(result["seconds"])

    def curl_sha() -> float:
        seconds, digest = curl_once(url, base / "curl.bin", checksum=True)
        assert digest == expected, "curl's file is wrong"
        return seconds

    def curl() -> float:
        return curl_once(url, base / "curl.bin", checksum=False)[0]

    contenders = {"hauler": hauler, "curl+sha256sum": curl_sha, "curl": curl}
    names = list(contenders)
    for run in range(args.runs):
        for name in names[run % 3 :] + names[: run % 3]:  # each goes first in turn
            times[name].append(contenders[name]())
            _clean(base)
    best = {name: size / min(values) / 1e6 for name, values in times.items()}
    print(f"file: {args.size_mib} MiB over loopback HTTP, best of {args.runs} runs")
    for name, rate in best.items():
        print(f"  {name:<15} {rate:8.0f} MB/s")
    vs_two_step = best["hauler"] / best["curl+sha256sum"]
    vs_curl = best["hauler"] / best["curl"]
    at_rest = baseline_rss()
    print(f"ratio Hauler / (curl + sha256sum): {vs_two_step:.2f}  (target >= 1.0)")
    print(f"ratio Hauler / curl:               {vs_curl:.2f}  (target >= 0.8)")
    print(
        f"Hauler peak RSS: {peak[0]:.0f} MiB (at rest {at_rest:.0f} MiB, "
        f"+{peak[0] - at_rest:.0f} MiB for a {args.size_mib} MiB file)"
    )
    return 0 if vs_two_step >= 1.0 and vs_curl >= 0.8 else 1


def _clean(base: Path) -> None:
    """Remove what a contender wrote and let the disk settle, so the next starts even."""
    shutil.rmtree(base / "hauler", ignore_errors=True)
    (base / "curl.bin").unlink(missing_ok=True)
    os.sync()
    time.sleep(1.0)


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"bench server on port {port} did not start")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(main())
