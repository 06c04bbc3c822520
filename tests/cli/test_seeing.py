"""Seeing and acting from the command line: `remit decisions list|show`, `remit events
list`, `remit ledger log` (decoded entries), each as a table and as JSON, read-only;
`remit approvals list|show|approve|reject` against a real running service."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
from tests.cli.clikit import NOW, cli_env, example_request, ok, remit, tree_files, write_json
from tests.cli.conftest import Keys
from tests.cli.test_first_contact import service  # noqa: F401  (the fixture)


def _world(ws: Path, keys: Keys) -> list[dict[str, object]]:
    """Three decisions (notify, autonomous, deny) and an event on ledger.db."""
    write_json(ws / "list.json", example_request(action="iam:ListRoles", step="find-stale"))
    write_json(ws / "stranger.json", example_request(agent="stranger"))
    made = []
    for req, extra in (("request.json", ["--init"]), ("list.json", []), ("stranger.json", [])):
        out = ok(
            remit(
                "decide",
                "--envelope",
                "envelope.yaml",
                "--trusted-keys",
                keys.ciso_pub,
                "--request",
                req,
                "--now",
                NOW,
                "--db",
                "ledger.db",
                *extra,
                cwd=ws,
            )
        )
        made.append(json.loads(out.stdout))
    ok(
        remit(
            "event",
            "add",
            "--kind",
            "model_update",
            "--note",
            "new model",
            "--db",
            "ledger.db",
            cwd=ws,
        )
    )
    return made


def test_decisions_list_show_events_and_log(ws: Path, keys: Keys) -> None:
    made = _world(ws, keys)
    before = tree_files(ws)
    rows = json.loads(
        ok(remit("decisions", "list", "--db", "ledger.db", "--format", "json", cwd=ws)).stdout
    )
    assert [r["id"] for r in rows] == [d["id"] for d in reversed(made)]
    assert [r["tier"] for r in rows] == ["deny", "autonomous", "notify"]
    only = json.loads(
        ok(
            remit(
                "decisions",
                "list",
                "--db",
                "ledger.db",
                "--tier",
                "deny",
                "--format",
                "json",
                cwd=ws,
            )
        ).stdout
    )
    assert [r["agent"] for r in only] == ["stranger"]
    by_action = json.loads(
        ok(
            remit(
                "decisions",
                "list",
                "--db",
                "ledger.db",
                "--action",
                "iam:ListRoles",
                "--format",
                "json",
                cwd=ws,
            )
        ).stdout
    )
    assert [r["id"] for r in by_action] == [made[1]["id"]]
    none = json.loads(
        ok(
            remit(
                "decisions",
                "list",
                "--db",
                "ledger.db",
                "--since",
                "2999-01-01T00:00:00Z",
                "--format",
                "json",
                cwd=ws,
            )
        ).stdout
    )
    assert none == []
    table = ok(remit("decisions", "list", "--db", "ledger.db", cwd=ws)).stdout
    assert made[0]["id"] in table and "notify" in table
    bad = ok(remit("decisions", "list", "--db", "ledger.db", "--tier", "aprove", cwd=ws), 2)
    assert "did you mean 'approve'" in bad.stderr

    shown = json.loads(
        ok(
            remit(
                "decisions", "show", made[0]["id"], "--db", "ledger.db", "--format", "json", cwd=ws
            )
        ).stdout
    )
    assert shown["decision"] == {k: v for k, v in made[0].items() if k in shown["decision"]}
    assert shown["ledger_index"] == made[0]["ledger_index"]
    assert shown["request"]["reasoning"]["summary"].startswith("Role unused")
    text = ok(remit("decisions", "show", made[0]["id"], "--db", "ledger.db", cwd=ws)).stdout
    assert "SEVERITY_FLOOR" in text and "Role unused for 42 days" in text
    assert "iam-hygiene" in text and f"ledger index {made[0]['ledger_index']}" in text
    missing = ok(remit("decisions", "show", "dec_nope", "--db", "ledger.db", cwd=ws), 2)
    assert "no decision dec_nope" in missing.stderr

    events = json.loads(
        ok(remit("events", "list", "--db", "ledger.db", "--format", "json", cwd=ws)).stdout
    )
    assert [(e["kind"], e["note"]) for e in events] == [("model_update", "new model")]

    log = [
        json.loads(line)
        for line in ok(
            remit("ledger", "log", "--db", "ledger.db", "--format", "json", cwd=ws)
        ).stdout.splitlines()
    ]
    kinds = [e["kind"] for e in log]
    assert kinds.count("decision") == 3 and kinds[-1] == "event"
    decided = [e for e in log if e["kind"] == "decision"]
    assert decided[0]["data"]["decision"]["id"] == made[0]["id"]  # decoded, not base64
    assert [e["index"] for e in log] == list(range(len(log)))
    table = ok(remit("ledger", "log", "--db", "ledger.db", "--kind", "decision", cwd=ws)).stdout
    assert f"{made[2]['id']}: stranger iam:DetachRolePolicy → deny" in table
    assert tree_files(ws) == before  # reading wrote nothing


def test_approvals_against_a_running_service(
    service: tuple[str, str, subprocess.Popen[str]],  # noqa: F811
    ws: Path,
) -> None:
    url, agent_key, _ = service
    approver = ok(
        remit("keys", "create", "--role", "approver", "--name", "alice", "--db", "serve.db", cwd=ws)
    ).stdout.splitlines()[-1]
    held = example_request()
    held["resources"] = [{"arn": "arn:aws:iam::111122223333:role/payments-api", "tags": {}}]
    asks = []
    for _ in range(2):
        r = httpx.post(
            f"{url}/v1/decisions", json=held, headers={"Authorization": f"Bearer {agent_key}"}
        )
        assert r.status_code == 200 and r.json()["tier"] == "approve", r.text
        asks.append(r.json()["id"])
    env = cli_env(REMIT_URL=url, REMIT_API_KEY=approver)
    pending = json.loads(ok(remit("approvals", "list", "--format", "json", cwd=ws, env=env)).stdout)
    assert sorted(p["decision_id"] for p in pending) == sorted(asks)
    shown = ok(remit("approvals", "show", asks[0], cwd=ws, env=env)).stdout
    assert "payments-api" in shown and "PROTECTED_RESOURCE" in shown
    done = json.loads(
        ok(
            remit(
                "approvals",
                "approve",
                asks[0],
                "--comment",
                "ok by me",
                "--format",
                "json",
                cwd=ws,
                env=env,
            )
        ).stdout
    )
    assert done["approval"]["state"] == "approved" and done["approval"]["comment"] == "ok by me"
    ok(remit("approvals", "reject", asks[1], cwd=ws, env=env))
    again = ok(remit("approvals", "approve", asks[0], cwd=ws, env=env), 1)
    assert "already approved" in again.stderr
    # the ledger records both resolutions with alice's identity
    shown_json = json.loads(
        ok(
            remit("decisions", "show", asks[1], "--db", "serve.db", "--format", "json", cwd=ws)
        ).stdout
    )
    assert shown_json["approval"]["state"] == "rejected"
    assert "alice" in shown_json["approval"]["resolved_by"]
    # a bad key is bad input (2); no service is an unreachable dependency (3)
    bad = cli_env(REMIT_URL=url, REMIT_API_KEY="rk_nope_nope")
    assert remit("approvals", "list", cwd=ws, env=bad).returncode == 2
    gone = cli_env(REMIT_URL="http://127.0.0.1:9", REMIT_API_KEY=approver)
    proc = remit("approvals", "list", cwd=ws, env=gone)
    assert proc.returncode == 3 and "cannot reach the service" in proc.stderr
