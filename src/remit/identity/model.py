"""API keys and identities, pure: making a key, parsing one, hashing its secret.

A key reads `rk_<id>_<secret>`: the id (public, 12 hex) finds the record, the secret (32
random bytes) is checked against a stored SHA-256. The secret is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a key may do."""

    AGENT = "agent"  # ask for decisions as its one bound agent; report outcomes
    APPROVER = "approver"  # approve or reject pending decisions
    AUDITOR = "auditor"  # read the ledger and reports
    REVIEWER = "reviewer"  # draw review samples, record verdicts, review drift findings
    ADMIN = "admin"  # everything, including events and key management


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller."""

    key_id: str
    name: str
    role: Role
    agent: str | None = None

    @property
    def label(self) -> str:
        """How ledger entries name this caller: `role:name#key_id`."""
        return f"{self.role.value}:{self.name}#{self.key_id}"

    @property
    def principal(self) -> str:
        """Who holds the key: its name, compared without case or outer spaces. Several
        keys of one principal are one person (or system) for separation of duties."""
        return principal_of_name(self.name)


def principal_of_name(name: str) -> str:
    """The principal a key name (or an `on_behalf_of`) denotes."""
    return name.strip().casefold()


def principal_of_label(label: str) -> str:
    """The principal of an identity label `role:name#key_id` (as entries record it)."""
    name = label.split(":", 1)[-1].rsplit("#", 1)[0]
    return principal_of_name(name)


_KEY = re.compile(r"^rk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: (key id, full key text to show once, hash of its secret to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"rk_{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key(text: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    m = _KEY.match(text.strip())
    return (m["id"], m["secret"]) if m else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
