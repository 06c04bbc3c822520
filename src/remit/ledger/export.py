"""Exports of the ledger for other tools: JSONL (the exact leaf bytes, so anyone can
recompute the tree), OCSF API Activity (class 6003, through pydantic-ocsf) for SIEMs, and
OpenTelemetry spans with the GenAI semantic conventions for tracing back-ends.

OCSF and OTel carry decisions (the entries that have a verdict); JSONL carries every
entry. Each writer takes entries and a text sink; choosing files is the CLI's job.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any, TextIO

from remit.domain.clock import parse_ts
from remit.ledger.records import StoredEntry
from remit.tlog.merkle import leaf_hash

PRODUCT_VERSION = "0.1.0"
_DECISION_NAMES = {
    "autonomous": "Allowed",
    "notify": "Allowed (notify)",
    "approve": "Pending approval",
    "deny": "Denied",
}


def write_jsonl(entries: Iterable[StoredEntry], out: TextIO) -> int:
    """One object per entry: index, kind, ts, leaf (base64 of the exact bytes), leaf_hash."""
    n = 0
    for e in entries:
        out.write(
            json.dumps(
                {
                    "index": e.index,
                    "kind": e.kind,
                    "ts": e.ts,
                    "leaf": base64.b64encode(e.body).decode(),
                    "leaf_hash": leaf_hash(e.body).hex(),
                },
                separators=(",", ":"),
            )
            + "\n"
        )
        n += 1
    return n


def _decisions(entries: Iterable[StoredEntry]) -> Iterable[tuple[StoredEntry, dict[str, Any]]]:
    for e in entries:
        if e.kind == "decision":
            yield e, e.document()


def ocsf_event(entry: StoredEntry, body: dict[str, Any]) -> dict[str, Any]:
    """One decision as an OCSF 1.7.0 API Activity event (validated by pydantic-ocsf)."""
    from ocsf.v1_7_0.events import ApiActivity
    from ocsf.v1_7_0.objects import (
        Actor,
        Api,
        Authorization,
        Metadata,
        NetworkEndpoint,
        Policy,
        Product,
        ResourceDetails,
        Service,
    )

    data = body["data"]
    d, r = data["decision"], data["request"]
    service, _, operation = d["action"].partition(":")
    env = d["envelope"]
    time_ms = int(parse_ts(entry.ts).timestamp() * 1000)
    prov = r.get("provenance") or {}
    wf = prov.get("workflow") or {}
    tier = d["tier"]
    event = ApiActivity(
        activity_id=99,
        category_uid=6,
        class_uid=6003,
        type_uid=600399,
        severity_id=_severity(tier),
        time=time_ms,
        status_id=1 if tier in ("autonomous", "notify") else (2 if tier == "deny" else 99),
        message=f"{d['agent']} asked to {d['action']}: {tier}",
        metadata=Metadata(
            version="1.7.0",
            uid=d["id"],
            correlation_uid="/".join(
                x for x in (wf.get("name"), wf.get("run"), wf.get("step")) if x
            )
            or None,
            product=Product(name="Remit", vendor_name="Remit", version=PRODUCT_VERSION),
            log_name="remit-ledger",
            sequence=entry.index,
        ),
        actor=Actor(
            app_name=d["agent"],
            app_uid=d["agent"],
            authorizations=[
                Authorization(
                    decision=_DECISION_NAMES.get(tier, tier),
                    policy=Policy(
                        uid=env["digest"],
                        name=env["name"],
                        version=str(env["version"]),
                        is_applied=True,
                        desc="; ".join(x["code"] for x in d["reasons"]),
                    ),
                )
            ],
        ),
        api=Api(operation=operation, service=Service(name=f"{service}.amazonaws.com")),
        src_endpoint=NetworkEndpoint(svc_name=d["agent"]),
        resources=[
            ResourceDetails(
                uid=x["arn"], labels=[f"{k}={v}" for k, v in x.get("tags", {}).items()] or None
            )
            for x in r["resources"]
        ],
        unmapped={
            "remit.tier": tier,
            "remit.rules": d["rules"],
            "remit.reasons": d["reasons"],
            "remit.reasoning": r.get("reasoning"),
            "remit.provenance": prov,
            "remit.origin": r.get("origin"),
            "remit.on_behalf_of": r.get("on_behalf_of"),
            "remit.ledger.index": entry.index,
            "remit.ledger.leaf_hash": leaf_hash(entry.body).hex(),
            "remit.actor": body.get("actor"),
        },
    )
    return event.model_dump(mode="json", exclude_none=True, by_alias=True)


def _severity(tier: str) -> int:
    return {"autonomous": 1, "notify": 2, "approve": 3, "deny": 4}.get(tier, 0)


def write_ocsf(entries: Iterable[StoredEntry], out: TextIO) -> int:
    n = 0
    for e, body in _decisions(entries):
        out.write(json.dumps(ocsf_event(e, body), separators=(",", ":")) + "\n")
        n += 1
    return n


def otel_attributes(entry: StoredEntry, body: dict[str, Any]) -> dict[str, Any]:
    """GenAI semantic-convention attributes plus remit.* for one decision."""
    d, r = body["data"]["decision"], body["data"]["request"]
    prov = r.get("provenance") or {}
    model = prov.get("model") or {}
    wf = prov.get("workflow") or {}
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": d["action"],
        "gen_ai.tool.call.id": d["id"],
        "gen_ai.tool.type": "extension",
        "gen_ai.agent.id": d["agent"],
        "gen_ai.agent.name": d["agent"],
        "remit.decision.id": d["id"],
        "remit.verdict": "allow" if d["tier"] in ("autonomous", "notify") else d["tier"],
        "remit.tier": d["tier"],
        "remit.envelope.name": d["envelope"]["name"],
        "remit.envelope.version": d["envelope"]["version"],
        "remit.envelope.digest": d["envelope"]["digest"],
        "remit.reason_codes": [x["code"] for x in d["reasons"]],
        "remit.rules": list(d["rules"]),
        "remit.resources": [x["arn"] for x in r["resources"]],
        "remit.ledger.index": entry.index,
        "remit.ledger.leaf_hash": leaf_hash(entry.body).hex(),
        "remit.origin": r.get("origin") or "ai",
    }
    if model:
        attrs["gen_ai.request.model"] = f"{model.get('name')}@{model.get('version')}"
    if wf:
        attrs["gen_ai.workflow.name"] = wf.get("name")
        if wf.get("run"):
            attrs["remit.workflow.run"] = wf["run"]
        if wf.get("step"):
            attrs["remit.workflow.step"] = wf["step"]
    if prov.get("prompt_sha256"):
        attrs["remit.prompt_sha256"] = prov["prompt_sha256"]
    conf = (r.get("reasoning") or {}).get("confidence")
    if conf is not None:
        attrs["remit.confidence"] = conf
    return {k: v for k, v in attrs.items() if v is not None}


def write_otel(entries: Iterable[StoredEntry], out: TextIO) -> int:
    """Emit one `execute_tool` span per decision through the OpenTelemetry SDK (JSON lines)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "remit"}))
    provider.add_span_processor(
        SimpleSpanProcessor(
            ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n")
        )
    )
    tracer = provider.get_tracer("remit.ledger.export", PRODUCT_VERSION)
    n = 0
    for e, body in _decisions(entries):
        attrs = otel_attributes(e, body)
        start = int(parse_ts(e.ts).timestamp() * 1e9)
        span = tracer.start_span(
            f"execute_tool {attrs['gen_ai.tool.name']}",
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=start,
        )
        if attrs["remit.tier"] == "deny":
            span.set_status(Status(StatusCode.ERROR, "denied by Remit"))
            span.set_attribute("error.type", "remit.denied")
        span.end(end_time=start)
        n += 1
    provider.shutdown()
    return n
