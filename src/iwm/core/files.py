"""Files the service writes hold secrets or personal data: readable by their owner only."""

import os
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def write_private(path: Path, data: bytes, *, exclusive: bool = False, fsync: bool = False) -> None:
    """Writes `path` created with mode 0600 (an existing file keeps its mode); with
    `exclusive`, raises FileExistsError rather than touch an existing one; with `fsync`,
    returns once the data is on disk."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())


def private_dirs(path: Path) -> None:
    """Creates folder `path` and any missing parents with mode 0700 (`mkdir(parents=True)`
    gives the parents the default mode)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)


def make_private(path: Path) -> None:
    """Takes group's and others' access away from a file the service made earlier."""
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_FILE)


def private_sqlite_file(database_url: str) -> None:
    """Creates a SQLite database file as an empty file with mode 0600 before SQLite opens it
    (SQLite gives its journal and WAL files the database file's mode)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    if str(url.database).startswith("file:"):
        return  # a URI filename: the caller chose how it is opened
    try:
        write_private(path, b"", exclusive=True)
    except FileExistsError:
        make_private(path)
    except FileNotFoundError:
        pass  # no such folder: SQLite reports it as it always did
