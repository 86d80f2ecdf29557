"""`citygrid db backup` and `citygrid db restore`: the whole database and the photos, in one file.

A backup is an uncompressed tar holding three members:

- `manifest.json`: format version, created_at, schema (alembic) revision, server version, the
  row count of every table, and the size and sha256 of the two other members;
- `database.dump`: `pg_dump --format=custom` of the whole database (compressed by pg_dump);
- `media.tar`: the photos folder (`public/` and `private/`) as it was after the dump's snapshot.

Restore verifies every checksum before it touches anything, refuses a database (or photos folder)
that holds something unless forced, restores in one transaction, then compares row counts.
pg_dump and pg_restore are clients: they run as the current user, and must be of the server's
major version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from pydantic import BaseModel, ValidationError
from sqlalchemy import URL, make_url

from citygrid.errors import CitygridError, Conflict, InvalidInput

FORMAT_NAME = "citygrid-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
MEDIA = "media.tar"
CHUNK_BYTES = 1024 * 1024
MAINTENANCE_DATABASE = "postgres"
WORK_PREFIX = ".restore-"
# Tables of the database's own, not those an extension (PostGIS's spatial_ref_sys) brings along.
USER_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1, 2
"""


class BackupFailed(CitygridError):
    """A client tool is missing or failed; the message says which and why."""


class MemberDigest(BaseModel):
    size_bytes: int
    sha256: str


class BackupManifest(BaseModel):
    format: Literal["citygrid-backup"]
    format_version: Literal[1]
    created_at: datetime
    schema_revision: str | None
    server_version: str
    tables: dict[str, int]  # "schema.table" -> rows
    photo_files: int
    members: dict[str, MemberDigest]


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size_bytes: int
    schema_revision: str | None
    tables: dict[str, int]
    photo_files: int
    elapsed_s: float

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class RestoreSummary:
    source: Path
    created_at: datetime
    schema_revision: str | None
    tables: dict[str, int]
    photo_files: int
    replaced_existing: bool
    elapsed_s: float

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class LibpqTarget:
    """A database as the client tools see it: a URI without the password, which goes by env."""

    uri: str
    password: str | None

    @classmethod
    def from_sqlalchemy_url(cls, database_url: str) -> LibpqTarget:
        url = make_url(database_url)
        libpq = URL.create(
            "postgresql", url.username, None, url.host, url.port, url.database, url.query
        )
        return cls(libpq.render_as_string(hide_password=False), url.password)

    @property
    def database(self) -> str:
        return str(make_url(self.uri).database)

    def on_database(self, database: str) -> LibpqTarget:
        return LibpqTarget(
            make_url(self.uri).set(database=database).render_as_string(hide_password=False),
            self.password,
        )

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[TupleRow]:
        """A connection; BackupFailed (with the server's reason) when there is none to be had."""
        try:
            # psycopg leaves out parameters that are None.
            return psycopg.connect(self.uri, autocommit=autocommit, password=self.password)
        except psycopg.OperationalError as error:
            raise BackupFailed(f"cannot connect to database {self.database}: {error}") from error

    def environment(self) -> dict[str, str]:
        """Environment for a client tool: the password in PGPASSWORD, not on its command line."""
        environment = dict(os.environ)
        if self.password:
            environment["PGPASSWORD"] = self.password
        return environment


def major_version_of(version_output: str) -> int | None:
    """The major version in `pg_dump --version` output ("pg_dump (PostgreSQL) 15.18 …"), or None."""
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", version_output)
    return int(found.group(1)) if found else None


def client_tool(name: str, server_major: int) -> Path:
    """The pg_dump or pg_restore of the server's major version; BackupFailed if none is there."""
    on_path = shutil.which(name)
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")]
    candidates += [Path(on_path)] if on_path else []
    for candidate in candidates:
        if not candidate.is_file():
            continue
        probe = subprocess.run([str(candidate), "--version"], capture_output=True, text=True)
        if major_version_of(probe.stdout) == server_major:
            return candidate
    raise BackupFailed(
        f"no {name} for PostgreSQL {server_major} is installed (the server's major version); "
        f"install postgresql-client-{server_major}"
    )


