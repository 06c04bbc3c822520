"""Ed25519 signing and verifier keys in the Go / C2SP signed-note text formats.

This module's one job is to create, parse, serialise, load and store Ed25519 key
pairs written the way ``golang.org/x/mod/sumdb/note`` and c2sp.org/signed-note
write them:

* verifier key (vkey): ``<name>+<hex8 key id>+<base64(0x01 || 32-byte public key)>``
* signing key (skey):  ``PRIVATE+KEY+<name>+<hex8 key id>+<base64(0x01 || 32-byte seed)>``
* key id: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``

It does not format or verify notes or checkpoints (see ``remit.tlog.note`` and
``remit.tlog.checkpoint``), and it supports no signature type other than
Ed25519 (type byte 0x01). The only file I/O in ``remit.signing`` is in
:func:`load_signing_key`, :func:`load_verifier_key` and :func:`write_key_pair`.

Error messages never include private key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "ED25519_TYPE",
    "KEY_ID_SIZE",
    "KeyFormatError",
    "SigningKey",
    "VerifierKey",
    "generate_signing_key",
    "key_id_for",
    "load_signing_key",
    "load_verifier_key",
    "parse_skey",
    "parse_vkey",
    "validate_key_name",
    "write_key_pair",
]

ED25519_TYPE = 0x01
"""Signature type byte for Ed25519 in c2sp.org/signed-note."""

KEY_ID_SIZE = 4
"""Key ids are four bytes (a big-endian uint32 in note signatures)."""

_RAW_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_SKEY_PREFIX = "PRIVATE+KEY+"
_HEX_DIGITS = frozenset(string.hexdigits)
_SKEY_SHAPE = "PRIVATE+KEY+<name>+<8 hex digits>+<base64(0x01 || 32-byte seed)>"
_VKEY_SHAPE = "<name>+<8 hex digits>+<base64(0x01 || 32-byte public key)>"


class KeyFormatError(ValueError):
    """A key name, key text or key file does not have the expected format."""


def validate_key_name(name: str) -> str:
    """Return ``name`` if it is a valid signed-note key name, else raise KeyFormatError.

    Rules (c2sp.org/signed-note): non-empty, no Unicode whitespace, no ``+``.
    Control characters are rejected too, since they may not appear in a note.
    """
    if not isinstance(name, str):
        raise KeyFormatError(f"key name must be a str, found {type(name).__name__}")
    if not name:
        raise KeyFormatError("key name must be non-empty, found an empty name")
    for ch in name:
        if ch == "+":
            raise KeyFormatError(f"key name must not contain '+', found {name!r}")
        if ch.isspace():
            raise KeyFormatError(f"key name must not contain whitespace, found {name!r}")
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise KeyFormatError(
                f"key name must not contain control or surrogate characters, found {name!r}"
            )
    return name


def key_id_for(name: str, public_raw: bytes, sig_type: int = ED25519_TYPE) -> bytes:
    """Return the 4-byte key id: ``SHA-256(name || 0x0A || sig_type || public_raw)[:4]``."""
    if not 0 <= sig_type <= 0xFF:
        raise KeyFormatError(f"signature type must be a byte (0..255), found {sig_type}")
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes((sig_type,)) + bytes(public_raw)
    ).digest()
    return digest[:KEY_ID_SIZE]


def _check_key_id(key_id: bytes) -> None:
    if not isinstance(key_id, bytes) or len(key_id) != KEY_ID_SIZE:
        found = f"{len(key_id)} bytes" if isinstance(key_id, bytes) else type(key_id).__name__
        raise KeyFormatError(f"key id must be {KEY_ID_SIZE} bytes, found {found}")


@dataclass(frozen=True, eq=False)
class VerifierKey:
    """A named Ed25519 public key, as used to verify signed notes.

    Equality and hashing use (name, key id, raw public key bytes).
    """

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(repr=False)
    _raw: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        validate_key_name(self.name)
        _check_key_id(self.key_id)
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise KeyFormatError(
                f"public key must be an Ed25519PublicKey, found {type(self.public_key).__name__}"
            )
        raw = self.public_key.public_bytes_raw()
        expected = key_id_for(self.name, raw)
        if expected != self.key_id:
            raise KeyFormatError(
                f"key id for {self.name!r} must be {expected.hex()} "
                f"(SHA-256(name || 0x0A || 0x01 || key)[:4]), found {self.key_id.hex()}"
            )
        object.__setattr__(self, "_raw", raw)

    @property
    def key_id_hex(self) -> str:
        """The key id as 8 lowercase hex digits."""
        return self.key_id.hex()

    def raw_public(self) -> bytes:
        """The 32-byte raw Ed25519 public key."""
        return self._raw

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return True iff ``signature`` is a valid Ed25519 signature of ``message``."""
        if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_vkey(self) -> str:
        """Serialise as ``<name>+<hex8 key id>+<base64(0x01 || public key)>``."""
        encoded = base64.b64encode(bytes((ED25519_TYPE,)) + self._raw).decode("ascii")
        return f"{self.name}+{self.key_id_hex}+{encoded}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifierKey):
            return NotImplemented
        return (self.name, self.key_id, self._raw) == (other.name, other.key_id, other._raw)

    def __hash__(self) -> int:
        return hash((self.name, self.key_id, self._raw))


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A named Ed25519 private key. Equality is identity; ``repr`` hides the key."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        validate_key_name(self.name)
        _check_key_id(self.key_id)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise KeyFormatError(
                f"private key must be an Ed25519PrivateKey, found {type(self.private_key).__name__}"
            )
        raw_public = self.private_key.public_key().public_bytes_raw()
        expected = key_id_for(self.name, raw_public)
        if expected != self.key_id:
            raise KeyFormatError(
                f"key id for {self.name!r} must be {expected.hex()}, found {self.key_id.hex()}"
            )

    @property
    def key_id_hex(self) -> str:
        """The key id as 8 lowercase hex digits."""
        return self.key_id.hex()

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)

    def verifier(self) -> VerifierKey:
        """The matching public verifier key."""
        return VerifierKey(self.name, self.key_id, self.private_key.public_key())

    def to_skey(self) -> str:
        """Serialise as ``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>`` (secret!)."""
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes((ED25519_TYPE,)) + seed).decode("ascii")
        return f"{_SKEY_PREFIX}{self.name}+{self.key_id_hex}+{encoded}"


