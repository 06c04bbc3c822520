"""The API's answer for one request, as the decision writer gives it: the screening of a
body (422 for one that is not a valid `ActionRequest`; 403 for a key bound to another
agent, or an agent key claiming to be a human or to act for one) and the view of a
decision just made.

Defined once, for both sides: the writer answers with these, and the service, when the
writer cannot take a request, answers with `unrecorded_answer` (refused as the writer
would refuse it, else deny LEDGER_UNAVAILABLE). Nothing here records, decides, or
talks to the other process.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from remit.domain.clock import parse_ts
from remit.domain.requests import ActionRequest, Origin
from remit.domain.tiers import Tier
from remit.envelope.source import EnvelopeView
from remit.ledger.kinds import DecisionRecord
from remit.oversight.drift import DriftInput
from remit.recorder.decisions import Ask, unrecorded
from remit.server.views import fresh_view, not_your_agent, readable_errors
from remit.server.writer.wire import Answer, Notice, Status, WireAsk

_TOLD = (Tier.NOTIFY, Tier.APPROVE)


def screen(ask: WireAsk) -> ActionRequest | Answer:
    """The request in `ask`, or the answer refusing it: INVALID for a body that is not a
    valid `ActionRequest`, FORBIDDEN when the caller's key is bound to another agent or an
    agent key claims `origin: human` or `on_behalf_of` (only admin keys may).
    Run on the validated request, so what is checked is exactly what is decided."""
    try:
        request = ActionRequest.model_validate_json(ask.body)
    except ValidationError as exc:
        errors = readable_errors(list(exc.errors(include_url=False)))
        return Answer(Status.INVALID, orjson.dumps({"detail": errors}))
    bound = ask.bound_agent
    if bound is not None and request.agent != bound:
        return Answer(Status.FORBIDDEN, not_your_agent(bound, request.agent).encode())
    if bound is not None and (request.origin is Origin.HUMAN or request.on_behalf_of):
        claimed = "origin human" if request.origin is Origin.HUMAN else "on_behalf_of"
        return Answer(
            Status.FORBIDDEN,
            f"an agent key cannot claim {claimed}: only admin keys, held by people, make "
            "human-initiated requests or requests on a person's behalf".encode(),
        )
    return request


def decided(
    ask: Ask,
    view: EnvelopeView,
    d: dict[str, Any],
    notifying: bool = True,
    record: DecisionRecord | None = None,
) -> Answer:
    """The answer for decision `d` just made (its JSON: recorded, with its `record`, or
    denied as unrecordable); with `notifying`, a notify or approve answer carries its
    `Notice`."""
    d["actor"] = ask.actor
    d["on_behalf_of"] = ask.request.on_behalf_of
    approval = d.get("approval")
    shown = fresh_view(
        d,
        approval if isinstance(approval, dict) else None,
        batch_reads=view.loaded.envelope.defaults.batch_reads,
    )
    tier = Tier(d["tier"])
    notice = Notice(shown, ask.request_json) if notifying and tier in _TOLD else None
    index = shown.get("ledger_index")
    summary = (str(shown["id"]), str(shown["agent"]), str(shown["action"]),
               index if isinstance(index, int) else None)  # fmt: skip
    drift = DriftInput.of(record) if record is not None else None
    return Answer(Status.DECIDED, orjson.dumps(shown), tier, notice, summary, drift)


def unrecorded_answer(wire: WireAsk, view: EnvelopeView, why: str) -> Answer:
    """The answer when the writer could not take `wire`: refused as the writer would
    refuse it (`screen`), else deny LEDGER_UNAVAILABLE (never told: a deny)."""
    screened = screen(wire)
    if isinstance(screened, Answer):
        return screened
    ask = Ask(view.gate, screened, wire.actor, parse_ts(wire.at), wire.decision_id)
    return decided(ask, view, unrecorded(ask, why).to_dict(), notifying=False)
