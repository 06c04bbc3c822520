"""How an evidence pack writes JSON, in one place so writing and verifying give the same
bytes: a line is compact JSON with sorted keys and a newline (orjson; the standard
library for what orjson cannot encode, such as integers past 64 bits), a document is
indented JSON with sorted keys. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from remit.tlog.merkle import SpanTree

_LINE = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def json_line(value: Any) -> bytes:
    """`value` as one line of compact JSON with sorted keys, newline-terminated."""
    try:
        return orjson.dumps(value, option=_LINE)
    except TypeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return (text + "\n").encode()


def json_document(value: Any) -> bytes:
    """`value` as an indented JSON document with sorted keys, newline-terminated."""
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def proof_lines(tree: SpanTree, indexes: Sequence[int]) -> bytes:
    """The lines of `proofs/inclusion.jsonl` for `indexes` (increasing): for each, the bytes
    of `json_line({"index": i, "proof": [its proof's hashes in hexadecimal]})`."""
    proofs = tree.joined_hex_proofs(indexes, '","')
    return "".join([
        f'{{"index":{i},"proof":["{p}"]}}\n' if p else f'{{"index":{i},"proof":[]}}\n'
        for i, p in zip(indexes, proofs, strict=True)
    ]).encode()  # fmt: skip
