"""Deciding and recording as one step: the gate's decision is appended to the ledger
before anyone sees it, and if it cannot be recorded the answer is deny (fail closed).
"""

from remit.recorder.decisions import DecisionRecorder

__all__ = ["DecisionRecorder"]
