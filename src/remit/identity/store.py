"""API keys as the service uses them: create one (the secret shown once, only its hash
kept), authenticate a presented key, list and revoke — each change also recorded on the
ledger as an `identity` entry. Storage is `remit.ledger.keys`; this module holds no SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from remit.domain.clock import ts_text
from remit.identity.model import Identity, Role, new_api_key, parse_api_key, secret_matches
from remit.ledger.keys import KeyRow, KeyTable
from remit.ledger.kinds import IdentityRecord
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerStore, LedgerUnavailable


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
        self.table = KeyTable(store)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str, Identity | None]] = {}

    def create(
        self, name: str, role: Role, agent: str | None, now: datetime, actor: str
    ) -> tuple[KeyRecord, str]:
        """A new key, recorded on the ledger as made by `actor`; returns its record and the
        full key text (show it once)."""
        if role is Role.AGENT and not agent:
            raise ValueError("an agent key must be bound to one agent (--agent ID)")
        if role is not Role.AGENT and agent:
            raise ValueError("only agent keys are bound to an agent")
        if not name.strip() or len(name) > 200:
            raise ValueError("a key needs a name of 1 to 200 characters")
        key_id, text, secret_hash = new_api_key()
        created = ts_text(now)
        self.table.put(KeyRow(key_id, name, role.value, agent, secret_hash, created, None))
        entry = IdentityRecord("key_created", key_id, name, role.value, agent)
        self.store.append([make_entry(entry, now, actor)])
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
            try:
                row = self.table.get(key_id)
            except LedgerUnavailable as exc:
                raise LedgerUnavailable(f"cannot check the API key: {exc}") from exc
            if row is None:
                return None
            secret_hash = row.secret_hash
            who = (
                None
                if row.revoked_at is not None
                else Identity(key_id, row.name, Role(row.role), row.agent)
            )
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (now, secret_hash, who)
        if who is None or not secret_matches(secret, secret_hash):
            return None
        return who

    def list(self) -> list[KeyRecord]:
        return [
            KeyRecord(r.id, r.name, Role(r.role), r.agent, r.created_at, r.revoked_at)
            for r in self.table.all()
        ]

    def revoke(self, key_id: str, now: datetime, actor: str) -> bool:
        """Revoke a key and record it as done by `actor`; False if there is no such
        unrevoked key."""
        done = self.table.revoke(key_id, now)
        self._cache.pop(key_id, None)
        if done:
            self.store.append([make_entry(IdentityRecord("key_revoked", key_id), now, actor)])
        return done
