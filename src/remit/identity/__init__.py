"""Who is asking: API keys (random, shown once, stored only as a hash) and the roles they
carry — agent (bound to one envelope agent), approver, auditor, reviewer, admin."""

from remit.identity.model import Identity, Role, hash_secret, new_api_key, parse_api_key

__all__ = ["Identity", "Role", "hash_secret", "new_api_key", "parse_api_key"]
