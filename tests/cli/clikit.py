"""Helpers for the CLI tests: run the real `remit` executable in a scratch folder, and
check Merkle proofs and signed notes independently of the code under test."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
REMIT = Path(sys.executable).with_name("remit")

# The example envelope's fixed times: review_every P90D, expires 2027-03-01.
SIGNED_AT = "2026-11-01T00:00:00Z"
NOW = "2026-11-10T12:00:00Z"
NEXT_REVIEW_DUE = "2027-01-30T00:00:00Z"
EXPIRES = "2027-03-01T00:00:00Z"

CISO_NAME = "example.com/ciso"
LOG_NAME = "example.com/remit-log"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI run: no ambient ledger/key settings, wide output."""
    env = {k: v for k, v in os.environ.items() if k not in ("REMIT_DB", "REMIT_LOG_KEY")}
    env.update(COLUMNS="250", NO_COLOR="1", TERM="dumb")
    env.update(extra)
    return env


def remit(
    *args: str | Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `remit ARGS…` in `cwd`; never raises on a non-zero exit."""
    assert REMIT.exists(), f"console script not found at {REMIT}"
    return subprocess.run(
        [str(REMIT), *(str(a) for a in args)],
        cwd=cwd,
        env=env or cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    """Assert the exit code, showing both streams when it is wrong."""
    assert proc.returncode == code, (
        f"exit {proc.returncode}, expected {code}\n"
        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


def decide(
    cwd: Path,
    *extra: str | Path,
    envelope: str | Path = "envelope.yaml",
    request: str | Path = "request.json",
    now: str = NOW,
    db: str | Path = "ledger.db",
    trusted: str | Path | None = None,
) -> dict[str, Any]:
    """`remit decide`, asserting exit 0 and returning the decision JSON."""
    args: list[str | Path] = ["decide", "--envelope", envelope, "--request", request]
    if trusted is not None:
        args += ["--trusted-keys", trusted]
    args += ["--now", now, "--db", db, "--init", *extra]
    return json.loads(ok(remit(*args, cwd=cwd)).stdout)


def codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def copy_examples(dest: Path, signoffs: Path | None = None) -> Path:
    """Copy the example envelope and request (and optionally a sign-offs file) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "envelope.yaml", dest / "envelope.yaml")
    shutil.copy(EXAMPLES / "request.json", dest / "request.json")
    if signoffs is not None:
        shutil.copy(signoffs, dest / "envelope.yaml.signoffs.json")
    return dest


def example_request(**changes: Any) -> dict[str, Any]:
    """The example request with top-level changes; `step=` changes the workflow step."""
    data: dict[str, Any] = json.loads((EXAMPLES / "request.json").read_text("utf-8"))
    step = changes.pop("step", None)
    if step is not None:
        data["provenance"]["workflow"]["step"] = step
    data.update(changes)
    return data


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), "utf-8")
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of `old` in the file at `path`."""
    text = path.read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), "utf-8")


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_files(root: Path) -> dict[str, str]:
    """Every file under root with its SHA-256: to show a command wrote nothing."""
    return {
        str(p.relative_to(root)): file_digest(p) for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- RFC 6962 / RFC 9162, written out here so the CLI is checked against an
# independent implementation rather than against itself.


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to."""
    assert 0 <= index < size
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        assert sn != 0, "proof too long"
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0, "proof too short"
    return r


def consistency_holds(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """A C2SP verifier key `name+hex8+base64(0x01 || key)`: name, key id, public key."""
    name, key_id, b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x01 and len(raw) == 33, "not an Ed25519 verifier key"
    expected_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert bytes.fromhex(key_id) == expected_id, "key id does not match name and key"
    return name, expected_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check a C2SP signed-note checkpoint by `vkey`; return origin, size and root hash."""
    name, key_id, public = parse_vkey(vkey)
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    lines = text.splitlines()
    ours = [
        base64.b64decode(line.split(" ", 2)[2])
        for line in sigs.splitlines()
        if line.startswith(f"\u2014 {name} ")
    ]
    assert ours, f"no signature line by {name} in:\n{note}"
    assert any(sig[:4] == key_id and _verifies(public, sig[4:], text.encode()) for sig in ours), (
        "no signature by the key verifies"
    )
    return lines[0], int(lines[1]), base64.b64decode(lines[2])


def _verifies(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except Exception:
        return False
    return True
