"""Issue 12, item 8: `remit envelope check` and `sign` refuse a YAML tag that is not a
JSON type (`!!set`, `!!binary`, `!!timestamp`, `!!python/…`, `!custom`) with file:line and
exit 2, where they used to crash with a traceback (exit 1)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES

PLAIN = "autonomous: [summary, signals, confidence, alternatives]"
TAGS = [
    "!!set {summary, signals}",
    "!!binary c3VtbWFyeQ==",
    "!!timestamp 2027-03-01",
    "!!python/name:os.system",
    "!foo [summary]",
]


def remit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remit.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("key")
    proc = remit("keygen", "--out", "ciso", "--name", "example.com/ciso", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder / "ciso.key"


@pytest.mark.parametrize("tagged", TAGS)
def test_check_and_sign_refuse_the_tag_with_file_and_line(
    tagged: str, key: Path, tmp_path: Path
) -> None:
    text = (EXAMPLES / "envelope.yaml").read_text()
    assert PLAIN in text
    text = text.replace(PLAIN, f"autonomous: {tagged}", 1)
    (tmp_path / "envelope.yaml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if tagged in t)
    for args in (["envelope", "check", "envelope.yaml"],
                 ["envelope", "sign", "envelope.yaml", "--key", str(key),
                  "--signer", "ciso@example.com", "--role", "CISO"]):  # fmt: skip
        proc = remit(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert re.search(rf"envelope\.yaml:{line}:\d+:", proc.stderr), proc.stderr
        assert "not allowed in an envelope" in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envelope.yaml"]  # nothing signed


def test_the_example_still_checks(tmp_path: Path) -> None:
    """The control: the untagged example is accepted by the same command."""
    shutil.copy(EXAMPLES / "envelope.yaml", tmp_path / "envelope.yaml")
    proc = remit("envelope", "check", "envelope.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
