"""Issue 12, finding 5: the approval queue hid a pending approval behind 520 newer
rejected ones. Lists filter in the store and page with a cursor: a pending approval is
listed whatever the number of resolved ones, and every page of a long list is reachable."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.server.srvkit import ApiKeys, Clock, bearer, held_request

from remit.domain.canonical import canonical_json, sha256_hex
from remit.ledger.kinds import ApprovalResolution, ApprovalTerms, DecisionRecord
from remit.ledger.records import make_entry
from remit.server.runtime import Runtime


def _resolved_flood(rt: Runtime, clock: Clock, n: int) -> None:
    """`n` held decisions, each rejected, written straight to the ledger (fast)."""
    entries = []
    for i in range(n):
        did = f"dec_flood{i:06d}"
        request = {"agent": "remediator", "action": "iam:DetachRolePolicy", "i": i}
        decision = {
            "id": did, "tier": "approve", "agent": "remediator",
            "action": "iam:DetachRolePolicy", "rules": ["R7-revoke-stale"], "reasons": [],
            "decided_at": "2026-11-21T10:00:00.000000Z",
        }  # fmt: skip
        digest = "sha256:" + sha256_hex(canonical_json(request))
        terms = ApprovalTerms(digest, clock() + timedelta(hours=1))
        entries.append(make_entry(DecisionRecord(decision, request, terms), clock(), "agent:x#k"))
        rejected = ApprovalResolution(
            did, "rejected", "no", digest, "remediator", "iam:DetachRolePolicy", ("R7",)
        )
        entries.append(make_entry(rejected, clock(), "approver:bob#k"))
    rt.store.append(entries)


def test_an_old_pending_approval_is_listed_behind_many_resolved(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    held = client.post("/v1/decisions", json=held_request(), headers=bearer(api_keys.agent))
    pending_id = held.json()["id"]
    _resolved_flood(rt, clock, 520)
    r = client.get("/v1/approvals?state=pending", headers=bearer(api_keys.auditor))
    assert r.status_code == 200, r.text
    assert [a["approval"]["decision_id"] for a in r.json()] == [pending_id]
    assert "link" not in r.headers  # one page holds it all


def test_pages_follow_the_cursor_to_the_end(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    _resolved_flood(rt, clock, 7)
    seen: list[str] = []
    url: str | None = "/v1/approvals?state=rejected&limit=3"
    pages = 0
    while url is not None:
        r = client.get(url, headers=bearer(api_keys.auditor))
        assert r.status_code == 200, r.text
        seen += [a["approval"]["decision_id"] for a in r.json()]
        pages += 1
        link = re.match(r'<([^>]+)>; rel="next"', r.headers.get("link", ""))
        url = link.group(1) if link else None
    assert pages == 3
    assert seen == [f"dec_flood{i:06d}" for i in reversed(range(7))]


def test_bad_page_parameters_are_refused(client: TestClient, api_keys: ApiKeys) -> None:
    for query in ("limit=0", "limit=501", "cursor=-1", "cursor=abc"):
        r = client.get(f"/v1/approvals?{query}", headers=bearer(api_keys.auditor))
        assert r.status_code == 422, (query, r.text)