def generate_signing_key(name: str) -> SigningKey:
    """Create a fresh random Ed25519 signing key with the given key name."""
    validate_key_name(name)
    private = Ed25519PrivateKey.generate()
    key_id = key_id_for(name, private.public_key().public_bytes_raw())
    return SigningKey(name, key_id, private)


def _split_key_text(text: str, what: str, shape: str) -> tuple[str, bytes, bytes]:
    """Split ``name+hex8+base64`` into (name, key id, decoded key bytes).

    Splits on the first two '+' only: standard base64 may itself contain '+'.
    ``what`` names the kind of key for error messages; the text itself is not echoed.
    """
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError(
            f"{what} must look like {shape}, found {len(parts) - 1} '+' separator(s)"
        )
    name, id_hex, encoded = parts
    validate_key_name(name)
    if len(id_hex) != 2 * KEY_ID_SIZE or not set(id_hex) <= _HEX_DIGITS:
        raise KeyFormatError(
            f"{what} key id must be {2 * KEY_ID_SIZE} hex digits, found {id_hex!r}"
        )
    key_id = bytes.fromhex(id_hex)
    try:
        blob = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise KeyFormatError(f"{what} key data must be standard base64 ({exc})") from None
    if len(blob) != 1 + _RAW_KEY_SIZE:
        raise KeyFormatError(
            f"{what} key data must decode to {1 + _RAW_KEY_SIZE} bytes "
            f"(type byte + 32-byte key), found {len(blob)} bytes"
        )
    if blob[0] != ED25519_TYPE:
        raise KeyFormatError(
            f"{what} type byte must be 0x{ED25519_TYPE:02x} (Ed25519), found 0x{blob[0]:02x}"
        )
    return name, key_id, blob[1:]


