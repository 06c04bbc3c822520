"""Remit signing keys: Ed25519 key pairs in the Go / C2SP signed-note text formats.

This package only creates, parses, loads and stores keys (see ``keys``); signing
notes and checkpoints with them lives in ``remit.ledger``.
"""

from remit.signing.keys import (
    ED25519_TYPE,
    KEY_ID_SIZE,
    KeyFormatError,
    SigningKey,
    VerifierKey,
    generate_signing_key,
    key_id_for,
    load_signing_key,
    load_verifier_key,
    parse_skey,
    parse_vkey,
    validate_key_name,
    write_key_pair,
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
