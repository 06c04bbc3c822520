"""Each `tools/call` as a Remit decision: the shared tool gate (`remit.toolgate`) with the
proxy's wording — the call's origin is recorded under `remit:mcp` in the request's
parameters, and a refusal says the call was "not forwarded" — and the proxy's lifecycle:
when the client goes away, every call held for approval ends at once and nothing is
admitted any more (`close`, `abandon`), and outcome reports can wait until no decision is
being asked (`after_decisions`). The rules (mapping, hold within the budget, approval
bound to the arguments' digest, fail closed) live in `remit.toolgate.plan`; how a hold is
shown to the user is the `Notice` callback the proxy passes in. This module talks to no
MCP peer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from remit.sdk import AsyncClient
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


CANCELLED_REPORT_SECONDS = 10.0
"""How long a cancelled call's report to Remit may take before the proxy moves on."""


class McpGate(ToolGate):
    """Decides calls for one proxy (one agent key)."""

    def __init__(self, client: AsyncClient, config: GateConfig) -> None:
        super().__init__(client, config)
        self.closed = False
        """Set when the client has gone: nothing is admitted any more."""
        self._holds: dict[anyio.CancelScope, str] = {}
        """The scope of each call waiting for approval now → its decision id."""
        self._asking = 0
        self._quiet = anyio.Event()
        self._quiet.set()

    async def admit(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
        notice: Notice | None = None,
        budget: float | None = None,
    ) -> Admission | Refusal:
        if self.closed:
            return Refusal("abandoned", f"remit: the client has gone; {tool!r} not forwarded")
        self._asking += 1
        if self._quiet.is_set():
            self._quiet = anyio.Event()
        held: str | None = None
        verdict: Admission | Refusal | None = None
        try:
            with anyio.CancelScope() as scope:

                async def holding(d: dict[str, Any], link: str, left: float) -> None:
                    nonlocal held
                    held = self._holds[scope] = str(d["id"])
                    if notice is not None:
                        await notice(d, link, left)

                verdict = await super().admit(tool, arguments, meta, holding, budget)
        except anyio.get_cancelled_exc_class():
            if held is not None and scope in self._holds:  # cancelled by the client (or
                await self._not_forwarded(held, tool)  # the server) while held: say so
            raise
        finally:
            self._holds.pop(scope, None)
            self._asking -= 1
            if not self._asking:
                self._quiet.set()
        if scope.cancelled_caught or self.closed:
            if isinstance(verdict, Admission):
                await self.finish(verdict, False, "the client went away; not forwarded", [])
            return Refusal(
                "abandoned",
                f"remit: the client went away while {tool!r} was held; not forwarded"
                + (f" (decision {held})" if held else ""),
            )
        assert verdict is not None
        return verdict

    async def _not_forwarded(self, decision_id: str, tool: str) -> None:
        """Record that the held call of `decision_id` was cancelled and not forwarded:
        shielded (the call is being cancelled) and bounded (Remit may be unreachable)."""
        reason = f"the MCP client cancelled {tool!r} while approval was pending; not forwarded"
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCELLED_REPORT_SECONDS):
            await super().abandon(reason, {f"held:{decision_id}": decision_id})

    async def after_decisions(self, at_most: float) -> None:
        """Wait (up to `at_most` seconds) until no decision is being asked: an outcome
        report sent meanwhile would queue in Remit ahead of the next call's decision."""
        with anyio.move_on_after(at_most):
            await self._quiet.wait()

    def close(self) -> None:
        """The client has gone: admit nothing more, and end every hold now (what was held
        is remembered for `abandon`)."""
        self.closed = True
        for scope, decision_id in list(self._holds.items()):
            self.held[f"held:{decision_id}"] = decision_id
            scope.cancel()

    async def abandon(self, reason: str, held: dict[str, str] | None = None) -> None:
        """The client went away: record on each held decision that its call was not
        forwarded and never will be (this proxy forgets it)."""
        self.close()
        await super().abandon(reason, held)
