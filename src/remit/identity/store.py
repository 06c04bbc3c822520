"""API keys at rest: the `api_keys` table (id, name, role, bound agent, SHA-256 of the
secret, created, revoked). Creation and revocation are also recorded on the ledger by the
callers; the secret itself is never stored anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from remit.identity.model import Identity, Role, new_api_key, parse_api_key, secret_matches
from remit.ledger.records import ts_text
from remit.ledger.store import LedgerStore


@dataclass(frozen=True)
class KeyRecord:
    """A stored key, without its secret."""

    id: str
    name: str
    role: Role
    agent: str | None
    created_at: str
    revoked_at: str | None

    def identity(self) -> Identity:
        return Identity(self.id, self.name, self.role, self.agent)


class KeyStore:
    """Creates, finds, lists and revokes API keys in the ledger's database.

    Lookups are cached for `cache_seconds` (default 1 s): a key revoked on another replica
    stops working within that time; on this replica at once."""

    def __init__(self, store: LedgerStore, cache_seconds: float = 1.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str, Identity | None]] = {}

    def create(
        self, name: str, role: Role, agent: str | None, now: datetime
    ) -> tuple[KeyRecord, str]:
        """A new key; returns its record and the full key text (show it once)."""
        if role is Role.AGENT and not agent:
            raise ValueError("an agent key must be bound to one agent (--agent ID)")
        if role is not Role.AGENT and agent:
            raise ValueError("only agent keys are bound to an agent")
        if not name.strip() or len(name) > 200:
            raise ValueError("a key needs a name of 1 to 200 characters")
        key_id, text, secret_hash = new_api_key()
        created = ts_text(now)
        self.store.write(
            "INSERT INTO api_keys(id, name, role, agent, secret_hash, created_at, revoked_at) "
            "VALUES (?,?,?,?,?,?,NULL)",
            (key_id, name, role.value, agent, secret_hash, created),
        )
        return KeyRecord(key_id, name, role, agent, created, None), text

    def authenticate(self, presented: str) -> Identity | None:
        """The identity of a valid, unrevoked key; None for anything else."""
        parsed = parse_api_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.cache_seconds:
            _, secret_hash, who = hit
        else:
            rows = self.store.query(
                "SELECT name, role, agent, secret_hash, revoked_at FROM api_keys WHERE id = ?",
                (key_id,),
            )
            if not rows:
                return None
            name, role, agent, secret_hash, revoked = rows[0]
            who = None if revoked is not None else Identity(key_id, name, Role(role), agent)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (now, secret_hash, who)
        if who is None or not secret_matches(secret, secret_hash):
            return None
        return who

    def list(self) -> list[KeyRecord]:
        rows = self.store.query(
            "SELECT id, name, role, agent, created_at, revoked_at FROM api_keys ORDER BY created_at"
        )
        return [KeyRecord(i, n, Role(r), a, c, v) for i, n, r, a, c, v in rows]

    def revoke(self, key_id: str, now: datetime) -> bool:
        """Revoke a key; False if there is no such unrevoked key."""
        n = self.store.write(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (ts_text(now), key_id),
        )
        self._cache.pop(key_id, None)
        return n == 1
