"""archives.extract on archives the tests make, with the real zipfile/tarfile/7z/unar/rar."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from hauler import deadletter
from hauler.archives import service
from hauler.errors import (
    CorruptArchive,
    DiskFull,
    PasswordRequired,
    PermanentError,
    UnsafeArchive,
    WrongPassword,
)
from hauler.progress import Progress, ProgressFn
from hauler.settings import Settings
from tests.integration import archive_samples as samples
from tests.integration.http_server import LoopbackServer, Resource
from tests.integration.services import require_binary, tmpfs, wait_for

pytestmark = pytest.mark.integration
FORMATS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "tar.zst", "7z", "rar")


@pytest.fixture(scope="module")
def tools() -> None:
    for name in ("7z", "unar", "lsar", "zstd", "rar"):
        require_binary(name)


@pytest.fixture
def settings(tmp_path: Path, tools: None) -> Settings:
    return _settings(tmp_path)


def _settings(tmp_path: Path, **extra: str) -> Settings:
    env = {"HAULER_DATA_DIR": str(tmp_path / "data"), **extra}
    settings = Settings.from_env(env)
    settings.download_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _extract(
    settings: Settings, path: Path, progress: ProgressFn = lambda _: None, **kwargs: Any
) -> dict[str, Any]:
    request = service.validate(
        settings, str(path), kwargs.get("dest"), kwargs.get("password"), False
    )
    return service.extract(settings, request, task_id="t-1", progress=progress)


def _make(kind: str, folder: Path, source: Path) -> Path:
    if kind == "zip":
        return samples.make_zip(folder / "sample.zip")
    if kind == "7z":
        return samples.make_7z(folder / "sample.7z", source)
    if kind == "rar":
        return samples.make_rar(folder / "sample.rar", source)
    return samples.make_tar(folder / f"sample.{kind}", kind)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", FORMATS)
def test_each_format_extracts_into_a_new_folder_under_the_download_root(
    settings: Settings, tmp_path: Path, kind: str
):
    # given an archive of three files in two folders
    source = samples.tree(tmp_path / "source")
    archive = _make(kind, settings.download_dir, source)
    # when it is extracted
    reports: list[Progress] = []
    result = _extract(settings, archive, reports.append)
    # then its files are in <download root>/sample/, byte for byte, and the result says so
    folder = Path(result["path"])
    assert folder == settings.download_dir / "sample"
    assert _files(folder) == samples.FILES
    assert (result["files"], result["bytes"]) == (3, sum(map(len, samples.FILES.values())))
    assert result["entries"] == ["docs", "readme.txt"]
    assert not (settings.download_dir / service.STAGING).exists()
    # and progress ended with every byte counted
    assert reports and reports[-1].done == reports[-1].total == result["bytes"]


def test_dest_is_relative_to_the_download_root_and_a_taken_name_is_not_overwritten(
    settings: Settings,
):
    archive = samples.make_zip(settings.download_dir / "sample.zip")
    first = _extract(settings, archive, dest="unpacked/here")
    second = _extract(settings, archive, dest="unpacked/here")
    assert first["path"] == str(settings.download_dir / "unpacked/here/sample")
    assert second["path"] == str(settings.download_dir / "unpacked/here/sample (1)")


@pytest.mark.parametrize(
    "make",
    [samples.hostile_zip, samples.traversal_tar],
    ids=["zip ../", "tar ../"],
)
def test_traversal_entries_refuse_the_archive_and_nothing_lands_anywhere(
    settings: Settings, tmp_path: Path, make
):
    # given an archive with a ../../ entry
    archive = make(settings.download_dir / "evil.bin")
    before = samples.outside_files(tmp_path)
    # when it is extracted, then it is refused and no file was added anywhere
    with pytest.raises(UnsafeArchive, match=r"escaped\.txt"):
        _extract(settings, archive)
    assert samples.outside_files(tmp_path) == before


def test_absolute_and_drive_letter_names_stay_inside_the_folder(settings: Settings):
    archive = samples.absolute_zip(settings.download_dir / "abs.zip")
    result = _extract(settings, archive)
    folder = Path(result["path"])
    assert sorted(_files(folder)) == ["Windows/drive.txt", "dir/back.txt", "etc/hauler-abs.txt"]
    assert not Path("/etc/hauler-abs.txt").exists()


def test_links_out_and_device_files_are_left_out(settings: Settings, tmp_path: Path):
    # given archives with a symlink and a hard link pointing out, a device and a file
    # written "through" the symlink
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("untouched")
    zipped = samples.link_zip(settings.download_dir / "links.zip", str(outside / "victim.txt"))
    tarred = samples.link_tar(settings.download_dir / "links.tar", outside)
    # when they are extracted
    from_zip, from_tar = _extract(settings, zipped), _extract(settings, tarred)
    # then no link or device exists in the result, and nothing changed outside
    for result in (from_zip, from_tar):
        folder = Path(result["path"])
        assert not [
            p for p in folder.rglob("*") if p.is_symlink() or not (p.is_file() or p.is_dir())
        ]
    assert from_zip["skipped"] == ["link"]
    assert sorted(from_tar["skipped"]) == ["hard", "null", "sym"]
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "untouched"
    assert _files(Path(from_tar["path"]))["sym/planted.txt"] == b"through the link"


def test_7z_and_rar_links_are_left_out(settings: Settings, tmp_path: Path):
    source = tmp_path / "linked"
    source.mkdir()
    (source / "a.txt").write_text("a")
    (source / "out").symlink_to("/etc/passwd")
    seven = samples.make_7z(settings.download_dir / "l.7z", source, "-snl")
    rar = samples.make_rar(settings.download_dir / "l.rar", source, "-ol")
    for archive in (seven, rar):
        result = _extract(settings, archive)
        assert (result["entries"], result["skipped"]) == (["a.txt"], ["out"]), archive.name


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 GiB of zeros in about a megabyte."""
    return samples.zeros_zip(tmp_path_factory.mktemp("bomb") / "bomb.zip", 1024**3)