def run_tool(command: list[str], target: LibpqTarget) -> None:
    """Run a client tool; BackupFailed with its error output when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, env=target.environment())
    if result.returncode != 0:
        tool = Path(command[0]).name
        raise BackupFailed(f"{tool} failed (exit {result.returncode}):\n{result.stderr.strip()}")


def server_major(connection: psycopg.Connection[TupleRow]) -> int:
    return connection.info.server_version // 10000


def row_counts(connection: psycopg.Connection[TupleRow]) -> dict[str, int]:
    """Rows of every user table, keyed "schema.table", counted in one statement."""
    tables = connection.execute(USER_TABLES).fetchall()
    if not tables:
        return {}
    counts = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(
            sql.Literal(f"{schema}.{table}"), sql.Identifier(schema, table)
        )
        for schema, table in tables
    )
    return {str(name): int(count) for name, count in connection.execute(counts).fetchall()}


def schema_revision(connection: psycopg.Connection[TupleRow]) -> str | None:
    """The alembic revision the database is at, or None when it has no alembic_version table."""
    exists = connection.execute("SELECT to_regclass('alembic_version')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def holds_tables(target: LibpqTarget) -> bool:
    with target.connect() as connection:
        return connection.execute(USER_TABLES).fetchone() is not None


def holds_files(folder: Path) -> bool:
    return any(True for _ in files_under(folder))


def files_under(folder: Path) -> Iterator[Path]:
    """Regular files under `folder`, in order, leaving out a crashed restore's work folder."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if (
            path.is_file()
            and not path.is_symlink()
            and not relative.parts[0].startswith(WORK_PREFIX)
        ):
            yield path


# A long step's progress: (what is being done, steps done, steps in all); a CLI shows it.
StepProgress = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    """The progress of a caller that shows none."""


def backup_database(
    database_url: str, target: Path, media_dir: Path, progress: StepProgress = no_progress
) -> BackupSummary:
    """Write the database and the photos folder to `target`; returns what went in."""
    if target.exists():
        raise Conflict(f"{target} exists; choose another file name", field="file")
    if not target.parent.is_dir():
        raise InvalidInput(f"no folder {target.parent} to write the backup into", field="file")
    started = time.monotonic()
    libpq = LibpqTarget.from_sqlalchemy_url(database_url)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as work:
        work_dir = Path(work)
        progress("dumping the database (pg_dump)", 0, 4)
        manifest = dump_at_snapshot(libpq, work_dir / DUMP)
        # Archived after the snapshot: photo files are written before their rows are committed,
        # so every photo row in the dump has its file in the archive.
        progress("archiving the photos", 1, 4)
        manifest.photo_files = archive_folder(media_dir, work_dir / MEDIA)
        progress("checksums", 2, 4)
        for member in (DUMP, MEDIA):
            manifest.members[member] = digest_of(work_dir / member)
        progress("writing the backup file", 3, 4)
        write_backup(work_dir, manifest, target)
    return BackupSummary(
        path=target,
        size_bytes=target.stat().st_size,
        schema_revision=manifest.schema_revision,
        tables=manifest.tables,
        photo_files=manifest.photo_files,
        elapsed_s=time.monotonic() - started,
    )


def dump_at_snapshot(libpq: LibpqTarget, dump_file: Path) -> BackupManifest:
    """pg_dump to `dump_file`; the manifest's counts come from the very snapshot pg_dump reads."""
    with libpq.connect() as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot is not None
        manifest = BackupManifest(
            format=FORMAT_NAME,
            format_version=FORMAT_VERSION,
            created_at=datetime.now(UTC),
            schema_revision=schema_revision(connection),
            server_version=str(connection.info.parameter_status("server_version") or ""),
            tables=row_counts(connection),
            photo_files=0,
            members={},
        )
        pg_dump = client_tool("pg_dump", server_major(connection))
        dump = [str(pg_dump), "--format=custom", f"--snapshot={snapshot[0]}", f"--file={dump_file}"]
        run_tool([*dump, f"--dbname={libpq.uri}"], libpq)
    return manifest


def archive_folder(folder: Path, archive: Path) -> int:
    """Tar the regular files under `folder` (paths relative to it); returns how many."""
    files = 0
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in files_under(folder):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
            files += 1
    return files


def digest_of(path: Path) -> MemberDigest:
    sha256 = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            sha256.update(chunk)
    return MemberDigest(size_bytes=path.stat().st_size, sha256=sha256.hexdigest())


