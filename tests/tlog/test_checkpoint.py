"""Tests for remit.tlog.checkpoint: C2SP tlog-checkpoint format, signing and opening."""

from __future__ import annotations

import base64
import contextlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.signing import SigningKey, generate_signing_key, key_id_for, parse_skey, parse_vkey
from remit.tlog.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
)
from remit.tlog.merkle import InMemoryTree

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Same 32 bytes, but with a non-zero padding bit: decodes, yet is not canonical.
NON_CANONICAL = ROOT_B64[:-2] + _ALPHABET[_ALPHABET.index(ROOT_B64[-2]) + 1] + "="
URLSAFE = base64.urlsafe_b64encode(b"\xff" * 32).decode()
TOO_LONG = base64.b64encode(bytes(33)).decode()


@pytest.fixture(scope="module")
def note_vectors(vectors: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = vectors["signed_note_vectors"]
    return section


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key("example.com/remit-test-log")


def test_spec_layout_example_parses(note_vectors: dict[str, Any]) -> None:
    note = note_vectors["c2sp_checkpoint_spec_example_unverifiable"]["note"]
    text = note.split("\n\n", 1)[0] + "\n"
    checkpoint = Checkpoint.parse(text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_b64 == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert checkpoint.extensions == ()
    assert checkpoint.to_text() == text
    # Its key is not published, so opening it with any key of ours must fail cleanly.
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        open_checkpoint(note, [generate_signing_key("example.com/behind-the-sofa").verifier()])


def test_derived_vector_c_verifies_and_matches_root8(
    vectors: dict[str, Any], note_vectors: dict[str, Any]
) -> None:
    case = note_vectors["derived_checkpoint_example"]
    verifier = parse_vkey(case["vkey"])
    checkpoint = open_checkpoint(case["note"], [verifier], expected_origin=verifier.name)
    tree = InMemoryTree(bytes.fromhex(leaf["input"]) for leaf in vectors["leaves"])
    assert checkpoint.size == case["tree_size"] == tree.size == 8
    assert checkpoint.root == tree.root() == bytes.fromhex(case["root_hex"])
    assert checkpoint.root.hex() == vectors["roots"]["8"]
    assert checkpoint.origin == "example.com/reasoning-ledger-test"


def test_derived_vector_c_is_reproduced_by_signing(note_vectors: dict[str, Any]) -> None:
    case = note_vectors["derived_checkpoint_example"]
    go_key = next(v for v in note_vectors["vectors"] if "skey" in v)
    seed_key = parse_skey(go_key["skey"]).private_key
    origin = "example.com/reasoning-ledger-test"
    key_id = key_id_for(origin, seed_key.public_key().public_bytes_raw())
    signer = SigningKey(origin, key_id, seed_key)
    assert signer.verifier().to_vkey() == case["vkey"]
    checkpoint = Checkpoint(origin, 8, bytes.fromhex(case["root_hex"]))
    assert sign_checkpoint(checkpoint, signer) == case["note"]


def test_round_trip_text_and_signature(key: SigningKey) -> None:
    for checkpoint in (
        Checkpoint("example.com/log", 0, ROOT),
        Checkpoint("example.com/log", 1, ROOT),
        Checkpoint("example.com/log", MAX_TREE_SIZE, ROOT, ("ext one", "ext-two")),
    ):
        assert Checkpoint.parse(checkpoint.to_text()) == checkpoint
        note = sign_checkpoint(checkpoint, key)
        assert open_checkpoint(note, [key.verifier()]) == checkpoint
        assert open_checkpoint(note.encode(), [key.verifier()]) == checkpoint


def test_text_layout() -> None:
    checkpoint = Checkpoint("example.com/log", 42, ROOT, ("x",))
    assert checkpoint.to_text() == f"example.com/log\n42\n{ROOT_B64}\nx\n"


def test_foreign_origin_with_spaces_parses_but_we_do_not_sign_it(key: SigningKey) -> None:
    # Clients MUST NOT assume the origin is a URL (e.g. Rekor v1 "host - treeID").
    checkpoint = Checkpoint.parse(f"rekor.example - 123\n5\n{ROOT_B64}\n")
    assert checkpoint.origin == "rekor.example - 123"
    with pytest.raises(CheckpointError, match="without whitespace or '\\+'"):
        sign_checkpoint(checkpoint, key)
    with pytest.raises(CheckpointError, match="without whitespace or '\\+'"):
        sign_checkpoint(Checkpoint("a+b", 1, ROOT), key)


def test_open_rejects_wrong_origin_unknown_key_and_non_checkpoint(key: SigningKey) -> None:
    note = sign_checkpoint(Checkpoint("example.com/log", 3, ROOT), key)
    with pytest.raises(CheckpointError, match=re.escape("origin must be 'example.com/other'")):
        open_checkpoint(note, [key.verifier()], expected_origin="example.com/other")
    other = generate_signing_key("example.com/other").verifier()
    with pytest.raises(CheckpointError, match="signature check failed"):
        open_checkpoint(note, [other])
    from remit.tlog.note import sign_note

    not_a_checkpoint = sign_note("hello\nworld\n", key)
    with pytest.raises(CheckpointError, match="at least 3 lines"):
        open_checkpoint(not_a_checkpoint, [key.verifier()])
    tampered = note.replace("\n3\n", "\n4\n")
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(tampered, [key.verifier()])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"o\n8\n{ROOT_B64}", "end with a newline"),
        ("o\n8\n", "at least 3 lines"),
        (f"\n8\n{ROOT_B64}\n", "line 1 must be non-empty"),
        (f"o\n\n{ROOT_B64}\n", "line 2 must be non-empty"),
        (f"o\n8\n{ROOT_B64}\n\n", "line 4 must be non-empty"),
        (f"o\n08\n{ROOT_B64}\n", "without leading zeros"),
        (f"o\n00\n{ROOT_B64}\n", "without leading zeros"),
        (f"o\n+8\n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n-1\n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n 8\n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n8 \n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n8_0\n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n\u0668\n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n0x8\n{ROOT_B64}\n", "ASCII decimal"),
        (f"o\n{2**64}\n{ROOT_B64}\n", "at most 2\\*\\*64-1"),
        (f"o\n{'9' * 400}\n{ROOT_B64}\n", "at most 2\\*\\*64-1"),
        (f"o\n8\n{ROOT_B64[:-1]}\n", "44 characters"),
        (f"o\n8\n{ROOT_B64[:-1]}A\n", "decode to 32 bytes, found 33"),
        (f"o\n8\n{NON_CANONICAL}\n", "canonical base64"),
        (f"o\n8\n{URLSAFE}\n", "standard base64"),
        (f"o\n8\n{TOO_LONG}\n", "decode to 32 bytes, found 33 bytes"),
        (f"o\n8\n{ROOT_B64}\nbad\x01ext\n", "control characters"),
        (f"o\tx\n8\n{ROOT_B64}\n", "control characters"),
    ],
)
def test_malformed_text_rejected(text: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.parse(text)


def test_constructor_validates() -> None:
    with pytest.raises(CheckpointError, match="root must be 32 bytes, found 31 bytes"):
        Checkpoint("o", 1, bytes(31))
    with pytest.raises(CheckpointError, match=re.escape("size must be in 0..2**64-1, found -1")):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(CheckpointError, match="size must be an int, found bool"):
        Checkpoint("o", True, ROOT)
    with pytest.raises(CheckpointError, match="origin must be non-empty"):
        Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointError, match="one line"):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(CheckpointError, match="extension line 1 must be non-empty"):
        Checkpoint("o", 1, ROOT, ("",))
    with pytest.raises(CheckpointError, match="tuple of str"):
        Checkpoint("o", 1, ROOT, ["x"])  # type: ignore[arg-type]
    assert issubclass(CheckpointError, ValueError)


_LINE = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    _LINE,
    st.integers(min_value=0, max_value=MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(_LINE, max_size=3),
)
def test_property_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(checkpoint.to_text()) == checkpoint


_CHECKPOINTISH = st.lists(
    st.sampled_from(["o", "\n", "0", "8", "08", "+", "=", "A", ROOT_B64, " ", "\x00", "é", "-"]),
    max_size=20,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=120), _CHECKPOINTISH))
def test_property_parse_never_crashes(text: str) -> None:
    try:
        checkpoint = Checkpoint.parse(text)
    except CheckpointError:
        return
    assert checkpoint.to_text() == text  # anything accepted is canonical


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), _CHECKPOINTISH))
def test_property_open_never_crashes(note: str | bytes) -> None:
    with contextlib.suppress(CheckpointError):
        open_checkpoint(note, [_FUZZ_KEY.verifier()])


_FUZZ_KEY = generate_signing_key("example.com/fuzz-log")
