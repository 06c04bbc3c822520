"""Canonical JSON: sorted keys, no insignificant white space, UTF-8, shortest round-trip
numbers (as orjson writes them).

The one byte form Remit signs, hashes and records. Two equal documents always give the
same bytes. Numbers must be finite. Every model through which data enters Remit refuses
NaN and infinities (`allow_inf_nan=False`); `canonical_json` does not look for them again
(orjson would write them as null), because walking every document would cost more than
encoding it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes of `value` (dicts with str keys, lists, tuples, str, int,
    finite float, bool, None). Raises TypeError for anything else."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from None


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()
