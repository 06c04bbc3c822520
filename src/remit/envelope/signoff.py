"""Sign-off (C6): detached Ed25519 sign-offs over the envelope's canonical digest, kept in
`ENVELOPE.signoffs.json`, and their verification against separately trusted keys.

An envelope is authority only when at least one sign-off by a trusted key covers its
current digest. The latest such sign-off is the envelope's last review. Reading and
writing the sign-off file is done by `read_signoffs`/`append_signoff`; everything else
here is pure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remit.domain.canonical import canonical_json
from remit.domain.trust import EnvelopeTrust
from remit.envelope.loader import LoadedEnvelope
from remit.signing.keys import SigningKey, VerifierKey

SIGNOFF_CONTEXT = b"remit.dev/envelope-signoff/v1\n"


class SignoffError(ValueError):
    """The sign-off file is unreadable or malformed."""


@dataclass(frozen=True)
class Signoff:
    """One sign-off: who, in which role, with which key, when, over which digest."""

    signer: str
    role: str
    key_name: str
    key_id: str
    at: datetime
    envelope_name: str
    envelope_version: int
    digest: str
    signature: bytes

    def statement(self) -> dict[str, Any]:
        """The signed statement (everything but the signature)."""
        return {
            "signer": self.signer,
            "role": self.role,
            "key": self.key_name,
            "key_id": self.key_id,
            "at": _iso(self.at),
            "envelope": {
                "name": self.envelope_name,
                "version": self.envelope_version,
                "digest": self.digest,
            },
        }

    def message(self) -> bytes:
        return SIGNOFF_CONTEXT + canonical_json(self.statement())

    def to_dict(self) -> dict[str, Any]:
        return {**self.statement(), "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Signoff:
        if not isinstance(data, dict):
            raise SignoffError(f"{where}: a sign-off must be an object")
        try:
            env = data["envelope"]
            at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise SignoffError(f"{where}: 'at' must carry a time zone")
            return cls(
                signer=str(data["signer"]),
                role=str(data["role"]),
                key_name=str(data["key"]),
                key_id=str(data["key_id"]),
                at=at.astimezone(UTC),
                envelope_name=str(env["name"]),
                envelope_version=int(env["version"]),
                digest=str(env["digest"]),
                signature=base64.b64decode(str(data["signature"]), validate=True),
            )
        except KeyError as exc:
            raise SignoffError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, binascii.Error) as exc:
            if isinstance(exc, SignoffError):
                raise
            raise SignoffError(f"{where}: {exc}") from None


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def signoff_id(s: Signoff) -> str:
    """A stable id for a sign-off: the SHA-256 of its signature."""
    return "so_" + hashlib.sha256(s.signature).hexdigest()[:32]


def signoffs_path(envelope_path: str | Path) -> Path:
    """Where the sign-offs of an envelope file live: `<envelope>.signoffs.json`."""
    return Path(f"{envelope_path}.signoffs.json")


def create_signoff(
    loaded: LoadedEnvelope, key: SigningKey, signer: str, role: str, at: datetime
) -> Signoff:
    """Sign the envelope's current digest as `signer` in `role` at time `at`."""
    if at.tzinfo is None:
        raise ValueError("the sign-off time must carry a time zone")
    meta = loaded.envelope.metadata
    unsigned = Signoff(
        signer,
        role,
        key.name,
        key.key_id_hex,
        at.astimezone(UTC),
        meta.name,
        meta.version,
        loaded.digest,
        b"",
    )
    return Signoff(**{**unsigned.__dict__, "signature": key.sign(unsigned.message())})


def read_signoffs(path: Path) -> list[Signoff]:
    """The sign-offs in `path` (an empty list if the file does not exist)."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignoffError(f"{path}: cannot read sign-offs: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("signoffs"), list):
        raise SignoffError(f"{path}: expected an object with a 'signoffs' list")
    return [Signoff.from_dict(s, f"{path}: signoffs[{i}]") for i, s in enumerate(data["signoffs"])]


def append_signoff(path: Path, signoff: Signoff) -> None:
    """Add `signoff` to the file at `path`, atomically (write a temp file, then rename)."""
    existing = read_signoffs(path)
    body = {"signoffs": [s.to_dict() for s in [*existing, signoff]]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class SignoffCheck:
    """The verdict on one sign-off."""

    signoff: Signoff
    valid: bool
    problem: str | None


def check_signoffs(
    loaded: LoadedEnvelope,
    signoffs: Sequence[Signoff],
    trusted: Sequence[VerifierKey],
    now: datetime,
) -> tuple[EnvelopeTrust, list[SignoffCheck]]:
    """Verify every sign-off; the envelope is trusted if one valid sign-off covers it."""
    by_id = {(k.name, k.key_id_hex): k for k in trusted}
    checks = []
    for s in signoffs:
        key = by_id.get((s.key_name, s.key_id))
        problem: str | None
        if key is None:
            problem = f"key {s.key_name} ({s.key_id}) is not among the trusted keys"
        elif not key.verify(s.message(), s.signature):
            problem = "signature does not verify"
        elif s.digest != loaded.digest:
            problem = (
                f"signed digest {s.digest[:19]}… but the envelope is now {loaded.digest[:19]}… "
                "(changed after sign-off)"
            )
        elif s.at > now:
            problem = f"dated {_iso(s.at)}, in the future"
        else:
            problem = None
        checks.append(SignoffCheck(s, problem is None, problem))
    valid = [c.signoff for c in checks if c.valid]
    if valid:
        last = max(s.at for s in valid)
        who = ", ".join(sorted({f"{s.signer} ({s.role})" for s in valid}))
        return EnvelopeTrust(True, last, f"signed off by {who}"), checks
    if not signoffs:
        detail = "it has no sign-offs"
    else:
        detail = "no sign-off verifies: " + "; ".join(
            f"{c.signoff.signer}: {c.problem}" for c in checks
        )
    return EnvelopeTrust(False, None, detail), checks
