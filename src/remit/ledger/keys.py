"""The API-key table kept beside the ledger: one row per key (id, name, role, bound agent,
SHA-256 of the secret, created, revoked). It is not derived from the log — the secret's
hash must never be on it — but every change to it is also recorded as an `identity`
entry by `remit.identity`.

Typed rows in, typed rows out; the SQL stays here. It does not create secrets or check
them (that is `remit.identity.model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from remit.domain.clock import ts_text

if TYPE_CHECKING:
    from remit.ledger.store import LedgerStore


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One stored key: its id, holder, role, bound agent, secret hash and times."""

    id: str
    name: str
    role: str
    agent: str | None
    secret_hash: str
    created_at: str
    revoked_at: str | None


_COLUMNS = "id, name, role, agent, secret_hash, created_at, revoked_at"


class KeyTable:
    """Reads and writes the `api_keys` table of one store."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = store

    def put(self, row: KeyRow) -> None:
        self._store._write(
            f"INSERT INTO api_keys({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
            (row.id, row.name, row.role, row.agent, row.secret_hash, row.created_at,
             row.revoked_at),
        )  # fmt: skip

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return self._store._guarded_read(self._store._sql(sql), params)

    def get(self, key_id: str) -> KeyRow | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        return KeyRow(*rows[0]) if rows else None

    def all(self) -> list[KeyRow]:
        rows = self._rows(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at")
        return [KeyRow(*r) for r in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Mark a key revoked at `at`; False if there is no such unrevoked key."""
        n = self._store._write(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (ts_text(at), key_id),
        )
        return n == 1
