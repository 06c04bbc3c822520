"""Tests for remit.signing.keys: Go / C2SP note key formats, loading and storing."""

from __future__ import annotations

import base64
import contextlib
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.signing import (
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


def _published_signature(note: str) -> tuple[bytes, bytes]:
    """(key id, signature) from the last signature line of a note."""
    line = note.rstrip("\n").rsplit("\n", 1)[1]
    blob = base64.b64decode(line.rsplit(" ", 1)[1])
    return blob[:4], blob[4:]


# ----------------------------------------------------------------------------- Go vector B


def test_go_vector_skey_reproduces_vkey_and_signature(go_vector: dict[str, Any]) -> None:
    key = parse_skey(go_vector["skey"])
    assert key.name == "PeterNeumann"
    assert key.key_id_hex == "c74f20a3"
    assert key.verifier().to_vkey() == go_vector["vkey"]
    assert key.to_skey() == go_vector["skey"]
    key_id, signature = _published_signature(go_vector["note"])
    assert key_id == key.key_id
    assert key.sign(go_vector["signed_text"].encode()) == signature
    assert key.verifier().verify(go_vector["signed_text"].encode(), signature)


def test_go_vector_vkey_parses(go_vector: dict[str, Any]) -> None:
    verifier = parse_vkey(go_vector["vkey"])
    assert verifier.to_vkey() == go_vector["vkey"]
    assert verifier.key_id == key_id_for(verifier.name, verifier.raw_public())
    assert verifier == parse_skey(go_vector["skey"]).verifier()
    assert hash(verifier) == hash(parse_skey(go_vector["skey"]).verifier())
    assert "+" in go_vector["skey"].split("+", 4)[4]  # base64 with '+' inside is handled


def test_c2sp_vector_vkey_parses(note_vectors: dict[str, Any]) -> None:
    for vector in note_vectors["vectors"]:
        verifier = parse_vkey(vector["vkey"])
        assert verifier.to_vkey() == vector["vkey"]
        key_id, signature = _published_signature(vector["note"])
        assert key_id == verifier.key_id
        assert verifier.verify(vector["signed_text"].encode(), signature)
        assert not verifier.verify(vector["signed_text"].encode() + b"x", signature)
        assert not verifier.verify(vector["signed_text"].encode(), signature[:-1])


# ----------------------------------------------------------------------------- round trips


def test_generate_round_trip() -> None:
    key = generate_signing_key("example.com/log")
    again = parse_skey(key.to_skey())
    assert again.to_skey() == key.to_skey()
    assert again.verifier() == key.verifier()
    assert parse_vkey(key.verifier().to_vkey()) == key.verifier()
    message = b"remit"
    assert key.verifier().verify(message, again.sign(message))
    assert key.verifier().key_id_hex == key.key_id.hex()
    assert len(key.verifier().raw_public()) == 32


def test_key_id_definition() -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    import hashlib

    assert key_id_for("n", raw) == hashlib.sha256(b"n\n\x01" + raw).digest()[:4]
    assert key_id_for("n", raw, 0x04) == hashlib.sha256(b"n\n\x04" + raw).digest()[:4]


def _secret_part(key: SigningKey) -> str:
    """The base64 seed of ``PRIVATE+KEY+<name>+<hex8>+<base64>``; base64 may itself hold '+'."""
    secret = key.to_skey().split("+", 4)[4]
    assert len(secret) == 44
    return secret


def test_repr_hides_private_key() -> None:
    key = generate_signing_key("example.com/secret")
    encoded = _secret_part(key)
    assert encoded not in repr(key)
    assert "private_key" not in repr(key)


def test_constructors_validate() -> None:
    private = Ed25519PrivateKey.generate()
    with pytest.raises(KeyFormatError, match="key id for 'n' must be"):
        SigningKey("n", b"\x00\x00\x00\x00", private)
    with pytest.raises(KeyFormatError, match="4 bytes, found 3 bytes"):
        VerifierKey("n", b"abc", private.public_key())
    with pytest.raises(KeyFormatError, match="whitespace"):
        generate_signing_key("has space")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "non-empty"),
        ("a b", "whitespace"),
        ("a\u00a0b", "whitespace"),
        ("a\u2003b", "whitespace"),
        ("a+b", "'\\+'"),
        ("a\x00b", "control"),
        ("a\x7fb", "control"),
    ],
)
def test_name_rules(name: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        validate_key_name(name)


# ----------------------------------------------------------------------------- malformed


def _vkey_text(name: str, key_id_hex: str, blob: bytes) -> str:
    return f"{name}+{key_id_hex}+{base64.b64encode(blob).decode()}"


# A fixed key (seed 0x07 × 32): the cases below carry it in their test ids, which must be
# the same in every process that collects them (pytest-xdist workers).
_SEED = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
_GOOD = SigningKey(
    "example.com/good",
    key_id_for("example.com/good", _SEED.public_key().public_bytes_raw()),
    _SEED,
)
_RAW = _GOOD.verifier().raw_public()
_ID = _GOOD.key_id_hex


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "separator"),
        ("name", "separator"),
        ("name+c74f20a3", "separator"),
        (_vkey_text("example.com/good", "0" * 8, b"\x01" + _RAW), "key id .* must be"),
        (_vkey_text("example.com/good", _ID[:7], b"\x01" + _RAW), "8 hex digits"),
        (_vkey_text("example.com/good", _ID + "0", b"\x01" + _RAW), "8 hex digits"),
        (_vkey_text("example.com/good", "0x" + _ID[2:], b"\x01" + _RAW), "8 hex digits"),
        (_vkey_text("example.com/good", "zzzzzzzz", b"\x01" + _RAW), "8 hex digits"),
        (_vkey_text("example.com/good", _ID, b"\x02" + _RAW), "type byte must be 0x01"),
        (_vkey_text("example.com/good", _ID, b"\x01" + _RAW[:31]), "33 bytes"),
        (_vkey_text("example.com/good", _ID, b"\x01" + _RAW + b"\x00"), "33 bytes"),
        (_vkey_text("", _ID, b"\x01" + _RAW), "non-empty"),
        (_vkey_text("a b", _ID, b"\x01" + _RAW), "whitespace"),
        (f"example.com/good+{_ID}+not base64!", "base64"),
        (f"example.com/good+{_ID}+" + base64.b64encode(b"\x01" + _RAW).decode()[:-1], "base64"),
        (_GOOD.to_skey(), "found a PRIVATE\\+KEY"),
    ],
)
def test_parse_vkey_rejects(text: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        parse_vkey(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must start with 'PRIVATE\\+KEY\\+'"),
        (_GOOD.verifier().to_vkey(), "must start with"),
        ("PRIVATE+KEY+name", "separator"),
        ("PRIVATE+KEY+example.com/good+00000000+AQ" + "A" * 42, "key id .* must be"),
        ("PRIVATE+KEY+example.com/good+" + _ID + "+AA==", "33 bytes"),
    ],
)
def test_parse_skey_rejects(text: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        parse_skey(text)


def test_skey_errors_never_echo_the_secret() -> None:
    secret = _secret_part(_GOOD)
    wrong_id = _GOOD.to_skey().replace(_ID, "00000000")
    broken = _GOOD.to_skey()[:-2] + "!!"
    for text in (wrong_id, broken, _GOOD.to_skey() + "x"):
        with pytest.raises(KeyFormatError) as info:
            parse_skey(text)
        assert secret[:20] not in str(info.value)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_only_raises_key_format_error(text: str) -> None:
    for parse in (parse_vkey, parse_skey):
        with contextlib.suppress(KeyFormatError):
            parse(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=20),
    st.text(alphabet="0123456789abcdefABCDEFxz ", max_size=10),
    st.binary(max_size=40),
    st.booleans(),
)
def test_structured_fuzz_only_raises_key_format_error(
    name: str, id_hex: str, blob: bytes, private: bool
) -> None:
    text = f"{name}+{id_hex}+{base64.b64encode(blob).decode()}"
    try:
        if private:
            parse_skey("PRIVATE+KEY+" + text)
        else:
            parse_vkey(text)
    except KeyFormatError:
        pass


