"""archives.extract vs the plain command (``unzip`` / ``tar -x`` / ``7z x``), in the same run.

A mixed archive (incompressible files, text, a few thousand small files) is made once per
format in ``bench/.cache/``; each format is then extracted by the plain command and by
Hauler's extraction (``hauler.archives.service``: staging, caps, sanitising, the atomic
rename), each in a child process, taking turns, best of ``--rounds``; Hauler's time is
that of the extraction in its child, as in a running worker (interpreter start and imports,
about 0.2 s here, left out). Prints wall times,
Hauler's peak memory and the ratio (target: Hauler <= 1.2x the command, flat memory).

    python bench/extract.py [--mb 200] [--formats zip,tar.gz,7z] [--rounds 2]
    python bench/extract.py --mb 2048     # the 2 GB run
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORDS = b"the quick brown fox jumps over a lazy dog while hauler unpacks archives ".split()


def make_tree(folder: Path, total: int) -> Path:
    """40 % incompressible files, 30 % text, 30 % small files of 4-64 KiB."""
    rng = random.Random(42)
    if folder.exists():
        return folder
    partial = folder.with_suffix(".part")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "media").mkdir(parents=True)
    (partial / "text").mkdir()
    for i in range(4):
        (partial / "media" / f"video{i}.bin").write_bytes(os.urandom(total * 10 // 100))
    for i in range(6):
        size = total * 5 // 100
        line = b" ".join(rng.choice(WORDS) for _ in range(2000)) + b"\n"
        (partial / "text" / f"log{i}.txt").write_bytes((line * (size // len(line) + 1))[:size])
    left, n = total * 30 // 100, 0
    while left > 0:
        size = min(left, rng.randint(4096, 65536))
        sub = partial / "small" / f"d{n // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{n:05d}.dat").write_bytes(os.urandom(size // 2) + b"\0" * (size - size // 2))
        left, n = left - size, n + 1
    partial.rename(folder)
    return folder


def make_archive(tree: Path, kind: str) -> Path:
    out = tree.parent / f"{tree.name}.{kind}"
    if out.exists():
        return out
    partial = out.with_name(f"part-{out.name}")
    print(f"making {out.name} (once) ...", flush=True)
    if kind == "zip":
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for file in sorted(tree.rglob("*")):
                zf.write(file, file.relative_to(tree))
    elif kind == "tar.gz":
        with tarfile.open(partial, "w:gz", compresslevel=6) as tf:
            tf.add(tree, arcname=".")
    else:
        subprocess.run(
            ["7z", "a", "-bso0", "-bsp0", "-mx=3", "-t7z", str(partial), "."], cwd=tree, check=True
        )
    partial.rename(out)
    return out


def baseline_argv(kind: str, archive: Path, out: Path) -> list[str]:
    if kind == "zip":
        return ["unzip", "-q", "-o", str(archive), "-d", str(out)]
    if kind == "tar.gz":
        return ["tar", "-xzf", str(archive), "-C", str(out)]
    return ["7z", "x", "-y", "-bso0", "-bsp0", f"-o{out}", str(archive)]


def hauler_argv(archive: Path, out: Path) -> list[str]:
    return [sys.executable, str(Path(__file__)), "--one", str(archive), str(out)]


def timed(argv: list[str], out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes: the process and its children, sampled) of one run."""
    import psutil

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run(["sync"], check=False)
    start = time.perf_counter()
    process = subprocess.Popen(argv)
    watched, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({process.returncode})")
    return seconds, peak


def one(archive: Path, out: Path) -> int:
    """The Hauler side, in its own process: validate and extract under ``out``."""
    from hauler.archives import service
    from hauler.settings import Settings

    settings = Settings.from_env(
        {
            "HAULER_DATA_DIR": str(out),
            "HAULER_DOWNLOAD_DIR": str(out),
            "HAULER_ARCHIVES_ROOTS": str(archive.parent),
        }
    )
    start = time.perf_counter()
    request = service.validate(settings, str(archive), None, None, False)
    service.extract(settings, request, task_id="bench", progress=lambda _: None)
    (out / "seconds").write_text(str(time.perf_counter() - start))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the archive's contents")
    parser.add_argument("--formats", default="zip,tar.gz,7z")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        return one(Path(options.one[0]), Path(options.one[1]))
    for tool in ("unzip", "tar", "7z"):
        shutil.which(tool) or sys.exit(f"{tool} is required")
    cache = ROOT / "bench" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    tree = make_tree(cache / f"mixed-{options.mb}mb", options.mb * 1024 * 1024)
    work = Path(tempfile.mkdtemp(prefix="hauler-bench-extract-", dir=cache))
    imported = "import time, hauler.archives.service; time.sleep(0.5)"
    _, idle = timed([sys.executable, "-c", imported], work / "idle")
    print(f"contents: {options.mb} MiB, {sum(1 for _ in tree.rglob('*'))} entries")
    try:
        for kind in options.formats.split(","):
            archive = make_archive(tree, kind)
            best_base = best_hauler = float("inf")
            rss_hauler = 0
            for _ in range(options.rounds):
                seconds, _ = timed(baseline_argv(kind, archive, work / "b"), work / "b")
                best_base = min(best_base, seconds)
                _, rss = timed(hauler_argv(archive, work / "h"), work / "h")
                seconds = float((work / "h" / "seconds").read_text())  # as in a running worker
                best_hauler, rss_hauler = min(best_hauler, seconds), max(rss_hauler, rss)
            command = baseline_argv(kind, archive, work)[0]
            print(
                f"{kind:7} ({archive.stat().st_size / 2**20:6.0f} MiB): {command:5} "
                f"{best_base:6.2f} s | Hauler {best_hauler:6.2f} s, peak RSS "
                f"{rss_hauler / 2**20:4.0f} MiB | ratio {best_hauler / best_base:.2f} "
                "(target <= 1.2)"
            )
        print(
            f"(peak RSS sampled every 50 ms, the 7z/gzip child included; "
            f"Python with Hauler imported, idle: {idle / 2**20:.0f} MiB)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
