"""`citygrid db backup` and `db restore`: rows and photos come back; bad files change nothing."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from citygrid import backup
from citygrid import cli as citygrid_cli
from citygrid.cli import migrate
from citygrid.errors import Conflict, InvalidInput
from citygrid.settings import get_settings
from tests.citygrid.checksums import TableDigest, load_small_city, table_columns, table_digests
from tests.conftest import throwaway_database

# Tables the small city fills: the round trip is checked on rows, not on empty tables.
BUSY_TABLES = (
    "grid_cell",
    "event_case",
    "report",
    "case_transition",
    "case_assignment",
    "case_photo",
    "component",
    "component_change",
    "app_user",
    "rule_set",
)


# visitor_log's one row, checksummed as table_digests does it.
VISITOR_LOG_MD5 = hashlib.md5("(1,游客)".encode()).hexdigest()


@dataclass(frozen=True)
class BackedUpCity:
    url: str
    media_dir: Path
    backup_file: Path
    digests: dict[str, TableDigest]
    photos: dict[str, bytes]


def run_citygrid(database_url: str, media_dir: Path, *args: str) -> Result:
    """`citygrid ARGS` against that database and photos folder."""
    settings = get_settings().model_copy(
        update={"database_url": database_url, "media_dir": media_dir}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(citygrid_cli, "get_settings", lambda: settings)
        return CliRunner().invoke(citygrid_cli.app, list(args))


def digests_of(url: str) -> dict[str, TableDigest]:
    """Row count and checksum of every table in the database at `url`."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        digests = table_digests(connection, table_columns(connection))
    engine.dispose()
    return digests


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.fixture(scope="module")
def city(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackedUpCity]:
    """A migrated database holding a small demo history with photos, backed up by the CLI."""
    with throwaway_database(server_url) as url:
        migrate(url)
        media_dir = tmp_path_factory.mktemp("media")
        engine = create_engine(url, poolclass=NullPool)
        with Session(engine) as session:
            load_small_city(session, media_dir)
        engine.dispose()
        backup_file = tmp_path_factory.mktemp("backups") / "city.tar"
        result = run_citygrid(url, media_dir, "db", "backup", str(backup_file))
        assert result.exit_code == 0, result.output
        assert "backup written" in result.output
        yield BackedUpCity(url, media_dir, backup_file, digests_of(url), files_in(media_dir))


def add_visitor_log(url: str) -> None:
    """A table of someone else's in the database at `url`: it holds something worth keeping."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE visitor_log (id int PRIMARY KEY, name text)"))
        connection.execute(text("INSERT INTO visitor_log VALUES (1, '游客')"))
    engine.dispose()


@pytest.fixture(scope="module")
def occupied_url(server_url: str) -> Iterator[str]:
    """A database holding a table of its own, which the tests below must leave as it is."""
    with throwaway_database(server_url) as url:
        add_visitor_log(url)
        yield url


@pytest.fixture
def empty_target(server_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A database without tables, and a photos folder that does not exist yet."""
    with throwaway_database(server_url) as url:
        yield url, tmp_path / "restored-media"


def test_backup_holds_manifest_dump_and_photos(city: BackedUpCity) -> None:
    with tarfile.open(city.backup_file) as tar:
        assert tar.getnames() == ["manifest.json", "database.dump", "media.tar"]
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = backup.BackupManifest.model_validate_json(manifest_file.read())
    assert manifest.photo_files == len(city.photos) == 6  # 3 photos: original and public copy
    assert manifest.tables["public.event_case"] == city.digests["event_case"].rows > 100
    assert manifest.tables["public.component"] == 20
    assert manifest.schema_revision is not None
    assert len(manifest.members["database.dump"].sha256) == 64
    assert all(city.digests[table].rows > 0 for table in BUSY_TABLES)


def test_restore_gives_back_every_row_and_photo_and_overwrites_only_with_force(
    city: BackedUpCity, empty_target: tuple[str, Path]
) -> None:
    url, media_dir = empty_target
    restored = run_citygrid(url, media_dir, "db", "restore", str(city.backup_file))
    assert restored.exit_code == 0, restored.output
    assert "row counts match" in restored.output
    assert digests_of(url) == city.digests
    assert files_in(media_dir) == city.photos

    add_visitor_log(url)  # the database has moved on since
    (media_dir / "public" / "stale.jpg").write_bytes(b"not from the backup")
    refused = run_citygrid(url, media_dir, "db", "restore", str(city.backup_file))
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert "visitor_log" in digests_of(url)

    forced = run_citygrid(url, media_dir, "db", "restore", "--force", str(city.backup_file))
    assert forced.exit_code == 0, forced.output
    assert digests_of(url) == city.digests  # no visitor_log: the database was made anew
    assert files_in(media_dir) == city.photos  # the stale photo went with the old folder


