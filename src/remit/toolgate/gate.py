"""The gate's two drivers: `ToolGate` sends a plan's calls with `remit.AsyncClient`,
`SyncToolGate` with `remit.Client`. Each keeps the held decisions of one agent (arguments
digest → decision id) and offers `admit` (may this call run now?), `finish` (report what
happened) and `abandon` (the caller went away: held calls will never run).

The rules are in `remit.toolgate.plan`; a driver only sends, awaits and tells the user
about a hold through the `notice` callback it is given (a failing notice decides
nothing)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from remit.sdk import AsyncClient, Client
from remit.sdk.calls import Call
from remit.sdk.errors import RemitError
from remit.toolgate import plan
from remit.toolgate.plan import Admission, Announce, GateConfig, Notice, Refusal, SyncNotice


class ToolGate:
    """Decides tool calls for one agent key, asynchronously."""

    def __init__(
        self, client: AsyncClient, config: GateConfig, held: dict[str, str] | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.held: dict[str, str] = {} if held is None else held
        """arguments digest → the id of the decision held for exactly those arguments."""

    def link(self, decision_id: str) -> str:
        return plan.link(self.config, self.client.base_url, decision_id)

    async def _drive(self, steps: plan.Plan, notice: Notice | None = None) -> Any:
        try:
            step = next(steps)
            while True:
                if isinstance(step, Announce):
                    if notice is not None:
                        with contextlib.suppress(Exception):  # telling must not decide
                            await notice(step.decision, step.link, step.budget)
                    step = steps.send(None)
                    continue
                try:
                    got = await self.client._send(step)
                except RemitError as exc:
                    step = steps.throw(exc)
                else:
                    step = steps.send(got)
        except StopIteration as done:
            return done.value

    async def admit(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
        notice: Notice | None = None,
        budget: float | None = None,
    ) -> Admission | Refusal:
        """Decide the call; an `Admission` only when it may run now. `budget`: seconds to
        hold a pending call (default: the config's)."""
        steps = plan.admission(self.config, self.client, self.held, tool, arguments, meta, budget)
        verdict: Admission | Refusal = await self._drive(steps, notice)
        return verdict

    async def finish(
        self, admitted: Admission, ok: bool, error: str | None, request_ids: list[str]
    ) -> None:
        """Report the outcome (Remit revokes the grant with it)."""
        await self._drive(plan.finish(admitted, ok, error, request_ids))

    async def abandon(self, reason: str, held: dict[str, str] | None = None) -> None:
        """Record each held call (of `held`, default all this gate holds) as never run,
        and forget it."""
        await self._drive(plan.abandon(self.held if held is None else held, reason))


class SyncToolGate:
    """Decides tool calls for one agent key, synchronously (frameworks may run tools in
    worker threads: the held mapping is only read and written whole-key)."""

    def __init__(
        self, client: Client, config: GateConfig, held: dict[str, str] | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.held: dict[str, str] = {} if held is None else held
        """arguments digest → the id of the decision held for exactly those arguments."""

    def link(self, decision_id: str) -> str:
        return plan.link(self.config, self.client.base_url, decision_id)

    def _drive(self, steps: plan.Plan, notice: SyncNotice | None = None) -> Any:
        send: Callable[[Call], dict[str, Any]] = self.client._send
        try:
            step = next(steps)
            while True:
                if isinstance(step, Announce):
                    if notice is not None:
                        with contextlib.suppress(Exception):  # telling must not decide
                            notice(step.decision, step.link, step.budget)
                    step = steps.send(None)
                    continue
                try:
                    got = send(step)
                except RemitError as exc:
                    step = steps.throw(exc)
                else:
                    step = steps.send(got)
        except StopIteration as done:
            return done.value

    def admit(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None = None,
        notice: SyncNotice | None = None,
        budget: float | None = None,
    ) -> Admission | Refusal:
        """Decide the call; an `Admission` only when it may run now. `budget`: seconds to
        hold a pending call (default: the config's)."""
        steps = plan.admission(self.config, self.client, self.held, tool, arguments, meta, budget)
        verdict: Admission | Refusal = self._drive(steps, notice)
        return verdict

    def finish(
        self, admitted: Admission, ok: bool, error: str | None, request_ids: list[str]
    ) -> None:
        """Report the outcome (Remit revokes the grant with it)."""
        self._drive(plan.finish(admitted, ok, error, request_ids))

    def abandon(self, reason: str) -> None:
        """Record each held call as never run, and forget it."""
        self._drive(plan.abandon(self.held, reason))
