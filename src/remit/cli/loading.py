"""Turning CLI arguments into core objects: envelopes, trusted keys, gates — or a clear
error naming the argument that was wrong.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from remit.cli.common import fail, warn
from remit.decide import Gate
from remit.domain.trust import EnvelopeTrust
from remit.envelope import EnvelopeError, LoadedEnvelope, load_envelope
from remit.envelope.signoff import (
    SignoffCheck,
    SignoffError,
    check_signoffs,
    read_signoffs,
    signoffs_path,
)
from remit.signing.keys import KeyFormatError, VerifierKey, load_verifier_key


def envelope_or_fail(path: Path) -> LoadedEnvelope:
    try:
        return load_envelope(path)
    except EnvelopeError as exc:
        fail(f"envelope is not valid:\n{exc}")


def trusted_keys_or_fail(
    sources: list[str] | None, option: str = "--trusted-keys"
) -> list[VerifierKey]:
    """The trust anchors: public keys only. A private key is refused, naming the public
    file to give instead: whoever holds the trust-anchor file must not be able to sign."""
    keys = []
    for src in sources or []:
        if _is_private(src):
            hint = f" give {Path(src).with_suffix('.pub')} instead" if src.endswith(".key") else ""
            fail(
                f"{option} {_shown(src)}: this is a PRIVATE key; a trust anchor must be the "
                f"public key (the .pub file `remit keygen` wrote next to it, or its verifier "
                f"key text);{hint}"
            )
        try:
            keys.append(load_verifier_key(src))
        except (KeyFormatError, OSError) as exc:
            fail(f"{option} {_shown(src)}: {exc}")
    return keys


def _is_private(src: str) -> bool:
    text = src
    if "+" not in src or Path(src).is_file():
        try:
            text = Path(src).read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return False
    return text.strip().startswith("PRIVATE+KEY+")


def _shown(src: str) -> str:
    """A key source as it may be printed (never a private key's text)."""
    return "(key text)" if src.strip().startswith("PRIVATE+KEY+") else src


def trust_or_fail(
    loaded: LoadedEnvelope, envelope_path: Path, trusted: list[VerifierKey], now: datetime
) -> tuple[EnvelopeTrust, list[SignoffCheck]]:
    try:
        signoffs = read_signoffs(signoffs_path(envelope_path))
    except SignoffError as exc:
        fail(str(exc))
    return check_signoffs(loaded, signoffs, trusted, now)


def gate_for(
    envelope_path: Path,
    trusted_sources: list[str] | None,
    insecure_unsigned: bool,
    now: datetime,
) -> tuple[Gate, LoadedEnvelope, list[SignoffCheck]]:
    """Load, verify and compile: the gate a command decides with."""
    loaded = envelope_or_fail(envelope_path)
    trusted = trusted_keys_or_fail(trusted_sources)
    trust, checks = trust_or_fail(loaded, envelope_path, trusted, now)
    if insecure_unsigned:
        warn(
            "--insecure-unsigned: if no trusted sign-off covers the envelope it is used "
            "anyway, and every decision is marked ENVELOPE_UNSIGNED_INSECURE. Never use "
            "this outside experiments."
        )
        if not trust.valid:
            trust = EnvelopeTrust.insecure_unsigned()
    elif not trusted:
        warn("no --trusted-keys given: the envelope cannot be authority; everything is denied")
    return Gate(loaded.envelope, loaded.digest, trust), loaded, checks
