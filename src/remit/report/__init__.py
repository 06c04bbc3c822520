"""The governance report (C10): what the ledger says about a period — envelope health,
decisions by tier, agent and rule, actions under a stale or unsigned envelope, thin
reasoning, approvals quality, fallbacks, rollbacks, denials, rules that never matched,
ledger integrity — computed once and rendered as JSON, Markdown or HTML."""