def flip_byte_in(path: Path, member: str) -> None:
    """Change one byte in the middle of a member's content."""
    with tarfile.open(path) as tar:
        info = tar.getmember(member)
    with path.open("r+b") as stream:
        stream.seek(info.offset_data + info.size // 2)
        original = stream.read(1)
        stream.seek(-1, 1)
        stream.write(bytes([original[0] ^ 0xFF]))


def truncate(path: Path) -> None:
    with path.open("r+b") as stream:
        stream.truncate(path.stat().st_size * 2 // 3)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: flip_byte_in(path, "database.dump"), "does not match its manifest"),
        (lambda path: flip_byte_in(path, "media.tar"), "does not match its manifest"),
        (truncate, "truncated"),
        (lambda path: path.write_bytes(b"hello"), "not a backup"),
    ],
    ids=["dump-altered", "photos-altered", "truncated", "not-a-tar"],
)
def test_a_damaged_backup_is_refused_before_anything_is_touched(
    city: BackedUpCity,
    occupied_url: str,
    tmp_path: Path,
    damage: Callable[[Path], object],
    message: str,
) -> None:
    url, media_dir = occupied_url, tmp_path / "media"
    (media_dir / "public").mkdir(parents=True)
    (media_dir / "public" / "kept.jpg").write_bytes(b"still here")
    damaged = tmp_path / "damaged.tar"
    shutil.copyfile(city.backup_file, damaged)
    damage(damaged)
    with pytest.raises(InvalidInput, match=message):
        backup.restore_database(url, damaged, media_dir, force=True)
    assert digests_of(url) == {"visitor_log": TableDigest(1, VISITOR_LOG_MD5)}
    assert files_in(media_dir) == {"public/kept.jpg": b"still here"}


def with_manifest_counts_off(backup_file: Path, copy: Path) -> None:
    """A copy whose manifest claims one case more: consistent checksums, wrong promise."""
    with tarfile.open(backup_file) as tar, tarfile.open(copy, "w") as out:
        for member in tar:
            content = tar.extractfile(member)
            assert content is not None
            body = content.read()
            if member.name == "manifest.json":
                manifest = backup.BackupManifest.model_validate_json(body)
                manifest.tables["public.event_case"] += 1
                body = manifest.model_dump_json().encode()
                member.size = len(body)
            out.addfile(member, io.BytesIO(body))


def test_a_forced_restore_that_fails_its_count_check_keeps_the_old_database(
    city: BackedUpCity, occupied_url: str, tmp_path: Path
) -> None:
    off = tmp_path / "off.tar"
    with_manifest_counts_off(city.backup_file, off)
    with pytest.raises(backup.BackupFailed, match=r"event_case.*left as it was"):
        backup.restore_database(occupied_url, off, tmp_path / "media", force=True)
    assert digests_of(occupied_url) == {"visitor_log": TableDigest(1, VISITOR_LOG_MD5)}
    engine = create_engine(occupied_url, poolclass=NullPool)
    with engine.connect() as connection:
        staging = connection.scalar(
            text("SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_restoring'")
        )
    engine.dispose()
    assert staging == 0


def test_backup_refuses_to_overwrite_a_file(city: BackedUpCity, tmp_path: Path) -> None:
    existing = tmp_path / "existing.tar"
    existing.write_bytes(b"yesterday's backup")
    with pytest.raises(Conflict, match="exists"):
        backup.backup_database(city.url, existing, city.media_dir)
    assert existing.read_bytes() == b"yesterday's backup"


@pytest.mark.parametrize(
    ("version_output", "major"),
    [
        ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", 15),
        ("pg_restore (PostgreSQL) 17.2\n", 17),
        ("pg_dump (PostgreSQL) 9.6.24\n", 9),
        ("command not found", None),
    ],
)
def test_major_version_of_client_output(version_output: str, major: int | None) -> None:
    assert backup.major_version_of(version_output) == major


def test_a_server_version_without_its_pg_dump_is_refused_clearly() -> None:
    with pytest.raises(backup.BackupFailed, match="no pg_dump for PostgreSQL 99 is installed"):
        backup.client_tool("pg_dump", 99)


@pytest.mark.parametrize(
    ("sqlalchemy_url", "uri", "password"),
    [
        (
            "postgresql+psycopg://postgres@/citygrid?host=/var/run/pg&port=29560",
            "postgresql://postgres@/citygrid?host=%2Fvar%2Frun%2Fpg&port=29560",
            None,
        ),
        (
            "postgresql+psycopg://city:s3cret@db.example:5433/citygrid",
            "postgresql://city@db.example:5433/citygrid",
            "s3cret",
        ),
    ],
)
def test_libpq_target_keeps_the_password_off_the_command_line(
    sqlalchemy_url: str, uri: str, password: str | None
) -> None:
    target = backup.LibpqTarget.from_sqlalchemy_url(sqlalchemy_url)
    assert (target.uri, target.password) == (uri, password)
    assert target.environment().get("PGPASSWORD") == (password or os.environ.get("PGPASSWORD"))
