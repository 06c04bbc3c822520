"""Policy authoring: `remit envelope test` (request → expected-tier fixtures, like `opa
test`), `remit envelope diff` (what changed, in plain words, and who gains or loses
autonomy) and "did you mean" for unknown keys, tiers, actions and commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from tests.cli.clikit import edit, example_request, ok, remit, write_json


def _cases(ws: Path, expect_list: str = "autonomous") -> Path:
    write_json(ws / "list.json", example_request(action="iam:ListRoles", step="find-stale"))
    cases = {
        "now": "2026-11-10T12:00:00Z",
        "cases": [
            {
                "name": "revoke a stale role: people are told",
                "request": "request.json",
                "expect": "notify",
                "codes": ["SEVERITY_FLOOR"],
            },
            {"name": "list roles alone", "request": "list.json", "expect": expect_list},
            {
                "name": "a stranger is denied",
                "request": example_request(agent="stranger"),
                "expect": "deny",
                "codes": ["UNKNOWN_AGENT"],
            },
        ],
    }
    (ws / "cases.yaml").write_text(yaml.safe_dump(cases), "utf-8")
    return ws / "cases.yaml"


def test_envelope_test_passes_and_fails(unsigned_ws: Path) -> None:
    ws = unsigned_ws
    _cases(ws)
    out = json.loads(
        ok(
            remit("envelope", "test", "envelope.yaml", "cases.yaml", "--format", "json", cwd=ws)
        ).stdout
    )
    assert (out["passed"], out["failed"]) == (3, 0)
    _cases(ws, expect_list="approve")
    proc = ok(remit("envelope", "test", "envelope.yaml", "cases.yaml", cwd=ws), 1)
    assert "2/3 passed" in proc.stdout and "FAIL" in proc.stdout
    (ws / "bad.yaml").write_text("cases: [{request: request.json, expect: aproved}]\n")
    bad = ok(remit("envelope", "test", "envelope.yaml", "bad.yaml", cwd=ws), 2)
    assert "cases[0]" in bad.stderr and "expect must be one of" in bad.stderr
    assert not (ws / ".remit").exists()  # nothing recorded anywhere


def test_envelope_diff_in_plain_words(unsigned_ws: Path) -> None:
    ws = unsigned_ws
    shutil.copy(ws / "envelope.yaml", ws / "new.yaml")
    same = ok(remit("envelope", "diff", "envelope.yaml", "new.yaml", cwd=ws))
    assert "No changes." in same.stdout
    edit(ws / "new.yaml", "  version: 7", "  version: 8")
    edit(
        ws / "new.yaml",
        "    when: {min_confidence: 0.8}\n    tier: autonomous",
        "    when: {min_confidence: 0.8}\n    tier: approve",
    )
    out = json.loads(
        ok(
            remit("envelope", "diff", "envelope.yaml", "new.yaml", "--format", "json", cwd=ws)
        ).stdout
    )
    assert "metadata.version: 7 → 8" in out["changes"]
    assert "rule R7-revoke-stale: tier 'autonomous' → 'approve'" in out["changes"]
    (shift,) = out["agents"]
    assert shift["agent"] == "remediator" and shift["gains"] == []
    assert set(shift["loses"]) == {"iam:DetachRolePolicy", "iam:DeleteRolePolicy"}
    text = ok(remit("envelope", "diff", "new.yaml", "envelope.yaml", cwd=ws)).stdout
    assert "agent remediator GAINS autonomy over 2 action(s)" in text


def test_did_you_mean(unsigned_ws: Path) -> None:
    ws = unsigned_ws
    edit(ws / "envelope.yaml", "  unmatched: deny", "  unmatchd: deny")
    proc = ok(remit("envelope", "check", "envelope.yaml", cwd=ws), 2)
    assert "defaults.unmatchd" in proc.stderr and "did you mean 'unmatched'?" in proc.stderr
    edit(ws / "envelope.yaml", "  unmatchd: deny", "  unmatched: deny")
    edit(
        ws / "envelope.yaml",
        '["iam:DetachRolePolicy", "iam:DeleteRolePolicy"]\n    resources',
        '["iam:DetachRolePolcy", "iam:DeleteRolePolicy"]\n    resources',
    )
    proc = ok(remit("envelope", "check", "envelope.yaml", cwd=ws), 2)
    assert "did you mean 'iam:DetachRolePolicy'?" in proc.stderr
    proc = ok(remit("decisons", "list", cwd=ws), 2)
    assert "Did you mean 'decisions'?" in proc.stderr