def write_backup(work_dir: Path, manifest: BackupManifest, target: Path) -> None:
    """Assemble the backup file next to `target`, make it durable, then move it into place."""
    (work_dir / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n")
    partial = work_dir / "backup.partial"
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for member in (MANIFEST, DUMP, MEDIA):
            tar.add(work_dir / member, arcname=member, recursive=False)
    with partial.open("rb") as stream:
        os.fsync(stream.fileno())
    os.replace(partial, target)


def restore_database(
    database_url: str,
    source: Path,
    media_dir: Path,
    *,
    force: bool,
    progress: StepProgress = no_progress,
) -> RestoreSummary:
    """Replace the database and the photos folder with a backup's; returns what was restored.

    Refuses a target holding tables or photos unless `force`; with `force` the backup is
    restored into a new database that replaces the old one (whose connections are ended)."""
    started = time.monotonic()
    libpq = LibpqTarget.from_sqlalchemy_url(database_url)
    replaced_existing = holds_tables(libpq) or holds_files(media_dir)
    if replaced_existing and not force:
        raise Conflict(
            f"database {libpq.database} or photos folder {media_dir} is not empty;"
            " restore with --force to replace them",
            field="force",
        )
    # The work folder lives inside the photos folder: one file system, so the swap is renames
    # (the photos folder may be a mount point, which cannot itself be renamed).
    media_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=media_dir, prefix=WORK_PREFIX) as work:
        work_dir = Path(work)
        progress("unpacking and checking the backup", 0, 3)
        manifest = unpack_verified(source, work_dir)
        progress("restoring the database (pg_restore)", 1, 3)
        pg_restore = readable_by_pg_restore(work_dir / DUMP, libpq)
        if replaced_existing:
            restore_replacing(pg_restore, work_dir / DUMP, libpq, manifest)
        else:
            restore_dump(pg_restore, work_dir / DUMP, libpq, manifest)
        progress("putting the photos in place", 2, 3)
        replace_folder_contents(work_dir / MEDIA, media_dir, work_dir)
    return RestoreSummary(
        source=source,
        created_at=manifest.created_at,
        schema_revision=manifest.schema_revision,
        tables=manifest.tables,
        photo_files=manifest.photo_files,
        replaced_existing=replaced_existing,
        elapsed_s=time.monotonic() - started,
    )


def unpack_verified(source: Path, work_dir: Path) -> BackupManifest:
    """Unpack the backup into `work_dir` and check every member against the manifest; returns it.

    InvalidInput for a file that is truncated, altered or not a citygrid backup."""
    if not source.is_file():
        raise InvalidInput(f"no backup file {source}", field="file")
    try:
        with tarfile.open(source, "r:") as tar:
            digests = {member.name: unpack_member(tar, member, work_dir) for member in tar}
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InvalidInput(
            f"{source} is truncated or not a backup: {error}", field="file"
        ) from error
    manifest = read_manifest(work_dir / MANIFEST, source)
    expected = {**manifest.members}
    actual = {name: digest for name, digest in digests.items() if name != MANIFEST}
    if set(expected) != {DUMP, MEDIA} or actual != expected:
        changed = sorted(
            name for name in set(expected) | set(actual) if expected.get(name) != actual.get(name)
        )
        raise InvalidInput(
            f"{source} does not match its manifest ({', '.join(changed)}): truncated or altered;"
            " nothing was restored",
            field="file",
        )
    return manifest


def unpack_member(tar: tarfile.TarFile, member: tarfile.TarInfo, work_dir: Path) -> MemberDigest:
    """Copy one known member to `work_dir` while hashing it; anything else is refused."""
    name = member.name
    if name not in (MANIFEST, DUMP, MEDIA) or not member.isfile():
        raise tarfile.TarError(f"unexpected member {name!r}")
    stream = tar.extractfile(member)
    assert stream is not None
    with stream, (work_dir / name).open("wb") as copy:
        sha256 = copy_hashing(stream, copy)
    return MemberDigest(size_bytes=(work_dir / name).stat().st_size, sha256=sha256)


def copy_hashing(source: IO[bytes], target: IO[bytes]) -> str:
    """Copy a stream; returns the sha256 of what was copied."""
    sha256 = hashlib.sha256()
    while chunk := source.read(CHUNK_BYTES):
        sha256.update(chunk)
        target.write(chunk)
    return sha256.hexdigest()