def test_a_zip_bomb_is_refused_from_its_index_before_a_byte_is_written(
    tmp_path: Path, tools: None, bomb: Path
):
    # given the download root on a 64 MiB tmpfs (writing the bomb would fill it) and the bomb
    with tmpfs(tmp_path / "data" / "downloads", "64m") as downloads:
        settings = _settings(tmp_path)
        archive = Path(shutil.copy(bomb, downloads / "bomb.zip"))
        used = shutil.disk_usage(downloads).used
        # when it is extracted
        started = time.monotonic()
        with pytest.raises(UnsafeArchive, match="HAULER_ARCHIVES_MAX_RATIO"):
            _extract(settings, archive)
        seconds = time.monotonic() - started
        # then it is refused at once, not after filling the disk, and the disk is as it was
        assert seconds < 2, f"refused after {seconds:.1f} s"
        assert shutil.disk_usage(downloads).used == used
        assert sorted(p.name for p in downloads.iterdir()) == ["bomb.zip"]


def test_the_size_cap_refuses_an_archive_that_declares_too_much(settings: Settings, bomb: Path):
    capped = _settings(
        settings.data_dir.parent,
        HAULER_ARCHIVES_MAX_BYTES=str(10**8),
        HAULER_ARCHIVES_MAX_RATIO="100000",
    )
    archive = Path(shutil.copy(bomb, capped.download_dir / "bomb.zip"))
    with pytest.raises(UnsafeArchive, match="HAULER_ARCHIVES_MAX_BYTES"):
        _extract(capped, archive)


