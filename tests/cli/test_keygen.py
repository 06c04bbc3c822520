"""`remit keygen`: key files, the printed verifier key, refusing to overwrite."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from tests.cli.clikit import CISO_NAME, ok, parse_vkey, remit, tree_files
from tests.cli.conftest import Keys

VKEY = re.compile(r"^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$")


def test_keygen_writes_private_key_mode_600_and_public_key(keys: Keys) -> None:
    assert stat.S_IMODE(keys.ciso_key.stat().st_mode) == 0o600
    assert keys.ciso_pub.is_file()
    assert keys.ciso_key.read_text() != keys.ciso_pub.read_text()
    assert "ciso.key" in keys.keygen_stdout and "ciso.pub" in keys.keygen_stdout
    assert "mode 600" in keys.keygen_stdout


def test_keygen_prints_a_c2sp_verifier_key_on_its_last_line(keys: Keys) -> None:
    last = keys.keygen_stdout.strip().splitlines()[-1]
    assert VKEY.fullmatch(last), last
    name, _key_id, _public = parse_vkey(last)  # key id = SHA-256(name, 0x0A, 0x01, key)[:4]
    assert name == CISO_NAME
    # The .pub file holds the same verifier key.
    assert keys.ciso_pub.read_text().strip() == last


def test_keygen_default_name_is_derived_from_the_stem(tmp_path: Path) -> None:
    out = ok(remit("keygen", "--out", "team-key", cwd=tmp_path)).stdout
    name, _, _ = parse_vkey(out.strip().splitlines()[-1])
    assert name == "remit.local/team-key"


def test_keygen_two_keys_differ(keys: Keys) -> None:
    other = keys.other_pub.read_text().strip()
    assert other != keys.ciso_vkey
    assert other.split("+")[0] == keys.ciso_vkey.split("+")[0]  # same name, other key


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    ok(remit("keygen", "--out", "k", cwd=tmp_path))
    before = tree_files(tmp_path)
    proc = ok(remit("keygen", "--out", "k", cwd=tmp_path), 2)
    assert "overwrite" in proc.stderr and "k.key" in proc.stderr
    assert tree_files(tmp_path) == before


def test_keygen_refuses_to_overwrite_a_lone_public_key(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_text("precious\n")
    ok(remit("keygen", "--out", "k", cwd=tmp_path), 2)
    assert (tmp_path / "k.pub").read_text() == "precious\n"
    assert not (tmp_path / "k.key").exists()


def test_keygen_bad_name_and_missing_folder(tmp_path: Path) -> None:
    proc = ok(remit("keygen", "--out", "k", "--name", "has space", cwd=tmp_path), 2)
    assert "--name" in proc.stderr
    proc = ok(remit("keygen", "--out", "nowhere/k", cwd=tmp_path), 2)
    assert "--out" in proc.stderr and "nowhere" in proc.stderr
    assert tree_files(tmp_path) == {}