def read_manifest(path: Path, source: Path) -> BackupManifest:
    if not path.is_file():
        raise InvalidInput(f"{source} has no manifest: not a citygrid backup", field="file")
    try:
        return BackupManifest.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as error:
        raise InvalidInput(f"{source} has an unreadable manifest: {error}", field="file") from error


def readable_by_pg_restore(dump_file: Path, libpq: LibpqTarget) -> Path:
    """The server's pg_restore, once it has read the dump's table of contents (before anything
    is dropped: a dump from a newer pg_dump is refused here)."""
    with libpq.connect() as connection:
        pg_restore = client_tool("pg_restore", server_major(connection))
    run_tool([str(pg_restore), "--list", str(dump_file)], libpq)
    return pg_restore


def restore_replacing(
    pg_restore: Path, dump_file: Path, libpq: LibpqTarget, manifest: BackupManifest
) -> None:
    """Restore into a new database beside the target; only once it is complete and its counts
    match is the target dropped (its connections ended) and the new one renamed to its name."""
    if libpq.database == MAINTENANCE_DATABASE:
        raise InvalidInput(f"will not replace the {MAINTENANCE_DATABASE} database", field="url")
    staging = libpq.on_database(f"{libpq.database[:40]}_restoring")
    maintenance = libpq.on_database(MAINTENANCE_DATABASE)
    with maintenance.connect(autocommit=True) as connection:
        drop_database(connection, staging.database)  # left by an interrupted restore
        create_database_like(connection, libpq.database, staging.database)
    try:
        restore_dump(pg_restore, dump_file, staging, manifest)
    except BackupFailed as error:
        with maintenance.connect(autocommit=True) as connection:
            drop_database(connection, staging.database)
        raise BackupFailed(f"{error.message}\nthe database was left as it was") from error
    with maintenance.connect(autocommit=True) as connection:
        drop_database(connection, libpq.database)
        connection.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(staging.database), sql.Identifier(libpq.database)
            )
        )


def drop_database(connection: psycopg.Connection[TupleRow], name: str) -> None:
    connection.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


def create_database_like(connection: psycopg.Connection[TupleRow], model: str, name: str) -> None:
    """Create an empty database with the model database's owner, encoding and locale."""
    found = connection.execute(
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype"
        " FROM pg_database WHERE datname = %s",
        (model,),
    ).fetchone()
    assert found is not None  # we connected to it a moment ago
    owner, encoding, collate, ctype = (str(value) for value in found)
    connection.execute(
        sql.SQL(
            "CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}"
        ).format(
            sql.Identifier(name),
            sql.Identifier(owner),
            *(sql.Literal(value) for value in (encoding, collate, ctype)),
        )
    )


def restore_dump(
    pg_restore: Path, dump_file: Path, libpq: LibpqTarget, manifest: BackupManifest
) -> None:
    """pg_restore in one transaction (all or nothing), then check the row counts and ANALYZE."""
    run_tool(
        [
            str(pg_restore),
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",  # objects belong to the user restoring, as the app's URL names it
            "--no-privileges",
            f"--dbname={libpq.uri}",
            str(dump_file),
        ],
        libpq,
    )
    with libpq.connect(autocommit=True) as connection:
        restored = row_counts(connection)
        connection.execute("ANALYZE")  # pg_restore leaves the planner without statistics
    if restored != manifest.tables:
        differing = sorted(
            name
            for name in set(restored) | set(manifest.tables)
            if restored.get(name) != manifest.tables.get(name)
        )
        raise BackupFailed(
            f"restored row counts differ from the backup's in {', '.join(differing)};"
            " the photos folder was left as it was"
        )


def replace_folder_contents(archive: Path, folder: Path, work_dir: Path) -> None:
    """Unpack `archive` in the work folder, then move the folder's old entries out (they go with
    the work folder) and the unpacked ones in: renames only, so no photo is half-written."""
    staged, replaced = work_dir / "media", work_dir / "replaced"
    staged.mkdir()
    replaced.mkdir()
    with tarfile.open(archive, "r:") as tar:
        tar.extractall(staged, filter="data")  # refuses absolute paths, `..` and odd links
    for entry in folder.iterdir():
        if entry != work_dir:
            entry.rename(replaced / entry.name)
    for entry in staged.iterdir():
        entry.rename(folder / entry.name)
