"""The MCP governance proxy: `remit mcp proxy -- CMD ARGS…` sits between an MCP client and
an upstream MCP tool server and turns every `tools/call` into a Remit decision before it
is forwarded. `mapping` says what a call means (tool → IAM action and resource ARNs),
`gate` asks Remit and holds for approval, `credentials` hands the upstream the decision's
scoped credentials, `upstream` runs the tool server, `proxy` wires them to the MCP SDK."""
