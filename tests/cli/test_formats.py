"""Every command that prints data takes `--format table|json`, one flag the same
everywhere: walked from the command tree itself, so a new command without it fails
here. The commands that print no data, or whose --format picks a document to write,
are listed with the reason. Then each data command is run with --format json on a real
ledger where that is cheap, and its stdout must parse as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.clikit import NOW, ok, remit
from tests.cli.clitree import commands, option
from tests.cli.conftest import Keys

from remit.cli.common import FormatOption, JsonFirstFormatOption, OutputFormat

# Commands that print no data: what they do instead.
NO_DATA: dict[str, str] = {
    "init": "scaffolds files; prints what it wrote and the next commands to run (messages)",
    "serve": "a long-running service; it logs JSON lines on stderr (--log-level)",
    "demo": "a scripted walkthrough for people; its results are the files it writes",
    "rollback": "interactive (asks before it acts); each step is a decision: `decisions show`",
    "envelope schema": "prints the JSON Schema itself: its output is always JSON",
    "ledger bundle": "writes the audit bundle to --out; prints one message",
    "evidence": "writes the evidence pack to --out; prints one message on stderr",
    "cloudtrail export-index": "writes two NDJSON files into --out",
    "cloudtrail moto-trail": "starts or writes the local moto trail; prints one message",
    "mcp proxy": "an MCP stdio proxy: its stdout is the MCP protocol",
}

# Commands whose --format chooses the document they write, not how data is shown.
DOCUMENT_FORMATS: dict[str, str] = {
    "report": "the governance report as html, pdf, md or json",
    "ledger export": "an export as jsonl (exact leaf bytes), ocsf or otel",
}

SHARED = (FormatOption, JsonFirstFormatOption)


def test_every_data_command_takes_the_one_format_flag() -> None:
    tree = commands()
    missing, different = [], []
    for path, func in sorted(tree.items()):
        found = option(func, "--format")
        if path in NO_DATA:
            assert found is None, f"{path} has --format now: take it off NO_DATA"
            continue
        if path in DOCUMENT_FORMATS:
            assert found is not None and "json" in str(found[1].help), path
            continue
        if found is None:
            missing.append(path)
        elif found[0] is not OutputFormat or not any(found[1] is o for o in SHARED):
            different.append(path)
    assert not missing, f"data-printing commands without --format table|json: {missing}"
    assert not different, f"--format not the shared table|json option: {different}"
    stale = (set(NO_DATA) | set(DOCUMENT_FORMATS)) - set(tree)
    assert not stale, f"allow-listed commands that no longer exist: {stale}"


def test_the_tree_walk_sees_nested_and_callback_commands() -> None:
    tree = commands()
    # nested groups, commands added to a group from another module, group callbacks
    assert {"ledger prove", "envelope whatif", "drift", "evidence verify"} <= set(tree)
    assert "events list" not in tree  # the hidden alias is not counted twice


@pytest.fixture
def ledger(ws: Path, keys: Keys) -> Path:
    ok(
        remit(
            "decide", "--envelope", "envelope.yaml", "--request", "request.json",
            "--trusted-keys", keys.ciso_pub, "--now", NOW, "--db", "ledger.db", "--init",
            cwd=ws,
        )
    )  # fmt: skip
    return ws


def test_the_commands_that_gained_format_print_json(ledger: Path, keys: Keys) -> None:
    ws = ledger
    db = ["--db", "ledger.db"]
    runs: list[list[str | Path]] = [
        ["ledger", "checkpoint", *db, "--log-key", keys.log_key, "--format", "json"],
        ["ledger", "prove", "--index", "0", *db, "--format", "json"],
        ["ledger", "consistency", "--from", "1", "--to", "1", *db, "--format", "json"],
        ["ledger", "verify", "--public-key", keys.log_pub, *db, "--format", "json"],
        ["envelope", "check", "envelope.yaml", "--format", "json"],
        ["event", "add", "--kind", "acquisition", *db, "--format", "json"],
        ["keys", "create", "--role", "approver", "--name", "a", *db, "--format", "json"],
        ["keygen", "--out", "k1", "--format", "json"],
    ]
    out = {}
    for args in runs:
        proc = ok(remit(*args, cwd=ws))
        out[" ".join(str(a) for a in args[:2])] = json.loads(proc.stdout)
    assert out["ledger checkpoint"]["size"] >= 1 and "\n\n" in out["ledger checkpoint"]["note"]
    assert out["ledger prove"]["index"] == 0
    assert out["ledger verify"]["ok"] is True
    assert out["envelope check"]["valid"] is True and out["envelope check"]["conflicts"] == []
    assert out["event add"]["kind"] == "acquisition"
    created = out["keys create"]
    assert created["role"] == "approver" and created["key"].startswith("rk_")
    revoked = json.loads(
        ok(remit("keys", "revoke", created["id"], *db, "--format", "json", cwd=ws)).stdout
    )
    assert revoked["revoked"] == created["id"]
    assert out["keygen --out"]["verifier_key"].startswith("remit.local/k1+")
    # the table forms are for people: the proof's fields, not JSON
    table = ok(remit("ledger", "prove", "--index", "0", *db, "--format", "table", cwd=ws)).stdout
    assert "leaf_hash" in table and not table.lstrip().startswith("{")
    # and the flag is the same everywhere: a value outside table|json is bad input
    bad = remit("ledger", "prove", "--index", "0", *db, "--format", "text", cwd=ws)
    assert bad.returncode == 2 and "--format" in bad.stderr
