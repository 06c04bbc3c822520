"""The governance view in the browser: server-rendered pages under `/ui` for approvers,
CISOs and auditors (sign-in, overview, approvals, decisions). Depends on the service's
runtime and the ledger's typed reads; nothing in the core depends on it."""