def parse_vkey(text: str) -> VerifierKey:
    """Parse a verifier key ``<name>+<hex8>+<base64(0x01 || public key)>``.

    Surrounding whitespace is ignored. Raises KeyFormatError if the text is
    malformed, the type is not Ed25519, or the key id does not match the key.
    """
    if not isinstance(text, str):
        raise KeyFormatError(f"verifier key must be a str, found {type(text).__name__}")
    text = text.strip()
    if text.startswith(_SKEY_PREFIX):
        raise KeyFormatError(
            "expected a verifier (public) key, found a PRIVATE+KEY signing key text"
        )
    name, key_id, raw = _split_key_text(text, "verifier key", _VKEY_SHAPE)
    expected = key_id_for(name, raw)
    if expected != key_id:
        raise KeyFormatError(
            f"verifier key id for {name!r} must be {expected.hex()}, found {key_id.hex()}"
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFormatError(f"verifier key is not a valid Ed25519 public key: {exc}") from None
    return VerifierKey(name, key_id, public)


def parse_skey(text: str) -> SigningKey:
    """Parse a signing key ``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>``.

    Surrounding whitespace is ignored. Raises KeyFormatError (never echoing the
    key text) if the text is malformed or its key id does not match the key.
    """
    if not isinstance(text, str):
        raise KeyFormatError(f"signing key must be a str, found {type(text).__name__}")
    text = text.strip()
    if not text.startswith(_SKEY_PREFIX):
        raise KeyFormatError(f"signing key must start with {_SKEY_PREFIX!r} ({_SKEY_SHAPE})")
    name, key_id, seed = _split_key_text(text[len(_SKEY_PREFIX) :], "signing key", _SKEY_SHAPE)
    private = Ed25519PrivateKey.from_private_bytes(seed)
    expected = key_id_for(name, private.public_key().public_bytes_raw())
    if expected != key_id:
        raise KeyFormatError(
            f"signing key id for {name!r} must be {expected.hex()}, found {key_id.hex()}"
        )
    return SigningKey(name, key_id, private)


def _read_source(source: str | Path, what: str, looks_like_text: bool) -> str:
    """Return key text from ``source``: a Path, a path string, or the key text itself."""
    if isinstance(source, Path):
        path = source
    elif isinstance(source, str):
        if looks_like_text and not _is_file(source):
            return source
        path = Path(source)
    else:
        raise KeyFormatError(f"{what} source must be a str or Path, found {type(source).__name__}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no {what} file at {str(path)!r} (and the argument is not {what} text)"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFormatError(f"{what} file {str(path)!r} is not UTF-8 text") from None


def _is_file(candidate: str) -> bool:
    try:
        return Path(candidate).is_file()
    except (OSError, ValueError):
        return False


def load_signing_key(source: str | Path) -> SigningKey:
    """Load a signing key from a file path or from the skey text itself.

    A ``str`` starting with ``PRIVATE+KEY+`` is parsed as key text unless it names
    an existing file; any other ``str`` or a ``Path`` is read as a file.
    Raises KeyFormatError for bad content and OSError for unreadable files.
    """
    looks_like_text = isinstance(source, str) and source.strip().startswith(_SKEY_PREFIX)
    text = _read_source(source, "signing key", looks_like_text)
    return parse_skey(text)


def load_verifier_key(source: str | Path) -> VerifierKey:
    """Load a verifier key from a file path or from the vkey text itself.

    A ``str`` containing ``+`` is parsed as key text unless it names an existing
    file; any other ``str`` or a ``Path`` is read as a file. If the text is a
    signing (private) key, its verifier is derived and returned.
    Raises KeyFormatError for bad content and OSError for unreadable files.
    """
    looks_like_text = isinstance(source, str) and "+" in source
    text = _read_source(source, "verifier key", looks_like_text)
    if text.strip().startswith(_SKEY_PREFIX):
        return parse_skey(text).verifier()
    return parse_vkey(text)


def write_key_pair(out_stem: Path, key: SigningKey) -> tuple[Path, Path]:
    """Write ``<stem>.key`` (skey, mode 0o600) and ``<stem>.pub`` (vkey).

    Refuses to overwrite: raises FileExistsError if either file already exists,
    in which case nothing is written. Returns (private path, public path).
    """
    stem = Path(out_stem)
    key_path = stem.with_name(stem.name + ".key")
    pub_path = stem.with_name(stem.name + ".pub")
    for existing in (key_path, pub_path):
        if existing.exists() or existing.is_symlink():
            raise FileExistsError(
                f"refusing to overwrite existing key file {str(existing)!r}; "
                "choose another name or remove it first"
            )
    _write_new_file(key_path, key.to_skey() + "\n", 0o600)
    try:
        _write_new_file(pub_path, key.verifier().to_vkey() + "\n", 0o644)
    except BaseException:
        key_path.unlink(missing_ok=True)
        raise
    return key_path, pub_path


def _write_new_file(path: Path, text: str, mode: int) -> None:
    """Create ``path`` exclusively (never following or replacing) with ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise FileExistsError(
            f"refusing to overwrite existing key file {str(path)!r}; "
            "choose another name or remove it first"
        ) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
    except BaseException:
        if fd != -1:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise
