"""Envelope handling: loading YAML with file:line errors, the canonical digest, sign-offs,
status (the board's three questions), conflicts and the decision inventory.
"""

from remit.envelope.loader import EnvelopeError, LoadedEnvelope, load_envelope, load_envelope_text

__all__ = ["EnvelopeError", "LoadedEnvelope", "load_envelope", "load_envelope_text"]