def test_a_nested_bomb_is_just_files_it_is_never_extracted_recursively(
    settings: Settings, bomb: Path
):
    # given a zip holding four copies of the 1 GiB bomb (stored: the outer ratio is ~1)
    archive = samples.nested_zip(settings.download_dir / "nested.zip", bomb)
    # when it is extracted, then the four inner zips are files, not unpacked
    result = _extract(settings, archive)
    assert result["entries"] == [f"layer{i}.zip" for i in range(4)]
    assert result["bytes"] == 4 * bomb.stat().st_size


def test_the_entry_cap_refuses_an_archive_with_too_many_entries(tmp_path: Path, tools: None):
    settings = _settings(tmp_path, HAULER_ARCHIVES_MAX_ENTRIES="50")
    files = {f"f{i}.txt": b"x" for i in range(51)}
    for archive in (
        samples.make_zip(settings.download_dir / "many.zip", files),
        samples.make_tar(settings.download_dir / "many.tar.gz", "tar.gz", files),
    ):
        with pytest.raises(UnsafeArchive, match="HAULER_ARCHIVES_MAX_ENTRIES"):
            _extract(settings, archive)
    assert sorted(p.name for p in settings.download_dir.iterdir()) == ["many.tar.gz", "many.zip"]


@pytest.mark.parametrize(
    "options",
    [
        ("-tzip", "-psecret"),
        ("-tzip", "-psecret", "-mem=AES256"),
        ("-psecret",),
        ("-psecret", "-mhe=on"),
    ],
    ids=["zip ZipCrypto", "zip AES", "7z", "7z encrypted names"],
)
def test_passworded_archives_need_the_right_password(
    settings: Settings, tmp_path: Path, options: tuple[str, ...]
):
    source = samples.tree(tmp_path / "source")
    suffix = "zip" if "-tzip" in options else "7z"
    archive = samples.make_7z(settings.download_dir / f"locked.{suffix}", source, *options)
    with pytest.raises(PasswordRequired):
        _extract(settings, archive)
    with pytest.raises(WrongPassword):
        _extract(settings, archive, password="not-it")
    result = _extract(settings, archive, password="secret")
    assert _files(Path(result["path"])) == samples.FILES
    assert "secret" not in repr(result)


def test_a_passworded_rar_without_a_password_is_password_required(
    settings: Settings, tmp_path: Path
):
    source = samples.tree(tmp_path / "source")
    archive = samples.make_rar(settings.download_dir / "locked.rar", source, "-psecret")
    with pytest.raises(PasswordRequired):
        _extract(settings, archive)


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar.xz", "7z", "rar"])
def test_a_truncated_archive_is_corrupt(settings: Settings, tmp_path: Path, kind: str):
    source = samples.tree(
        tmp_path / "source",
        {"big.bin": samples.random_file(tmp_path / "r.bin", 200_000).read_bytes()},
    )
    whole = _make(kind, tmp_path, source)
    archive = settings.download_dir / whole.name
    archive.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CorruptArchive):
        _extract(settings, archive)
    assert sorted(p.name for p in settings.download_dir.iterdir()) == [archive.name]


@pytest.mark.parametrize(
    ("kind", "options", "missing"),
    [("7z", ("-v100k",), "set.7z.003"), ("rar", ("-v100k", "-m0"), "set.part3.rar")],
)
def test_a_volume_set_with_a_missing_volume_names_it(
    settings: Settings, tmp_path: Path, kind: str, options: tuple[str, ...], missing: str
):
    # given a set of four-odd volumes of random data, and the third one gone
    source = tmp_path / "source"
    source.mkdir()
    samples.random_file(source / "big.bin", 350_000)
    make = samples.make_7z if kind == "7z" else samples.make_rar
    make(settings.download_dir / f"set.{kind}", source, *options)
    volumes = sorted(p.name for p in settings.download_dir.iterdir())
    assert len(volumes) >= 4, volumes
    complete = _extract(settings, settings.download_dir / volumes[0], dest="complete")
    assert complete["bytes"] == 350_000
    (settings.download_dir / missing).unlink()
    # when the set is extracted, then the error names the missing volume
    with pytest.raises(CorruptArchive, match=re.escape(missing)):
        _extract(settings, settings.download_dir / volumes[0])


