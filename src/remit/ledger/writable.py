"""Whether an SQLite ledger's files can be written right now: the database file, its WAL
and shared-memory files, and (while those two do not exist) the folder that will hold
them. Root ignores permission bits, so this asks the kernel (`access(W_OK)`), which also
refuses immutable files and read-only mounts.

Checked before SQLite touches the files: SQLite opens an unwritable file read-only
without saying so, and a process that writes to a memory-mapped `-shm` file made
immutable is killed with SIGBUS. This module only looks; it opens nothing and never
creates a file.
"""

from __future__ import annotations

import os
from pathlib import Path

MIN_FREE_BYTES = 64 * 1024
"""Below this much free space the ledger's file system counts as full (the probe only)."""


def companions(path: Path) -> tuple[Path, Path]:
    """The WAL and shared-memory files SQLite keeps beside `path`."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def unwritable_reason(path: Path) -> str | None:
    """Why the ledger at `path` cannot be written now, or None if it can."""
    if not path.exists():
        return f"{path} does not exist (removed?); a new, empty ledger is never started here"
    wal, shm = companions(path)
    for f in (path, wal, shm):
        if f.exists() and not os.access(f, os.W_OK):
            return f"{f} is not writable (read-only file system, immutable, or permissions)"
    folder = path.parent
    if not (wal.exists() and shm.exists()) and not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable (SQLite creates the ledger's WAL there)"
    return None


def free_space_reason(path: Path, minimum: int = MIN_FREE_BYTES) -> str | None:
    """Why the file system holding `path` is too full to append, or None."""
    try:
        st = os.statvfs(path.parent)
    except OSError as exc:
        return f"cannot check free space at {path.parent}: {exc}"
    free = st.f_bavail * st.f_frsize
    if free < minimum:
        return f"only {free} bytes free on the file system of {path.parent} (disk full)"
    return None
