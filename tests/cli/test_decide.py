"""`remit decide` and `remit event add`: decisions, trust, recording, bad input, the rate
window and re-validation after organisational events."""

from __future__ import annotations

import base64
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.cli.clikit import (
    NOW,
    codes,
    copy_examples,
    decide,
    edit,
    example_request,
    jsonl,
    ok,
    remit,
    tree_files,
    write_json,
)
from tests.cli.conftest import Keys

DECISION_ID = re.compile(r"^dec_[0-9a-z]+$")


def export(cwd: Path, db: str = "ledger.db") -> list[dict[str, Any]]:
    return jsonl(ok(remit("ledger", "export", "--format", "jsonl", "--db", db, cwd=cwd)).stdout)


def recorded_decisions(cwd: Path, db: str = "ledger.db") -> list[dict[str, Any]]:
    bodies = [json.loads(base64.b64decode(e["leaf"])) for e in export(cwd, db)]
    return [b["data"]["decision"] for b in bodies if b["kind"] == "decision"]


def test_example_request_is_notify_and_recorded(ws: Path, keys: Keys) -> None:
    d = decide(ws, trusted=keys.ciso_pub)
    assert DECISION_ID.match(d["id"]), d["id"]
    assert d["tier"] == "notify" and d["allowed"] is True
    assert codes(d) == ["RULE_MATCHED", "SEVERITY_FLOOR"]
    assert all(set(r) == {"code", "message"} and r["message"] for r in d["reasons"])
    assert "Permissions management" in d["reasons"][1]["message"]
    assert d["rules"] == ["R7-revoke-stale"]
    assert d["envelope"]["name"] == "prod-security-automation"
    assert d["envelope"]["version"] == 7
    signed = json.loads((ws / "envelope.yaml.signoffs.json").read_text())["signoffs"][0]
    assert d["envelope"]["digest"] == signed["envelope"]["digest"]
    assert d["decided_at"] == NOW.replace("Z", ".000000Z")  # the ledger's one time form
    assert (d["agent"], d["action"]) == ("remediator", "iam:DetachRolePolicy")
    assert not (ws / ".remit").exists()

    # A second command sees it on the ledger, exactly the decision it printed; the
    # sign-off it was decided under is recorded before it.
    entries = export(ws)
    assert [e["kind"] for e in entries] == ["signoff", "decision"]
    assert d["ledger_index"] == entries[1]["index"] == 1
    printed = {k: v for k, v in d.items() if k != "ledger_index"}
    assert recorded_decisions(ws) == [printed]
    signoff = json.loads(base64.b64decode(entries[0]["leaf"]))["data"]
    assert signoff["signer"] == "ciso@example.com" and signoff["valid"] is True

    # The same sign-off is not recorded twice.
    again = decide(ws, trusted=keys.ciso_pub, now="2026-11-10T12:05:00Z")
    assert again["ledger_index"] == 2
    assert [e["kind"] for e in export(ws)] == ["signoff", "decision", "decision"]


def test_trusted_key_as_verifier_key_string(ws: Path, keys: Keys) -> None:
    d = decide(ws, trusted=keys.ciso_vkey)
    assert d["tier"] == "notify"


def test_request_from_stdin(ws: Path, keys: Keys) -> None:
    proc = remit(
        "decide", "--envelope", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
        "--request", "-", "--now", NOW, "--db", "ledger.db", "--init",
        cwd=ws, stdin=(ws / "request.json").read_text(),
    )  # fmt: skip
    assert json.loads(ok(proc).stdout)["tier"] == "notify"


def test_without_trusted_keys_everything_is_denied(ws: Path) -> None:
    proc = ok(
        remit(
            "decide", "--envelope", "envelope.yaml", "--request", "request.json",
            "--now", NOW, "--db", "ledger.db", "--init",
            cwd=ws,
        )
    )  # fmt: skip
    d = json.loads(proc.stdout)
    assert d["tier"] == "deny" and d["allowed"] is False
    assert codes(d) == ["ENVELOPE_SIGNATURE_INVALID"]
    assert d["rules"] == []
    assert "warning" in proc.stderr and "--trusted-keys" in proc.stderr
    assert [r["tier"] for r in recorded_decisions(ws)] == ["deny"]


def test_wrong_key_is_denied(ws: Path, keys: Keys) -> None:
    d = decide(ws, trusted=keys.other_pub)
    assert d["tier"] == "deny"
    assert codes(d) == ["ENVELOPE_SIGNATURE_INVALID"]
    assert "not among the trusted keys" in d["reasons"][0]["message"]


