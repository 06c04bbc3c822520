"""Tests for remit.tlog.note: C2SP signed notes (spec example A, Go vector B, rules)."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.signing import (
    SigningKey,
    VerifierKey,
    generate_signing_key,
    key_id_for,
    parse_skey,
    parse_vkey,
)
from remit.tlog.note import (
    MAX_SIGNATURES,
    NoteError,
    NoteVerifier,
    check_note_text,
    open_note,
    sign_note,
)

EM = "\u2014"


def _vector(vectors: dict[str, Any], *, with_skey: bool) -> dict[str, Any]:
    for vector in vectors["signed_note_vectors"]["vectors"]:
        if ("skey" in vector) == with_skey:
            found: dict[str, Any] = vector
            return found
    raise AssertionError("signed-note vector missing from the vectors file")


@pytest.fixture(scope="module")
def vector_a(vectors: dict[str, Any]) -> dict[str, Any]:
    """The C2SP signed-note spec example (public key only)."""
    return _vector(vectors, with_skey=False)


@pytest.fixture(scope="module")
def vector_b(vectors: dict[str, Any]) -> dict[str, Any]:
    """The golang.org/x/mod/sumdb/note reference (PeterNeumann) with its private key."""
    return _vector(vectors, with_skey=True)


@pytest.fixture(scope="module")
def keys() -> list[SigningKey]:
    return [generate_signing_key(f"example.com/key{i}") for i in range(3)]


def test_c2sp_example_verifies(vector_a: dict[str, Any]) -> None:
    verifier = parse_vkey(vector_a["vkey"])
    text, signers = open_note(vector_a["note"], [verifier])
    assert text == vector_a["signed_text"]
    assert signers == [verifier]


def test_go_vector_verifies(vector_b: dict[str, Any]) -> None:
    verifier = parse_vkey(vector_b["vkey"])
    text, signers = open_note(vector_b["note"], [verifier])
    assert text == vector_b["signed_text"]
    assert signers == [verifier]


def test_signing_go_text_reproduces_published_note(vector_b: dict[str, Any]) -> None:
    key = parse_skey(vector_b["skey"])
    assert sign_note(vector_b["signed_text"], key) == vector_b["note"]


def test_bytes_input_accepted(vector_b: dict[str, Any]) -> None:
    verifier = parse_vkey(vector_b["vkey"])
    text, _ = open_note(vector_b["note"].encode("utf-8"), [verifier])
    assert text == vector_b["signed_text"]
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff\xfe" + vector_b["note"].encode("utf-8"), [verifier])


def test_tampered_text_fails(vector_a: dict[str, Any]) -> None:
    verifier = parse_vkey(vector_a["vkey"])
    tampered = vector_a["note"].replace("example message", "exemplary message")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(tampered, [verifier])


def test_tampered_signature_fails(vector_b: dict[str, Any]) -> None:
    verifier = parse_vkey(vector_b["vkey"])
    note = vector_b["note"]
    line_start = note.rindex(EM)
    name_end = note.index(" ", line_start + 2)
    blob = bytearray(base64.b64decode(note[name_end + 1 : -1]))
    blob[10] ^= 0x01  # a signature byte, not the key id
    tampered = note[: name_end + 1] + base64.b64encode(bytes(blob)).decode() + "\n"
    with pytest.raises(NoteError, match="trusted key 'PeterNeumann'"):
        open_note(tampered, [verifier])


def test_unknown_key_only_fails(vector_a: dict[str, Any], vector_b: dict[str, Any]) -> None:
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(vector_a["note"], [parse_vkey(vector_b["vkey"])])
    with pytest.raises(NoteError, match="trusted keys are \\[none\\]"):
        open_note(vector_a["note"], [])


def test_same_name_or_same_id_alone_is_unknown(keys: list[SigningKey]) -> None:
    signer = keys[0]
    note = sign_note("hello\n", signer)
    # Same name, different key (so different id): unknown, hence ignored -> no trusted sig.
    impostor = generate_signing_key(signer.name).verifier()
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(note, [impostor])
    # A known key plus an unrelated signature sharing its name is still fine.
    both = sign_note("hello\n", signer, keys[1])
    text, signers = open_note(both, [signer.verifier(), impostor])
    assert text == "hello\n"
    assert signers == [signer.verifier()]


def test_multiple_signatures(keys: list[SigningKey]) -> None:
    note = sign_note("multi\nline\n", *keys)
    assert note.count(f"\n{EM} ") == 3
    verifiers = [k.verifier() for k in keys]
    text, signers = open_note(note, list(reversed(verifiers)))
    assert text == "multi\nline\n"
    assert signers == verifiers  # in signature order
    _, subset = open_note(note, verifiers[1:2])
    assert subset == verifiers[1:2]


def test_known_key_with_bad_signature_rejects_whole_note(keys: list[SigningKey]) -> None:
    good = sign_note("payload\n", keys[0])
    other = sign_note("other payload\n", keys[1])
    spliced = good + other.split("\n\n", 1)[1]  # keys[1]'s line signs different text
    with pytest.raises(NoteError, match="does not verify"):
        open_note(spliced, [keys[0].verifier(), keys[1].verifier()])
    # ...but if keys[1] is unknown its bad line is ignored.
    text, signers = open_note(spliced, [keys[0].verifier()])
    assert text == "payload\n"
    assert signers == [keys[0].verifier()]


def test_duplicate_signature_lines_count_once(keys: list[SigningKey]) -> None:
    note = sign_note("dup\n", keys[0])
    line = note.split("\n\n", 1)[1]
    _, signers = open_note(note + line, [keys[0].verifier()])
    assert signers == [keys[0].verifier()]


def test_text_may_contain_blank_lines(keys: list[SigningKey]) -> None:
    text = (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    note = sign_note(text, keys[0])
    opened, _ = open_note(note, [keys[0].verifier()])
    assert opened == text


def test_signature_cap(keys: list[SigningKey]) -> None:
    note = sign_note("capped\n", keys[0])
    filler = sign_note("capped\n", keys[1]).split("\n\n", 1)[1]
    sixteen = note + filler * 15
    _, signers = open_note(sixteen, [keys[0].verifier()])
    assert signers == [keys[0].verifier()]
    too_many = note + filler * MAX_SIGNATURES
    with pytest.raises(NoteError, match=f"at most {MAX_SIGNATURES} signature lines"):
        open_note(too_many, [keys[0].verifier()])
    with pytest.raises(NoteError, match="at most 1 signature lines, found 2"):
        open_note(note + filler, [keys[0].verifier()], max_signatures=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no newline", "must end with a newline"),
        ("", "must end with a newline"),
        ("tab\there\n", "U\\+0009"),
        ("cr\r\n", "U\\+000D"),
        ("nul\x00\n", "U\\+0000"),
        ("surrogate \ud800\n", "U\\+D800"),
    ],
)
def test_sign_rejects_bad_text(text: str, message: str, keys: list[SigningKey]) -> None:
    with pytest.raises(NoteError, match=message):
        sign_note(text, keys[0])
    with pytest.raises(NoteError, match=message):
        check_note_text(text)


def test_sign_requires_distinct_keys(keys: list[SigningKey]) -> None:
    with pytest.raises(NoteError, match="at least one signing key"):
        sign_note("x\n")
    with pytest.raises(NoteError, match="given twice"):
        sign_note("x\n", keys[0], keys[0])


@dataclass(frozen=True)
class FakeVerifier:
    """A duck-typed NoteVerifier that accepts every signature."""

    name: str
    key_id: bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        return True


def test_ambiguous_verifiers_rejected(keys: list[SigningKey]) -> None:
    note = sign_note("x\n", keys[0])
    verifier = keys[0].verifier()
    _, signers = open_note(note, [verifier, keys[0].verifier()])  # equal keys twice: fine
    assert signers == [verifier]
    assert key_id_for(verifier.name, verifier.raw_public()) == verifier.key_id
    clash = FakeVerifier(verifier.name, verifier.key_id)
    with pytest.raises(NoteError, match="ambiguous verifiers"):
        mixed: list[NoteVerifier] = [verifier, clash]
        open_note(note, mixed)


def test_protocol_verifiers_are_accepted(keys: list[SigningKey]) -> None:
    note = sign_note("x\n", keys[0])
    fake = FakeVerifier(keys[0].name, keys[0].key_id)
    text, signers = open_note(note, [fake])
    assert text == "x\n"
    assert signers == [fake]


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("", "at least one signature line"),
        (f"{EM} name AAAAAAAA", "must end with a newline"),
        ("- name AAAAAAAA\n", "must start with an em dash"),
        (f"{EM} nameonly\n", "no space after the key name"),
        (f"{EM} bad+name AAAAAAAA\n", "must not contain '\\+'"),
        (f"{EM}  AAAAAAAA\n", "non-empty"),
        (f"{EM} name AAAA\n", "4-byte key id plus a signature"),
        (f"{EM} name not*base64\n", "standard base64"),
        (f"{EM} name AAAAAAAA \n", "standard base64"),
        (f"{EM} name AAAAAAA\n", "standard base64"),
    ],
)
def test_malformed_signature_blocks(suffix: str, message: str, keys: list[SigningKey]) -> None:
    with pytest.raises(NoteError, match=message):
        open_note("text\n\n" + suffix, [keys[0].verifier()])


def test_note_without_blank_line(keys: list[SigningKey]) -> None:
    note = sign_note("text\n", keys[0]).replace("\n\n", "\n")
    with pytest.raises(NoteError, match="blank line"):
        open_note(note, [keys[0].verifier()])


def test_control_character_anywhere_rejected(keys: list[SigningKey]) -> None:
    note = sign_note("text\n", keys[0])
    with pytest.raises(NoteError, match="U\\+0007"):
        open_note(note.replace("text", "te\x07xt"), [keys[0].verifier()])


_NOTE_ALPHABET = st.sampled_from(["\n", " ", EM, "+", "=", "/", "a", "Z", "0", "\t", "\x00", "é"])


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(_NOTE_ALPHABET, max_size=120).map("".join),
        st.binary(max_size=200),
    )
)
def test_arbitrary_input_only_raises_note_error(note: str | bytes) -> None:
    verifier = generate_signing_key("fuzz").verifier()
    with contextlib.suppress(NoteError):
        open_note(note, [verifier])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=0, max_value=10_000))
def test_mutated_valid_note_only_raises_note_error(text: str, position: int) -> None:
    key = _FUZZ_KEY
    body = "".join(ch for ch in text if ch == "\n" or ch >= " ") + "\n"
    body = body.encode("utf-8", "replace").decode("utf-8", "replace")
    try:
        note = sign_note(body, key)
    except NoteError:
        return
    opened, _ = open_note(note, [key.verifier()])
    assert opened == body
    cut = position % len(note)
    mutated = note[:cut] + note[cut + 1 :]
    try:
        text_out, _ = open_note(mutated, [key.verifier()])
    except NoteError:
        return
    # Deleting a character can only be accepted if the signed text is unchanged.
    assert text_out == body


_FUZZ_KEY: SigningKey = generate_signing_key("example.com/fuzz")


def test_verifier_type_is_preserved(keys: list[SigningKey]) -> None:
    verifiers: list[VerifierKey] = [k.verifier() for k in keys]
    _, signers = open_note(sign_note("t\n", keys[2]), verifiers)
    assert signers[0] is verifiers[2]
