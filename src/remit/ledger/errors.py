"""The ledger's one failure: `LedgerUnavailable`, raised when the ledger cannot be read
or written right now (disk, lock, database) or an entry it must read is damaged. It is
an `Unavailable` of Remit's error model: nothing is allowed because of it.
"""

from __future__ import annotations

from remit.errors import Unavailable


class LedgerUnavailable(Unavailable):
    """The ledger cannot be read or written right now (disk, lock, database, damage)."""
