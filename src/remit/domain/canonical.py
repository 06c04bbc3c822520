"""Canonical JSON: sorted keys, no insignificant white space, UTF-8, no NaN.

The one byte form Remit signs, hashes and records. Two equal documents always give the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes of `value` (dicts, lists, str, int, float, bool, None)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()