def test_a_full_disk_is_found_before_extracting_and_nothing_is_left(tmp_path: Path, tools: None):
    # given the download root on a 32 MiB tmpfs and archives of 48 MiB of zeros
    with tmpfs(tmp_path / "data" / "downloads", "32m") as downloads:
        settings = _settings(tmp_path, HAULER_ARCHIVES_MAX_RATIO="100000")
        zipped = samples.zeros_zip(downloads / "zeros.zip", 48 * 2**20)
        files = {f"part{i}.bin": b"\0" * (12 * 2**20) for i in range(4)}
        tarred = samples.make_tar(downloads / "zeros.tar.gz", "tar.gz", files)
        # when they are extracted, then each is refused for want of room and nothing stays
        for archive in (zipped, tarred):
            with pytest.raises(DiskFull):
                _extract(settings, archive)
            assert sorted(p.name for p in downloads.iterdir()) == ["zeros.tar.gz", "zeros.zip"]


def test_bad_arguments_name_the_argument(settings: Settings, tmp_path: Path):
    archive = samples.make_zip(settings.download_dir / "sample.zip")
    for kwargs, argument in (
        ({"path": "relative.zip"}, "path"),
        ({"path": str(tmp_path / "elsewhere.zip")}, "path"),
        ({"dest": "../../etc"}, "dest"),
        ({"dest": "/abs"}, "dest"),
        ({"password": ""}, "password"),
        ({"delete_after": "yes"}, "delete_after"),
    ):
        args = {"path": str(archive), "dest": None, "password": None, "delete_after": False}
        args.update(kwargs)
        with pytest.raises(PermanentError) as caught:
            service.validate(
                settings, args["path"], args["dest"], args["password"], args["delete_after"]
            )
        assert getattr(caught.value, "argument", None) == argument, (kwargs, caught.value)


def test_through_a_worker_every_format_extracts_and_bad_archives_are_dead_lettered(
    start_worker,
    hauler_env: dict[str, str],
    client_app: Celery,
    tmp_path: Path,
    pg_url: str,
    tools: None,
):
    # given an archives worker and one archive of each format in the download root
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    source = samples.tree(tmp_path / "source")
    archives = {}
    for kind in FORMATS:
        folder = downloads / kind.replace(".", "-")
        folder.mkdir()
        archives[kind] = _make(kind, folder, source)
    locked = samples.make_7z(downloads / "locked.7z", source, "-psecret")
    start_worker(["archives"])
    # when each is sent by name, as another app would
    sent = {
        kind: client_app.send_task(
            "archives.extract",
            args=[str(path)],
            kwargs={"delete_after": True},
            queue="archives",
        )
        for kind, path in archives.items()
    }
    # then each lands next to its archive, which is deleted
    for kind, result in sent.items():
        done = result.get(timeout=120)
        assert done["path"] == str(archives[kind].parent / "sample"), kind
        assert (done["files"], done["deleted"]) == (3, True), kind
        assert not archives[kind].exists()
    # and the same task delivered again answers from its receipt, extracting nothing twice
    again = client_app.send_task(
        "archives.extract",
        args=[str(archives["zip"])],
        kwargs={"delete_after": True},
        queue="archives",
        task_id=sent["zip"].id,
    ).get(timeout=60)
    assert again["path"] == sent["zip"].get()["path"]
    assert sorted(p.name for p in archives["zip"].parent.iterdir()) == ["sample"]
    # and a passworded archive without its password fails at once, never retried,
    # dead-lettered without the password
    failed = client_app.send_task(
        "archives.extract", args=[str(locked)], kwargs={"password": "wrong"}, queue="archives"
    )
    with pytest.raises(Exception, match=r"password does not open"):
        failed.get(timeout=60)
    letter = wait_for(lambda: deadletter.get(pg_url, failed.id))
    assert (letter.reason, letter.attempts) == ("permanent", 1)
    pong = client_app.send_task("archives.ping", queue="archives").get(timeout=30)
    assert pong["queue"] == "archives"