def test_edited_envelope_without_resigning_is_denied(ws: Path, keys: Keys) -> None:
    edit(ws / "envelope.yaml", "    tier: deny\n", "    tier: approve\n")  # R9 loosened
    d = decide(ws, trusted=keys.ciso_pub)
    assert d["tier"] == "deny"
    assert codes(d) == ["ENVELOPE_SIGNATURE_INVALID"]
    # The digest recorded is of the edited envelope, not the signed one.
    signed = json.loads((ws / "envelope.yaml.signoffs.json").read_text())["signoffs"][0]
    assert d["envelope"]["digest"] != signed["envelope"]["digest"]


def test_comment_only_edit_keeps_the_signature(ws: Path, keys: Keys) -> None:
    edit(ws / "envelope.yaml", "# ISO-8601 duration", "# reviewed quarterly")
    assert decide(ws, trusted=keys.ciso_pub)["tier"] == "notify"


def test_insecure_unsigned(unsigned_ws: Path) -> None:
    proc = ok(
        remit(
            "decide", "--envelope", "envelope.yaml", "--request", "request.json",
            "--now", NOW, "--db", "ledger.db", "--init", "--insecure-unsigned",
            cwd=unsigned_ws,
        )
    )  # fmt: skip
    assert "warning" in proc.stderr and "--insecure-unsigned" in proc.stderr
    assert "ENVELOPE_UNSIGNED_INSECURE" in proc.stderr
    d = json.loads(proc.stdout)
    assert codes(d)[0] == "ENVELOPE_UNSIGNED_INSECURE"
    assert d["tier"] != "deny" and "R7-revoke-stale" in d["rules"]
    assert codes(recorded_decisions(unsigned_ws)[0])[0] == "ENVELOPE_UNSIGNED_INSECURE"


# --- bad input: exit 2, the field named, nothing recorded


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, keys: Keys, signoffs: Path) -> Path:
    """A workspace whose ledger already holds a sign-off and a decision."""
    folder = copy_examples(tmp_path_factory.mktemp("seeded"), signoffs)
    decide(folder, trusted=keys.ciso_pub)
    return folder


def _with(**changes: Any) -> str:
    return json.dumps(example_request(**changes))


def _deep(path: tuple[str | int, ...], value: Any) -> str:
    data: Any = example_request()
    target = data
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return json.dumps(data)


BAD_REQUESTS = [
    ("malformed-json", '{"agent": "remediator", ', ["Invalid JSON"]),
    ("unknown-field", _with(colour="blue"), ["colour"]),
    ("wrong-type", _deep(("reasoning", "confidence"), "high"), ["reasoning.confidence"]),
    (
        "bad-arn",
        _deep(("resources", 0, "arn"), "arn:aws:iam:111122223333:role/x"),
        ["resources.0.arn", "not an ARN"],
    ),
    ("wildcard-action", _with(action="iam:*"), ["action", "iam:*"]),
    ("wildcard-in-name", _with(action="iam:Detach*"), ["action", "wildcards"]),
]


