"""The gate: compiles an envelope into an index and decides each `ActionRequest` by
composing small checks, strictest wins. Deterministic: the clock and the recorded state
are passed in.
"""

from remit.decide.gate import Gate
from remit.decide.state import Demotion, GateState, OrgEvent, StaticState

__all__ = ["Demotion", "Gate", "GateState", "OrgEvent", "StaticState"]
