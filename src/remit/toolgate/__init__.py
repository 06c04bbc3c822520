"""Ask Remit before a tool runs — the one core shared by the MCP proxy (`remit.mcp`) and the
agent-framework adapters (`remit.adapters`): resolve a tool call to an IAM action and
resources with a declared mapping, ask Remit, hold an `approve` decision within a budget,
bind an approval to the digest of the exact arguments, and report the outcome.

`plan` says what to ask and how to read each answer without sending anything; `gate`
drives it over the SDK's clients (`ToolGate` with `remit.AsyncClient`, `SyncToolGate` with
`remit.Client`). Nothing here knows any framework or protocol."""

from remit.toolgate.gate import SyncToolGate, ToolGate
from remit.toolgate.plan import (
    MAX_HOLD,
    META_ENVIRONMENT,
    META_ON_BEHALF_OF,
    META_PROVENANCE,
    META_REASONING,
    Admission,
    GateConfig,
    Notice,
    Refusal,
)

__all__ = [
    "MAX_HOLD",
    "META_ENVIRONMENT",
    "META_ON_BEHALF_OF",
    "META_PROVENANCE",
    "META_REASONING",
    "Admission",
    "GateConfig",
    "Notice",
    "Refusal",
    "SyncToolGate",
    "ToolGate",
]
