"""What every framework adapter shares: `Governance` holds the settings (explicit
parameters first, then `REMIT_URL`, `REMIT_API_KEY`, `REMIT_AGENT`), the declaration of
what each tool means (tool → IAM action and resource ARN templates, the MCP proxy's mapping
format), and opens the gates (`remit.toolgate`) the adapters ask through — one held-by-digest
memory for the sync and the async path, so an approval is bound to the exact arguments
whichever path the framework takes. While an admitted tool runs with per-call credentials,
`aws_session()` is its scoped boto3 session.

This module knows no framework: adapters turn an `Admission` into running the tool and a
`Refusal` into the framework's own error or interrupt."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from remit.mcp.mapping import ToolMapping, load_mapping, parse_mapping
from remit.sdk import AsyncClient, Client
from remit.sdk.calls import scoped_session
from remit.sdk.session import GovernedSession
from remit.sdk.settings import RemitSettings, SettingsError, resolve
from remit.toolgate import MAX_HOLD, Admission, GateConfig, SyncToolGate, ToolGate

Meta = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
"""(tool name, arguments) → `remit/reasoning`, `remit/provenance`… for this call."""

_SESSION: contextvars.ContextVar[GovernedSession | None] = contextvars.ContextVar(
    "remit_adapter_session", default=None
)


def aws_session() -> GovernedSession:
    """The boto3 session scoped to the decision of the tool now running (adapters made
    with `credentials=True`); `RuntimeError` outside such a tool."""
    s = _SESSION.get()
    if s is None:
        raise RuntimeError("no governed tool is running with Remit credentials here")
    return s


def tool_mapping(tools: Mapping[str, Any] | ToolMapping | str, framework: str) -> ToolMapping:
    """A mapping from `{tool: {action, resources, parameters}}`, a loaded `ToolMapping`,
    or a mapping file (YAML, as `remit mcp proxy --mapping`)."""
    if isinstance(tools, ToolMapping):
        return tools
    if isinstance(tools, str):
        return load_mapping(tools)
    return parse_mapping({"server": framework, "tools": dict(tools)}, f"the {framework} tools")


class Governance:
    """Settings and gates for one adapter (one agent key)."""

    def __init__(
        self,
        tools: Mapping[str, Any] | ToolMapping | str,
        *,
        framework: str,
        url: str | None = None,
        api_key: str | None = None,
        agent: str | None = None,
        account: str,
        region: str = "us-east-1",
        provenance: Mapping[str, Any] | None = None,
        hold: float = 30.0,
        credentials: bool = False,
        meta: Meta | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.settings: RemitSettings = resolve(
            url, api_key, agent, environ=environ, require_agent=True
        )
        if not 0 <= hold <= MAX_HOLD:
            raise SettingsError(f"hold must be between 0 and {MAX_HOLD:g} seconds, not {hold}")
        self.framework = framework
        self.config = GateConfig(
            mapping=tool_mapping(tools, framework),
            context={"account": account, "region": region},
            provenance=dict(provenance or {}),
            hold_budget=hold,
            credentials=credentials,
            origin_key="remit:tool",
        )
        self.meta = meta
        self.timeout = timeout
        self.held: dict[str, str] = {}
        """arguments digest → held decision, shared by the sync and the async gate."""
        self._client: Client | None = None

    def governs(self, tool: str) -> bool:
        return tool in self.config.mapping.tools

    def call_meta(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.meta(tool, arguments)) if self.meta is not None else {}

    def sync_gate(self) -> SyncToolGate:
        """The gate over one long-lived `remit.Client`."""
        if self._client is None:
            s = self.settings
            self._client = Client(s.url, s.api_key, agent=s.agent, timeout=self.timeout)
        return SyncToolGate(self._client, self.config, self.held)

    @contextlib.asynccontextmanager
    async def async_gate(self) -> AsyncIterator[ToolGate]:
        """A gate over an `AsyncClient` opened in the running event loop (frameworks may
        run each step in a loop of its own), sharing the held decisions."""
        s = self.settings
        client = AsyncClient(s.url, s.api_key, agent=s.agent, timeout=self.timeout)
        try:
            yield ToolGate(client, self.config, self.held)
        finally:
            await client.aclose()

    @staticmethod
    @contextlib.contextmanager
    def running(admitted: Admission) -> Iterator[list[str]]:
        """Bind the admitted call's scoped session (if it has a grant) while it runs;
        yields the AWS request ids made through it, for the outcome report."""
        grant = admitted.grant
        session = scoped_session(admitted.decision, grant) if grant else None
        token = _SESSION.set(session)
        try:
            yield session.request_ids if session is not None else []
        finally:
            _SESSION.reset(token)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