@pytest.mark.parametrize(
    ("text", "words"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_request_exits_2_and_records_nothing(
    tmp_path: Path, seeded: Path, keys: Keys, text: str, words: list[str]
) -> None:
    for name in ("envelope.yaml", "envelope.yaml.signoffs.json", "ledger.db"):
        shutil.copy(seeded / name, tmp_path / name)
    (tmp_path / "bad.json").write_text(text)
    before = tree_files(tmp_path)
    size = (tmp_path / "ledger.db").stat().st_size
    proc = remit(
        "decide", "--envelope", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
        "--request", "bad.json", "--now", NOW, "--db", "ledger.db",
        cwd=tmp_path,
    )  # fmt: skip
    ok(proc, 2)
    assert proc.stdout == ""
    assert "request is not valid" in proc.stderr and "bad.json" in proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert tree_files(tmp_path) == before  # the ledger (and any -wal file) unchanged
    assert (tmp_path / "ledger.db").stat().st_size == size


def test_bad_arguments_create_no_ledger(ws: Path, keys: Keys) -> None:
    base = ["decide", "--envelope", "envelope.yaml", "--request", "request.json", "--db", "new.db"]
    cases = [
        (["--trusted-keys", str(keys.ciso_pub), "--now", "yesterday"], "--now"),
        (["--trusted-keys", str(keys.ciso_pub), "--now", "2026-11-10T12:00:00"], "zone"),
        (["--trusted-keys", "missing.pub", "--now", NOW], "--trusted-keys"),
    ]
    for extra, word in cases:
        proc = ok(remit(*base, *extra, cwd=ws), 2)
        assert word in proc.stderr, proc.stderr
    edit(ws / "envelope.yaml", "version: 7", "version: seven")
    proc = ok(remit(*base, "--trusted-keys", keys.ciso_pub, "--now", NOW, cwd=ws), 2)
    assert "envelope is not valid" in proc.stderr and "envelope.yaml:7" in proc.stderr
    assert not (ws / "new.db").exists()


# --- the rate window of R7: at most 20 actions per hour


def test_rate_window_21st_decision_needs_approval(ws: Path, keys: Keys) -> None:
    def one(minute: int) -> dict[str, Any]:
        return decide(ws, trusted=keys.ciso_pub, now=f"2026-11-10T12:{minute:02d}:00Z")

    # Twenty decisions inside one hour. The first records the sign-off; the other 19 run
    # a few at a time, which also exercises concurrent appends by separate processes.
    first = [one(0)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        first += pool.map(one, range(2, 40, 2))
    assert [d["tier"] for d in first] == ["notify"] * 20, [codes(d) for d in first]
    assert sorted(d["ledger_index"] for d in first) == list(range(1, 21))
    assert len({d["id"] for d in first}) == 20

    last = one(40)
    assert last["tier"] == "approve", last["reasons"]
    assert "RATE_LIMIT_EXCEEDED" in codes(last)
    assert last["ledger_index"] == 21

    # An hour after the first burst the window has room again.
    later = decide(ws, trusted=keys.ciso_pub, now="2026-11-10T13:39:00Z")
    assert later["tier"] == "notify", codes(later)


# --- organisational events and re-validation


def test_event_requires_revalidation_until_resigned(ws: Path, keys: Keys) -> None:
    write_json(ws / "list.json", example_request(action="iam:ListRoles", step="find-stale"))
    d = decide(ws, request="list.json", trusted=keys.ciso_pub)
    assert d["tier"] == "autonomous" and codes(d) == ["RULE_MATCHED"]

    proc = ok(
        remit(
            "event", "add", "--kind", "acquisition", "--at", "2026-11-05T00:00:00Z",
            "--note", "Bought Acquired Co [incl. its AWS org]", "--db", "ledger.db",
            cwd=ws,
        )
    )  # fmt: skip
    ev = json.loads(proc.stdout)
    assert ev["recorded"] is True and ev["kind"] == "acquisition"
    assert ev["index"] == d["ledger_index"] + 1

    d = decide(ws, request="list.json", trusted=keys.ciso_pub)
    assert d["tier"] == "approve"
    assert "ENVELOPE_REVALIDATION_PENDING" in codes(d)

    st_proc = ok(
        remit(
            "envelope", "status", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
            "--now", NOW, "--db", "ledger.db", "--json",
            cwd=ws,
        ),
        1,
    )  # fmt: skip
    st = json.loads(st_proc.stdout)
    assert st["pending_revalidation"] == [
        {
            "kind": "acquisition",
            "at": "2026-11-05T00:00:00Z",
            "note": "Bought Acquired Co [incl. its AWS org]",
        }
    ]
    assert st["healthy"] is False
    text = ok(
        remit(
            "envelope", "status", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
            "--now", NOW, "--db", "ledger.db",
            cwd=ws,
        ),
        1,
    ).stdout  # fmt: skip
    assert "Re-validation pending" in text
    row = next(line for line in text.splitlines() if "2026-11-05T00:00:00Z" in line)
    assert "acquisition" in row and "Bought Acquired Co [incl. its AWS org]" in row, row

    ok(
        remit(
            "envelope", "sign", "envelope.yaml", "--key", keys.ciso_key,
            "--signer", "ciso@example.com", "--role", "CISO", "--at", "2026-11-06T00:00:00Z",
            cwd=ws,
        )
    )  # fmt: skip
    d = decide(ws, request="list.json", trusted=keys.ciso_pub)
    assert d["tier"] == "autonomous" and codes(d) == ["RULE_MATCHED"]
    st = json.loads(
        ok(
            remit(
                "envelope", "status", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
                "--now", NOW, "--db", "ledger.db", "--json",
                cwd=ws,
            )
        ).stdout
    )  # fmt: skip
    assert st["pending_revalidation"] == [] and st["healthy"] is True
    assert st["last_review"] == "2026-11-06T00:00:00Z"


def test_event_not_in_revalidate_on_is_ignored(ws: Path, keys: Keys) -> None:
    write_json(ws / "list.json", example_request(action="iam:ListRoles", step="find-stale"))
    ok(remit("event", "add", "--kind", "office_move", "--custom", "--at", "2026-11-05T00:00:00Z",
             "--db", "ledger.db", "--init", cwd=ws))  # fmt: skip
    d = decide(ws, request="list.json", trusted=keys.ciso_pub)
    assert d["tier"] == "autonomous", codes(d)


def test_event_add_rejects_bad_kind(tmp_path: Path) -> None:
    proc = ok(remit("event", "add", "--kind", "Acquisition!", "--db", "ledger.db", cwd=tmp_path), 2)
    assert "--kind" in proc.stderr and "Acquisition!" in proc.stderr
    proc = ok(
        remit(
            "event", "add", "--kind", "acquisition", "--at", "soon", "--db", "l.db", cwd=tmp_path
        ),
        2,
    )
    assert "--at" in proc.stderr
    assert list(tmp_path.iterdir()) == []
