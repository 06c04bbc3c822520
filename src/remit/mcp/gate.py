"""Each `tools/call` as a Remit decision: the shared tool gate (`remit.toolgate`) with the
proxy's wording — the call's origin is recorded under `remit:mcp` in the request's
parameters, and a refusal says the call was "not forwarded". The rules (mapping, hold
within the budget, approval bound to the arguments' digest, fail closed) live in
`remit.toolgate.plan`; how a hold is shown to the user is the `Notice` callback the proxy
passes in. This module talks to no MCP peer."""

from __future__ import annotations

from dataclasses import dataclass

from remit.toolgate import (
    MAX_HOLD,
    META_ENVIRONMENT,
    META_ON_BEHALF_OF,
    META_PROVENANCE,
    META_REASONING,
    Admission,
    Notice,
    Refusal,
    ToolGate,
)
from remit.toolgate import GateConfig as ToolGateConfig

__all__ = [
    "MAX_HOLD",
    "META_ENVIRONMENT",
    "META_ON_BEHALF_OF",
    "META_PROVENANCE",
    "META_REASONING",
    "Admission",
    "GateConfig",
    "McpGate",
    "Notice",
    "Refusal",
]


@dataclass
class GateConfig(ToolGateConfig):
    """`remit.toolgate.GateConfig` with the proxy's wording."""

    origin_key: str = "remit:mcp"
    not_run: str = "not forwarded"


class McpGate(ToolGate):
    """Decides calls for one proxy (one agent key)."""
