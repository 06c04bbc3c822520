"""docs/ledger.md is how an auditor reads a raw export without the code: every entry kind
the ledger parses has its own section there, and every field of the kind's record is in
that section's table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from remit.ledger.kinds import PARSERS, GrantRecord, GrantRefusalRecord

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"

WRITTEN_AS = {
    ("event", "event_kind"): "kind",
    ("note", "fields"): None,  # a note is any JSON object: its fields are its data
    ("signoff", "signoff"): "signer",  # the sign-off file's own fields, flattened
    ("review_sample", "checkpoint_size"): "checkpoint",
    ("review_sample", "checkpoint_root"): "checkpoint",
    ("review_sample", "checkpoint_note"): "checkpoint",
    ("review_sample", "plan_size"): "plan",
}
"""Record fields whose JSON name differs from the attribute (the written form is older
than the classes), or that have no name of their own."""


def _sections() -> dict[str, str]:
    parts = re.split(r"^### `([a-z_]+)` — .*$", DOC.read_text(), flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _classes(kind: str) -> list[type]:
    """The record classes an entry of `kind` parses into."""
    if kind == "grant":
        return [GrantRecord, GrantRefusalRecord]
    parser = PARSERS[kind]
    cls = getattr(parser, "__self__", None)
    assert isinstance(cls, type) and dataclasses.is_dataclass(cls), f"{kind}: {parser!r}"
    return [cls]


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_every_kind_has_a_table_naming_each_field(kind: str) -> None:
    sections = _sections()
    assert kind in sections, f"docs/ledger.md has no section for the {kind!r} entry kind"
    written = [
        WRITTEN_AS.get((kind, f.name), f.name)
        for c in _classes(kind)
        for f in dataclasses.fields(c)
    ]
    missing = [name for name in written if name and f"`{name}`" not in sections[kind]]
    assert not missing, f"docs/ledger.md, section {kind!r}: no row for {missing}"