def test_the_password_never_reaches_the_dead_letter(
    start_worker, client_app: Celery, tmp_path: Path, pg_url: str, tools: None
):
    # given a passworded 7z in the download root and an archives worker
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    source = samples.tree(tmp_path / "source")
    locked = samples.make_7z(downloads / "locked.7z", source, "-psecret")
    start_worker(["archives"])
    # when it is sent with a wrong password
    failed = client_app.send_task(
        "archives.extract",
        args=[str(locked)],
        kwargs={"password": "hunter2-wrong"},
        queue="archives",
    )
    with pytest.raises(Exception, match=r"password does not open"):
        failed.get(timeout=60)
    # then the dead letter keeps the arguments without the password
    letter = wait_for(lambda: deadletter.get(pg_url, failed.id))
    assert "hunter2" not in repr((letter.kwargs, letter.exception, letter.traceback))


def test_a_download_chained_to_archives_extract_unpacks_what_was_downloaded(
    start_worker,
    hauler_env: dict[str, str],
    client_app: Celery,
    server: LoopbackServer,
    tmp_path: Path,
    tools: None,
):
    # given a tar.gz served on loopback, and downloads and archives workers
    made = samples.make_tar(tmp_path / "bundle.tar.gz", "tar.gz")
    server.resources["/pub/bundle.tar.gz"] = Resource(made.read_bytes())
    hauler_env["HAULER_DOWNLOADS_ALLOW_NETWORKS"] = "127.0.0.1/32"
    start_worker(["downloads"], name="dl")
    start_worker(["archives"], name="ar")
    # when it is fetched with then=[archives.extract], as another app would send it
    fetched = client_app.send_task(
        "downloads.fetch",
        args=[server.url("/pub/bundle.tar.gz")],
        kwargs={
            "dest": "incoming",
            "then": [{"task": "archives.extract", "kwargs": {"delete_after": True}}],
        },
        queue="downloads",
    ).get(timeout=60)
    # then the chain's step extracts the downloaded file next to it and removes the archive
    extracted = client_app.AsyncResult(fetched["then"]).get(timeout=60)
    downloads = tmp_path / "data" / "downloads"
    assert extracted["path"] == str(downloads / "incoming" / "bundle")
    assert _files(Path(extracted["path"])) == samples.FILES
    assert extracted["deleted"] and not Path(fetched["path"]).exists()


def test_a_tar_bomb_is_stopped_while_streaming_at_the_ratio_cap(tmp_path: Path, tools: None):
    # given a tar.gz of 200 MiB of zeros (its size is known only member by member)
    settings = _settings(tmp_path, HAULER_ARCHIVES_MAX_RATIO="20")
    files = {"zeros.bin": b"\0" * (200 * 2**20)}
    archive = samples.make_tar(settings.download_dir / "zeros.tar.gz", "tar.gz", files)
    # when it is extracted, then it is refused before the member is written
    with pytest.raises(UnsafeArchive, match="HAULER_ARCHIVES_MAX_RATIO"):
        _extract(settings, archive)
    assert sorted(p.name for p in settings.download_dir.iterdir()) == ["zeros.tar.gz"]


@pytest.mark.parametrize("kind", ["7z", "rar"])
def test_7z_and_rar_over_the_size_cap_are_refused_from_their_listing(
    tmp_path: Path, tools: None, kind: str
):
    settings = _settings(tmp_path, HAULER_ARCHIVES_MAX_BYTES="10000")
    archive = _make(kind, settings.download_dir, samples.tree(tmp_path / "source"))
    with pytest.raises(UnsafeArchive, match="HAULER_ARCHIVES_MAX_BYTES"):
        _extract(settings, archive)
    assert sorted(p.name for p in settings.download_dir.iterdir()) == [archive.name]