# ----------------------------------------------------------------------------- files


def test_write_and_load_key_pair(tmp_path: Path) -> None:
    key = generate_signing_key("example.com/log")
    key_path, pub_path = write_key_pair(tmp_path / "example.com", key)
    assert key_path.name == "example.com.key"
    assert pub_path.name == "example.com.pub"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_text() == key.to_skey() + "\n"
    assert pub_path.read_text() == key.verifier().to_vkey() + "\n"
    assert load_signing_key(key_path).to_skey() == key.to_skey()
    assert load_signing_key(str(key_path)).to_skey() == key.to_skey()
    assert load_verifier_key(pub_path) == key.verifier()
    assert load_verifier_key(str(pub_path)) == key.verifier()
    assert load_verifier_key(key_path) == key.verifier()  # derived from the private key


def test_load_from_text() -> None:
    key = generate_signing_key("example.com/log")
    assert load_signing_key(key.to_skey()).to_skey() == key.to_skey()
    assert load_signing_key(key.to_skey() + "\n").to_skey() == key.to_skey()
    assert load_verifier_key(key.verifier().to_vkey()) == key.verifier()
    assert load_verifier_key(key.to_skey()) == key.verifier()


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no signing key file"):
        load_signing_key(tmp_path / "missing.key")
    with pytest.raises(FileNotFoundError, match="no verifier key file"):
        load_verifier_key(str(tmp_path / "missing.pub"))
    with pytest.raises(KeyFormatError, match="separator"):
        load_verifier_key("name+deadbeef")
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("hello world\n")
    with pytest.raises(KeyFormatError):
        load_verifier_key(garbage)
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(KeyFormatError, match="not UTF-8"):
        load_signing_key(binary)
    with pytest.raises(KeyFormatError, match="str or Path"):
        load_signing_key(b"bytes")  # type: ignore[arg-type]


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    first = generate_signing_key("example.com/one")
    second = generate_signing_key("example.com/two")
    key_path, pub_path = write_key_pair(tmp_path / "log", first)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_key_pair(tmp_path / "log", second)
    assert load_signing_key(key_path).to_skey() == first.to_skey()
    # Only the .pub existing is enough to refuse, and no .key is left behind.
    (tmp_path / "other.pub").write_text("x\n")
    with pytest.raises(FileExistsError, match=r"other\.pub"):
        write_key_pair(tmp_path / "other", second)
    assert not (tmp_path / "other.key").exists()
    assert pub_path.exists()
