"""`remit reconcile` against decisions made through a real `remit serve` (STS grants from
a real moto server): synthetic CloudTrail events carrying those decisions' ids, keys and
session names, layered on the real invictus trail, cover every class; the run is
recorded on the ledger as a typed entry whose counts, findings and input digest are
checked independently; the service shows the findings; the documented SQL is the SQL."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.cloudtrail.ctkit import ok, remit
from tests.cloudtrail.servedkit import (
    BY_EVENT,
    EXPECTED,
    HUMAN,
    SERVICE_ACCOUNT,
    ingest_layered,
    reconcile_json,
)
from tests.support.aws_world import AwsWorld
from tests.support.testdata import shared_testdata

from remit.ledger.open import open_store


def test_every_class_in_one_window_and_the_run_on_the_ledger(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    trail = ingest_layered(served["folder"], layered)
    t0: datetime = layered["t0"]
    since = (t0 - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (t0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out, _ = reconcile_json(served, "--since", since, "--until", until)
    assert out["summary"] == EXPECTED
    assert {f["event_id"]: f["class"] for f in out["findings"]} == BY_EVENT
    d1, d2 = layered["d1"], layered["d2"]
    by_id = {f["event_id"]: f for f in out["findings"]}
    assert by_id["synthetic-2"]["decision_id"] == d1["id"]  # joined by the access key
    assert by_id["synthetic-3"]["decision_id"] == d1["id"]  # joined by the session name
    assert "target-b" in by_id["synthetic-3"]["why"]
    assert "iam:DeleteRolePolicy is not the action" in by_id["synthetic-2"]["why"]
    assert (
        by_id["synthetic-4"]["decision_id"] == d2["id"]
        and "revoked" in (by_id["synthetic-4"]["why"])
    )
    assert by_id["synthetic-5"]["decision_id"] is None
    assert "synthetic-6" in by_id["synthetic-7"]["why"]
    assert "RemitRevokedSessions" in by_id["synthetic-9"]["why"]
    for f in out["findings"]:
        assert set(f) == {"class", "event_id", "event_time", "principal", "action",
                          "resources", "decision_id", "ledger_index", "why"}  # fmt: skip
        if f["decision_id"]:
            assert isinstance(f["ledger_index"], int)
    # The run is on the ledger: a typed entry with the same counts and findings, and the
    # digest of the one trail file in the window, computed here from the file itself.
    store = open_store(served["db"], create=False)
    try:
        entry = store.entry(out["ledger_index"])
        doc = json.loads(entry.body)
        decision_entry = json.loads(store.entry(by_id["synthetic-2"]["ledger_index"]).body)
    finally:
        store.close()
    assert doc["kind"] == "reconciliation"
    assert doc["data"]["counts"] == EXPECTED
    assert doc["data"]["findings"] == out["findings"]
    assert doc["data"]["run_id"] == out["run_id"]
    file_digest = hashlib.sha256(gzip.decompress(trail.read_bytes())).hexdigest()
    assert (
        doc["data"]["inputs"]["trail"] == hashlib.sha256((file_digest + "\n").encode()).hexdigest()
    )
    assert SERVICE_ACCOUNT in doc["data"]["ai_principals"]
    assert layered["exec_role"] in doc["data"]["ai_principals"]
    assert decision_entry["kind"] == "decision"
    assert decision_entry["data"]["decision"]["id"] == d1["id"]


def test_without_a_window_the_real_trail_is_not_ai(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    ingest_layered(served["folder"], layered)
    out, _ = reconcile_json(served)
    # The real trail's own trail tampering (Stratus' cloudtrail-delete and
    # cloudtrail-event-selectors detonations), counted here from the files themselves.
    real = shared_testdata("cloudtrail", "invictus-aws_dataset", what="CloudTrail test data")
    records = [r for f in sorted(real.rglob("*.json"))
               for r in json.loads(f.read_text())["Records"]]  # fmt: skip
    blinding = {"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"}
    tampering = sum(1 for r in records if r["eventSource"] == "cloudtrail.amazonaws.com"
                    and r["eventName"] in blinding and not r.get("errorCode"))  # fmt: skip
    assert len(records) == 2900 and tampering == 4
    assert out["summary"] == {
        **EXPECTED,
        "governance_tampering": 3 + tampering,
        "not_ai": 2 + 2900 - tampering,
    }


def test_an_empty_window_says_so(served: dict[str, Any], layered: dict[str, Any]) -> None:
    ingest_layered(served["folder"], layered)
    out, err = reconcile_json(served, "--since", "2001-01-01T00:00:00Z", "--until",
                          "2001-01-02T00:00:00Z", code=0)  # fmt: skip
    assert out["events"] == 0 and all(v == 0 for v in out["summary"].values())
    assert "no events in the window" in err


def test_bad_input_writes_nothing(served: dict[str, Any]) -> None:
    folder = served["folder"]
    store = open_store(served["db"], create=False)
    try:
        before = store.size()
    finally:
        store.close()
    for args, msg in (
        (["--since", "yesterday"], "not an ISO-8601 time"),
        (["--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"], "before"),
        (["--ai-principal", "bob"], "not an ARN"),
    ):
        proc = ok(remit("reconcile", "--db", served["db"], "--trail-db", "t.duckdb", *args,
                        cwd=folder, env=served["env"]), 2)  # fmt: skip
        assert msg in proc.stderr
    proc = ok(remit("reconcile", "--db", served["db"], "--trail-db", "t.duckdb", cwd=folder,
                    env=served["env"]), 2)  # fmt: skip
    assert "no AI principals" in proc.stderr
    store = open_store(served["db"], create=False)
    try:
        assert store.size() == before
    finally:
        store.close()


def test_the_service_shows_findings_and_service_accounts_to_auditors(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    ingest_layered(served["folder"], layered)
    t0: datetime = layered["t0"]
    since = (t0 - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (t0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run, _ = reconcile_json(served, "--since", since, "--until", until)
    url = served["url"]
    audit = {"Authorization": f"Bearer {served['keys']['audit']}"}
    got = httpx.get(f"{url}/v1/findings", headers=audit, timeout=30)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["run_id"], body["ledger_index"]) == (run["run_id"], run["ledger_index"])
    assert body["counts"] == EXPECTED and body["findings"] == run["findings"]
    only = httpx.get(f"{url}/v1/findings", params={"class": "governance_tampering"},
                     headers=audit, timeout=30).json()  # fmt: skip
    assert sorted(f["event_id"] for f in only["findings"]) == [
        "synthetic-10", "synthetic-8", "synthetic-9"]  # fmt: skip
    mine = httpx.get(f"{url}/v1/findings", params={"principal": HUMAN, "until": (
        t0 + timedelta(seconds=41)).strftime("%Y-%m-%dT%H:%M:%SZ")}, headers=audit,
        timeout=30).json()  # fmt: skip
    assert [f["event_id"] for f in mine["findings"]] == ["synthetic-8"]
    bad = httpx.get(f"{url}/v1/findings", params={"class": "explained"}, headers=audit,
                    timeout=30)  # fmt: skip
    assert bad.status_code == 422 and "class must be one of" in bad.text
    agent = {"Authorization": f"Bearer {served['keys']['bot']}"}
    assert httpx.get(f"{url}/v1/findings", headers=agent, timeout=30).status_code == 403
    assert httpx.get(f"{url}/v1/service-accounts", headers=agent, timeout=30).status_code == 403
    accounts = httpx.get(f"{url}/v1/service-accounts", headers=audit, timeout=30)
    assert accounts.status_code == 200, accounts.text
    (remediator,) = accounts.json()["service_accounts"]
    assert remediator["agent"] == "remediator"
    assert remediator["service_account"] == SERVICE_ACCOUNT
    assert remediator["execution_role"] == layered["exec_role"]
    # d1 and d2 here (other modules sharing the served world may have granted more)
    assert list(remediator["justified_actions"]) == ["iam:DetachRolePolicy"]
    assert remediator["justified_actions"]["iam:DetachRolePolicy"] >= 2
    assert remediator["last_signed_off"] is not None
    assert remediator["scope_justification"] is None  # the example envelope states none
    assert remediator["findings"] == {
        "after_revocation": 1, "out_of_scope": 2, "unauthorized_escalation": 1,
        "unexplained": 1}  # fmt: skip


def test_the_documented_sql_runs_over_the_exported_index(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    """docs/cloudtrail.md gives the exact SQL that runs; over the files `export-index`
    writes (as Athena would read them) it classifies as `remit reconcile` does."""
    import duckdb

    from remit.cloudtrail.sql import AI_COLUMNS, LEDGER_COLUMNS, RECONCILE_SQL

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cloudtrail.md").read_text()
    assert f"```sql{RECONCILE_SQL}```" in doc
    folder = served["folder"]
    ingest_layered(folder, layered)
    world: AwsWorld = served["world"]
    ok(remit("cloudtrail", "export-index", "--out", "index", "--envelope",
             world.folder / "envelope.yaml", "--db", served["db"], cwd=folder,
             env=served["env"]))  # fmt: skip
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{folder / 't.duckdb'}' AS trail (READ_ONLY)")
    con.execute("CREATE VIEW events AS SELECT * FROM trail.events")
    for name, cols in (("ledger_decisions", LEDGER_COLUMNS), ("ai_principals", AI_COLUMNS)):
        spec = ", ".join(f"'{n}': '{t}'" for n, t in cols)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_json("
                    f"'{folder / 'index' / name}.ndjson', columns={{{spec}}})")  # fmt: skip
    t0: datetime = layered["t0"]
    rows = con.execute(
        f"SELECT class, count(*) FROM ({RECONCILE_SQL}) GROUP BY class",
        {"since": t0 - timedelta(minutes=1), "until": t0 + timedelta(minutes=5),
         "window_seconds": 300.0},
    ).fetchall()  # fmt: skip
    assert dict(rows) == {k: v for k, v in EXPECTED.items() if v}
