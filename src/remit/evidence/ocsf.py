"""The OCSF lines of an evidence pack, fast: each decision's OCSF 1.7.0 API Activity event
filled as a plain dict — the same event `remit.ledger.export.ocsf_event` builds through
pydantic-ocsf — and serialised with orjson. Validation is not skipped: the first event of
every distinct shape (tier, which optional parts are present, the types of the values the
OCSF model types) also goes through pydantic-ocsf, and its bytes must equal the fast ones;
a shape where they differ is built through pydantic-ocsf for every event. So every line is
the bytes of a pydantic-ocsf-validated event. It does not choose which entries are
decisions (the pack does)."""

from __future__ import annotations

from typing import Any

from remit.domain.clock import parse_ts
from remit.evidence.jsonl import json_line
from remit.ledger.export import _DECISION_NAMES, PRODUCT_VERSION, _severity, ocsf_event
from remit.ledger.kinds import DecisionRecord
from remit.ledger.records import Recorded, StoredEntry

_PRODUCT = {"name": "Remit", "vendor_name": "Remit", "version": PRODUCT_VERSION}
_SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 0: "Unknown"}
_STATUS_NAMES = {1: "Success", 2: "Failure", 99: "Other"}


def fast_event(entry: StoredEntry, got: Recorded[DecisionRecord], leaf_hex: str) -> dict[str, Any]:
    """`ocsf_event(entry, entry.document())` without pydantic (callers check the shape)."""
    d, r = got.record.decision, got.record.request
    service, _, operation = d["action"].partition(":")
    env = d["envelope"]
    prov = r.get("provenance") or {}
    wf = prov.get("workflow") or {}
    tier = d["tier"]
    severity = _severity(tier)
    status = 1 if tier in ("autonomous", "notify") else (2 if tier == "deny" else 99)
    correlation = "/".join(x for x in (wf.get("name"), wf.get("run"), wf.get("step")) if x)
    metadata: dict[str, Any] = {
        "log_name": "remit-ledger", "product": dict(_PRODUCT), "sequence": entry.index,
        "uid": d["id"], "version": "1.7.0",
    }  # fmt: skip
    if correlation:
        metadata["correlation_uid"] = correlation
    policy = {
        "uid": env["digest"], "name": env["name"], "version": str(env["version"]),
        "is_applied": True, "desc": "; ".join(x["code"] for x in d["reasons"]),
    }  # fmt: skip
    resources = []
    for x in r["resources"]:
        labels = [f"{k}={v}" for k, v in x.get("tags", {}).items()]
        resources.append({"uid": x["arn"], "labels": labels} if labels else {"uid": x["arn"]})
    unmapped = {
        "remit.tier": tier,
        "remit.rules": d["rules"],
        "remit.reasons": d["reasons"],
        "remit.reasoning": r.get("reasoning"),
        "remit.provenance": prov,
        "remit.origin": r.get("origin"),
        "remit.on_behalf_of": r.get("on_behalf_of"),
        "remit.ledger.index": entry.index,
        "remit.ledger.leaf_hash": leaf_hex,
        "remit.actor": got.actor,
    }
    return {
        "activity_id": 99,
        "activity_name": "Other",
        "category_uid": 6,
        "class_uid": 6003,
        "type_uid": 600399,
        "severity_id": severity,
        "severity": _SEVERITY_NAMES.get(severity),
        "time": int(parse_ts(entry.ts).timestamp() * 1000),
        "status_id": status,
        "status": _STATUS_NAMES[status],
        "message": f"{d['agent']} asked to {d['action']}: {tier}",
        "metadata": metadata,
        "actor": {
            "app_name": d["agent"],
            "app_uid": d["agent"],
            "authorizations": [
                {"decision": _DECISION_NAMES.get(tier, tier), "policy": _drop_none(policy)}
            ],
        },
        "api": {"operation": operation, "service": {"name": f"{service}.amazonaws.com"}},
        "src_endpoint": {"svc_name": d["agent"]},
        "resources": resources,
        "unmapped": _drop_none(unmapped),
    }


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _shape(event: dict[str, Any], got: Recorded[DecisionRecord]) -> tuple[Any, ...]:
    """What decides how pydantic-ocsf treats an event: its tier, which optional parts it
    has, and the types of every value an OCSF field (not `unmapped`) is typed for."""
    d = got.record.decision
    env = d["envelope"]
    policy = event["actor"]["authorizations"][0]["policy"]
    return (
        d["tier"],
        type(d["agent"]),
        type(d["id"]),
        type(env.get("digest")),
        type(env.get("name")),
        tuple(sorted(policy)),
        "correlation_uid" in event["metadata"],
        tuple((type(x["uid"]), "labels" in x) for x in event["resources"]),
        tuple(event["unmapped"]),
    )


class OcsfLines:
    """Turns decisions into OCSF lines, validating one event per shape through
    pydantic-ocsf (and every event of a shape where the fast path differs)."""

    def __init__(self) -> None:
        self._fast_ok: dict[tuple[Any, ...], bool] = {}
        self.validated = 0
        """How many events went through pydantic-ocsf."""

    def line(self, entry: StoredEntry, got: Recorded[DecisionRecord], leaf_hex: str) -> bytes:
        event = fast_event(entry, got, leaf_hex)
        shape = _shape(event, got)
        ok = self._fast_ok.get(shape)
        if ok is not False:
            fast = json_line(event)
            if ok:
                return fast
        slow = json_line(ocsf_event(entry, entry.document()))
        self.validated += 1
        if ok is None:
            self._fast_ok[shape] = ok = slow == fast
        return slow


def load_models() -> None:
    """Build pydantic-ocsf's models now (they are made on first use, which takes a while)."""
    from ocsf.v1_7_0.events import ApiActivity
    from ocsf.v1_7_0.objects import Actor, Authorization, Metadata, ResourceDetails

    models = (ApiActivity, Actor, Authorization, Metadata, ResourceDetails)
    assert all(m is not None for m in models)
