"""Identifiers for decisions and ledger objects: time-ordered, random, URL-safe."""

from __future__ import annotations

import secrets
from datetime import datetime


def new_id(prefix: str, now: datetime) -> str:
    """`<prefix>_<12 hex ms since epoch><16 hex random>`: sorts by time, never collides."""
    ms = int(now.timestamp() * 1000)
    return f"{prefix}_{ms:012x}{secrets.token_hex(8)}"
