"""Agent-framework adapters: each asks Remit (through `remit.toolgate`, over the SDK)
before a framework runs a tool, and is an optional extra — `langchain` (LangChain and
LangGraph: `remit.adapters.langchain`), `openai-agents` (`remit.adapters.openai_agents`).
`remit.adapters.base` is what they share: settings from `REMIT_URL` / `REMIT_API_KEY` /
`REMIT_AGENT` (parameters override them), the tools' declarations, the gates, and the
scoped AWS session of the tool being run. This package imports no framework itself."""
