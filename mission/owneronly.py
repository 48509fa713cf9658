"""Files and folders only their owner can read: the SQLite database (password hashes,
reporters' contacts, the audit log) and the data directory that holds it.

With a common umask of 022 they were created 0644/0755: readable by every local account. New
ones are created 0600/0700 whatever the umask; an existing database file is narrowed to 0600
(SQLite gives its -wal and -shm files the database's mode). An existing directory is left as it
is: it may be shared on purpose (NAZORAT_DATA_DIR=/srv/...), and the files in it are private.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) owner-only; an existing one is kept as it is."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        try:
            p.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(p, DIR_MODE)  # mkdir's mode is filtered by the umask


def private_file(path: Path) -> None:
    """Create `path` empty and owner-only if missing; narrow an existing one to 0600."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, FILE_MODE)
            log.warning("%s was readable by others (%o); now owner-only", path, mode)
        return
    os.close(fd)
