"""Evidence packs for auditors: a deterministic zip of what the ledger shows for one
period, mapped to the controls of SOC 2, ISO/IEC 27001:2022, PCI DSS 4.0.1 and the EU AI
Act — OSCAL assessment results, a CSV per control, the period's entries (exact bytes and
OCSF), the envelope versions and sign-offs, the signed checkpoints at the period's start
and end with the proofs that tie them and every cited decision together, and a manifest
of SHA-256 digests — and its offline verification."""
