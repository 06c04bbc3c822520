"""Root-only file-system tricks for the robustness tests: making files immutable
(`chattr +i`, which stops root too) and a tiny tmpfs that fills up. A missing tool skips
the test locally and fails it under CI=true (a CI run must not pass by skipping)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def need_root_tool(tool: str) -> None:
    """Skip (fail under CI) unless `tool` exists and this runs as root."""
    problem = None
    if shutil.which(tool) is None:
        problem = f"{tool} is not installed"
    elif os.geteuid() != 0:
        problem = f"{tool} needs root"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (required under CI)")
        pytest.skip(problem)


def ledger_files(db: Path) -> list[Path]:
    """The ledger file and its WAL and shared-memory files that exist."""
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def set_immutable(paths: list[Path], on: bool) -> None:
    need_root_tool("chattr")
    flag = "+i" if on else "-i"
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@contextmanager
def immutable(paths: list[Path]) -> Iterator[None]:
    """`paths` immutable inside the block; always made mutable again."""
    set_immutable(paths, True)
    try:
        yield
    finally:
        set_immutable(paths, False)


@contextmanager
def tiny_tmpfs(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder` (created); unmounted after."""
    need_root_tool("mount")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True, capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system holding `folder` with one file; return it (delete to free)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler
