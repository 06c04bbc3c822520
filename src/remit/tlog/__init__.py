"""Transparency-log maths, pure: RFC 6962 Merkle hashing, proofs and their verification
(``merkle``), C2SP signed notes (``note``) and C2SP tlog checkpoints (``checkpoint``).

Imports only the standard library and ``remit.signing``. It stores nothing and knows
no entry kinds: ``remit.ledger`` keeps the entries and the tree nodes, and calls this
package for every hash, proof and signature. Import from the submodules.
"""
