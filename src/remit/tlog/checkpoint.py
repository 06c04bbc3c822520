"""C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint): format, parse, sign, open.

This module's one job is the checkpoint note body::

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <root hash, standard base64 of 32 bytes>
    [extension lines...]

plus signing it as a C2SP signed note and opening a signed checkpoint with
trusted keys. It does not check that a checkpoint is consistent with another
one or with a tree (see ``merkle``), does no I/O, and does not manage keys.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from remit.tlog.note import NoteError, NoteSigner, NoteVerifier, open_note, sign_note

__all__ = [
    "MAX_TREE_SIZE",
    "ROOT_SIZE",
    "Checkpoint",
    "CheckpointError",
    "open_checkpoint",
    "sign_checkpoint",
]

ROOT_SIZE = 32
"""Root hashes are SHA-256 (RFC 6962)."""

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are uint64, as in the Go reference implementations."""

_ROOT_B64_LEN = 44
_CONTROL = re.compile(r"[\x00-\x1f\ud800-\udfff]")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")


class CheckpointError(ValueError):
    """A checkpoint is malformed, or its signed note could not be opened."""


def _check_line(what: str, value: str) -> None:
    if not isinstance(value, str):
        raise CheckpointError(f"{what} must be a str, found {type(value).__name__}")
    if not value:
        raise CheckpointError(f"{what} must be non-empty, found an empty line")
    bad = _CONTROL.search(value)
    if bad is not None:
        raise CheckpointError(
            f"{what} must be one line without control characters, "
            f"found U+{ord(value[bad.start()]):04X} at offset {bad.start()}"
        )


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("checkpoint origin", self.origin)
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise CheckpointError(
                f"checkpoint size must be an int, found {type(self.size).__name__}"
            )
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint size must be in 0..2**64-1, found {self.size}")
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_SIZE:
            found = (
                f"{len(self.root)} bytes"
                if isinstance(self.root, bytes)
                else type(self.root).__name__
            )
            raise CheckpointError(f"checkpoint root must be {ROOT_SIZE} bytes, found {found}")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError(
                "checkpoint extensions must be a tuple of str, "
                f"found {type(self.extensions).__name__}"
            )
        for number, line in enumerate(self.extensions, start=1):
            _check_line(f"checkpoint extension line {number}", line)

    @property
    def root_b64(self) -> str:
        """The root hash in standard base64, as written on the checkpoint's third line."""
        return base64.b64encode(self.root).decode("ascii")

    def to_text(self) -> str:
        """The checkpoint note text (every line ends with a newline)."""
        lines = [self.origin, str(self.size), self.root_b64, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text (no signatures); raise CheckpointError if malformed."""
        if not isinstance(text, str):
            raise CheckpointError(f"checkpoint text must be a str, found {type(text).__name__}")
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline, found none")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                "checkpoint text must have at least 3 lines (origin, size, root), "
                f"found {len(lines)}"
            )
        for number, line in enumerate(lines, start=1):
            if not line:
                raise CheckpointError(f"checkpoint line {number} must be non-empty, found empty")
        origin, size_text, root_text, *extensions = lines
        return cls(
            origin=origin,
            size=_parse_size(size_text),
            root=_parse_root(root_text),
            extensions=tuple(extensions),
        )


def _parse_size(size_text: str) -> int:
    if not _DECIMAL.match(size_text):
        raise CheckpointError(
            f"checkpoint size must be ASCII decimal without leading zeros, found {size_text[:32]!r}"
        )
    if len(size_text) > 20 or int(size_text) > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint size must be at most 2**64-1, found {size_text[:32]}")
    return int(size_text)


def _parse_root(root_text: str) -> bytes:
    if len(root_text) != _ROOT_B64_LEN:
        raise CheckpointError(
            f"checkpoint root must be {_ROOT_B64_LEN} characters of base64 "
            f"({ROOT_SIZE} bytes), found {len(root_text)} characters"
        )
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CheckpointError(
            f"checkpoint root must be standard base64, found {root_text!r}"
        ) from None
    if len(root) != ROOT_SIZE:
        raise CheckpointError(
            f"checkpoint root must decode to {ROOT_SIZE} bytes, found {len(root)} bytes"
        )
    if base64.b64encode(root).decode("ascii") != root_text:
        raise CheckpointError(
            f"checkpoint root must be the canonical base64 of {ROOT_SIZE} bytes, "
            f"found {root_text!r}"
        )
    return root


def sign_checkpoint(checkpoint: Checkpoint, key: NoteSigner, *more_keys: NoteSigner) -> str:
    """Sign the checkpoint text as a C2SP note with ``key`` (and any ``more_keys``).

    Our own logs follow the spec's recommendation: the origin must contain no
    whitespace and no '+', otherwise CheckpointError is raised.
    """
    origin = checkpoint.origin
    if "+" in origin or any(ch.isspace() for ch in origin):
        raise CheckpointError(
            "origin of a checkpoint we sign must be a schema-less URL without whitespace "
            f"or '+', found {origin!r}"
        )
    try:
        return sign_note(checkpoint.to_text(), key, *more_keys)
    except NoteError as exc:
        raise CheckpointError(f"cannot sign checkpoint: {exc}") from exc


def open_checkpoint(
    note: str | bytes,
    verifiers: Sequence[NoteVerifier],
    *,
    expected_origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint with trusted keys and parse it.

    Raises CheckpointError if the note does not verify (see ``note.open_note``),
    the body is not a valid checkpoint, or ``expected_origin`` is given and
    differs from the checkpoint's origin.
    """
    try:
        text, _signers = open_note(note, verifiers)
    except NoteError as exc:
        raise CheckpointError(f"checkpoint signature check failed: {exc}") from exc
    checkpoint = Checkpoint.parse(text)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise CheckpointError(
            f"checkpoint origin must be {expected_origin!r}, found {checkpoint.origin!r}"
        )
    return checkpoint
