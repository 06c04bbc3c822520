"""Remit's tamper-evident ledger: RFC 6962 Merkle log maths, signed notes and checkpoints.

Submodules: ``merkle`` (tree hashing, proofs, verification), ``note`` (C2SP
signed notes), ``checkpoint`` (C2SP tlog checkpoints). This package file only
documents them; import from the submodules.
"""
