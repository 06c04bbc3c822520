"""C2SP signed notes (c2sp.org/signed-note): sign a text, open and verify a note.

This module's one job is the signed-note envelope::

    <text ending in newline>
    <blank line>
    — <key name> <base64(4-byte key id || signature)>
    ...

``sign_note`` appends one signature line per key; ``open_note`` splits a note at
its last blank line and applies the spec's verification rules: signatures from
unknown (name, key id) pairs are ignored, a known key whose signature fails
rejects the whole note, a note with no verified known signature is rejected,
and the number of signature lines is capped.

It does not interpret the note text (see ``checkpoint``), does no I/O, and
does not manage keys (see ``remit.signing``). Keys are duck-typed through the
``NoteSigner`` / ``NoteVerifier`` protocols, which ``remit.signing.SigningKey``
and ``VerifierKey`` satisfy.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

from remit.signing.keys import KeyFormatError, validate_key_name

__all__ = [
    "MAX_SIGNATURES",
    "SIGNATURE_PREFIX",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "check_note_text",
    "open_note",
    "sign_note",
]

MAX_SIGNATURES = 100
"""Default cap on signature lines in a note (the spec requires accepting >= 16)."""

SIGNATURE_PREFIX = "\u2014 "
"""Every signature line starts with an em dash (U+2014) and a space."""

_KEY_ID_SIZE = 4
_FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\ud800-\udfff]")


class NoteError(ValueError):
    """A note is malformed, or could not be signed or verified; the message says why."""


class NoteSigner(Protocol):
    """Anything that can sign a note: a key name, a 4-byte key id and ``sign``."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class NoteVerifier(Protocol):
    """Anything that can verify a note signature for a (name, key id) pair."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


V = TypeVar("V", bound=NoteVerifier)


def _describe_char(text: str, position: int) -> str:
    return f"U+{ord(text[position]):04X} at offset {position}"


def check_note_text(text: str) -> None:
    """Raise NoteError unless ``text`` is a valid note text.

    A note text is a str that ends with a newline, has no ASCII control
    characters other than newline, and encodes to UTF-8 (no lone surrogates).
    """
    if not isinstance(text, str):
        raise NoteError(f"note text must be a str, found {type(text).__name__}")
    if not text.endswith("\n"):
        found = repr(text[-1]) if text else "an empty text"
        raise NoteError(f"note text must end with a newline, found {found} at the end")
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        raise NoteError(
            "note text must not contain control characters other than newline or "
            f"unpaired surrogates, found {_describe_char(text, bad.start())}"
        )


def _signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    encoded = base64.b64encode(key_id + signature).decode("ascii")
    return f"{SIGNATURE_PREFIX}{name} {encoded}\n"


def sign_note(text: str, *keys: NoteSigner) -> str:
    """Return ``text`` as a signed note carrying one signature line per key.

    Raises NoteError if the text is not a valid note text, no key is given, a
    key name is invalid, a key id is not 4 bytes, or a key is given twice.
    """
    check_note_text(text)
    if not keys:
        raise NoteError("at least one signing key is required to sign a note, found none")
    message = text.encode("utf-8")
    lines: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    for key in keys:
        name = key.name
        key_id = key.key_id
        try:
            validate_key_name(name)
        except KeyFormatError as exc:
            raise NoteError(f"cannot sign with key {name!r}: {exc}") from None
        if not isinstance(key_id, bytes) or len(key_id) != _KEY_ID_SIZE:
            raise NoteError(f"key id of {name!r} must be {_KEY_ID_SIZE} bytes, found {key_id!r}")
        if (name, key_id) in seen:
            raise NoteError(f"key {name!r} ({key_id.hex()}) was given twice")
        seen.add((name, key_id))
        lines.append(_signature_line(name, key_id, key.sign(message)))
    return text + "\n" + "".join(lines)


def _index_verifiers(verifiers: Sequence[V]) -> dict[tuple[str, bytes], V]:
    index: dict[tuple[str, bytes], V] = {}
    for verifier in verifiers:
        handle = (verifier.name, bytes(verifier.key_id))
        previous = index.get(handle)
        if previous is not None and previous is not verifier and previous != verifier:
            raise NoteError(
                f"ambiguous verifiers: two different keys share name {handle[0]!r} "
                f"and key id {handle[1].hex()}"
            )
        index[handle] = verifier
    return index


def open_note(
    note: str | bytes,
    verifiers: Sequence[V],
    *,
    max_signatures: int = MAX_SIGNATURES,
) -> tuple[str, list[V]]:
    """Verify a signed note; return its text and the known keys that signed it.

    ``verifiers`` are the trusted keys. Unknown signatures are ignored; a
    failing signature from a trusted key, a malformed note, more than
    ``max_signatures`` signature lines, or no verified trusted signature all
    raise NoteError. Verified keys are returned once each, in signature order.
    """
    if isinstance(note, bytes | bytearray):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note must be valid UTF-8, found invalid bytes: {exc}") from None
    if not isinstance(note, str):
        raise NoteError(f"note must be str or bytes, found {type(note).__name__}")
    bad = _FORBIDDEN.search(note)
    if bad is not None:
        raise NoteError(
            "note must not contain control characters other than newline or unpaired "
            f"surrogates, found {_describe_char(note, bad.start())}"
        )
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError(
            "note must have a blank line between the text and the signatures, found none"
        )
    text = note[: split + 1]
    block = note[split + 2 :]
    if not block:
        raise NoteError("note must have at least one signature line after the blank line")
    if not block.endswith("\n"):
        raise NoteError("note must end with a newline after its last signature line")
    lines = block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise NoteError(
            f"note must have at most {max_signatures} signature lines, found {len(lines)}"
        )

    known = _index_verifiers(verifiers)
    message = text.encode("utf-8")
    verified: list[V] = []
    verified_handles: set[tuple[str, bytes]] = set()
    unknown: list[str] = []
    for number, line in enumerate(lines, start=1):
        name, key_id, signature = _parse_signature_line(number, line)
        handle = (name, key_id)
        verifier = known.get(handle)
        if verifier is None:
            unknown.append(f"{name}+{key_id.hex()}")
            continue
        if not verifier.verify(message, signature):
            raise NoteError(
                f"signature line {number} by trusted key {name!r} ({key_id.hex()}) "
                "does not verify: the note was altered or the signature is bad"
            )
        if handle not in verified_handles:
            verified_handles.add(handle)
            verified.append(verifier)
    if not verified:
        trusted = ", ".join(f"{n}+{i.hex()}" for n, i in known) or "none"
        signers = ", ".join(unknown)
        raise NoteError(
            f"note has no signature from a trusted key: trusted keys are [{trusted}], "
            f"found signatures only from [{signers}]"
        )
    return text, verified


def _parse_signature_line(number: int, line: str) -> tuple[str, bytes, bytes]:
    """Split ``— <name> <base64>`` into (name, key id, signature)."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(
            f"signature line {number} must start with an em dash and a space, found {line[:24]!r}"
        )
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise NoteError(
            f"signature line {number} must be '— <key name> <base64 signature>', "
            "found no space after the key name"
        )
    try:
        validate_key_name(name)
    except KeyFormatError as exc:
        raise NoteError(f"signature line {number}: {exc}") from None
    try:
        blob = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(
            f"signature line {number} must end with standard base64, found {encoded[:24]!r}"
        ) from None
    if len(blob) <= _KEY_ID_SIZE:
        raise NoteError(
            f"signature line {number} must decode to a 4-byte key id plus a signature, "
            f"found {len(blob)} bytes"
        )
    return name, blob[:_KEY_ID_SIZE], blob[_KEY_ID_SIZE:]
