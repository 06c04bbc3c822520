"""`remit envelope check|sign|status|schema` and `remit inventory`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.cli.clikit import (
    EXAMPLES,
    EXPIRES,
    NEXT_REVIEW_DUE,
    NOW,
    SIGNED_AT,
    cli_env,
    edit,
    ok,
    remit,
    tree_files,
)
from tests.cli.conftest import Keys

CONFLICTING_REGULATION = """    forbid_tiers: [autonomous, notify]
  - id: SOX-roles
    match: {resources: ["arn:aws:iam::111122223333:role/*"]}
    forbid_tiers: [autonomous]
"""


def sign(cwd: Path, keys: Keys, *extra: str, envelope: str = "envelope.yaml") -> Any:
    return remit(
        "envelope", "sign", envelope, "--key", keys.ciso_key,
        "--signer", "ciso@example.com", "--role", "CISO", *extra,
        cwd=cwd,
    )  # fmt: skip


def status(cwd: Path, keys: Keys, *extra: str) -> Any:
    return remit(
        "envelope", "status", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
        "--db", "ledger.db", *extra,
        cwd=cwd,
    )  # fmt: skip


def status_json(cwd: Path, keys: Keys, *extra: str, code: int = 0) -> dict[str, Any]:
    return json.loads(ok(status(cwd, keys, "--json", *extra), code).stdout)


# --- check


def test_check_accepts_the_example(unsigned_ws: Path) -> None:
    proc = ok(remit("envelope", "check", "envelope.yaml", cwd=unsigned_ws))
    assert "valid" in proc.stdout
    assert "prod-security-automation v7" in proc.stdout
    assert re.search(r"sha256:[0-9a-f]{64}", proc.stdout)
    assert "conflict" not in proc.stdout


BAD_ENVELOPES = [
    # (id, old text, new text, line, words the message must contain)
    ("yaml", "models: [{name", "models: [{{name", 26, ["invalid YAML"]),
    ("unknown-field", "kind: Envelope\n", "kind: Envelope\ncolour: blue\n", 5, ["colour"]),
    ("wrong-type", "version: 7", "version: seven", 7, ["metadata.version", "integer"]),
    ("duration", "review_every: P90D", "review_every: 90 days", 10, ["review_every", "90 days"]),
    (
        "arn",
        "service_account: arn:aws:iam::",
        "service_account: arm:aws:iam::",
        25,
        ["service_account", "ARN"],
    ),
    (
        "duplicate-key",
        "  version: 7\n",
        "  version: 7\n  version: 8\n",
        8,
        ["duplicate", "version"],
    ),
    (
        "no-such-action",
        'actions: ["iam:DetachRolePolicy", "iam:DeleteRolePolicy"]\n    resources',
        'actions: ["iam:DetachRolePolicyy", "iam:DeleteRolePolicy"]\n    resources',
        42,
        ["rules[1].actions[0]", "iam:DetachRolePolicyy"],
    ),
    (
        "yaml-set-tag",
        "autonomous: [summary, signals, confidence, alternatives]",
        "autonomous: !!set {summary, signals}",
        19,
        ["tag:yaml.org,2002:set", "not allowed"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [case[1:] for case in BAD_ENVELOPES],
    ids=[case[0] for case in BAD_ENVELOPES],
)
def test_check_rejects_bad_envelopes_with_file_and_line(
    unsigned_ws: Path, old: str, new: str, line: int, words: list[str]
) -> None:
    edit(unsigned_ws / "envelope.yaml", old, new)
    before = tree_files(unsigned_ws)
    proc = ok(remit("envelope", "check", "envelope.yaml", cwd=unsigned_ws), 2)
    assert re.search(rf"envelope\.yaml:{line}(:\d+)?:", proc.stderr), proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert "valid:" not in proc.stdout
    assert tree_files(unsigned_ws) == before


def test_check_missing_file(tmp_path: Path) -> None:
    proc = ok(remit("envelope", "check", "nope.yaml", cwd=tmp_path), 2)
    assert "nope.yaml" in proc.stderr
    assert tree_files(tmp_path) == {}


def test_check_reports_conflict_and_sign_refuses(unsigned_ws: Path, keys: Keys) -> None:
    edit(
        unsigned_ws / "envelope.yaml",
        "    forbid_tiers: [autonomous, notify]\n",
        CONFLICTING_REGULATION,
    )
    proc = ok(remit("envelope", "check", "envelope.yaml", cwd=unsigned_ws), 1)
    conflicts = [line for line in proc.stdout.splitlines() if line.startswith("conflict")]
    assert any("R7-revoke-stale" in c and "SOX-roles" in c for c in conflicts), proc.stdout
    assert all("autonomous" in c for c in conflicts)

    before = tree_files(unsigned_ws)
    proc = ok(sign(unsigned_ws, keys, "--at", SIGNED_AT), 1)
    assert "refusing to sign" in proc.stderr and "SOX-roles" in proc.stderr
    assert tree_files(unsigned_ws) == before  # no sign-offs file


# --- sign


def test_sign_appends_detached_signoffs(unsigned_ws: Path, keys: Keys) -> None:
    proc = ok(sign(unsigned_ws, keys, "--at", SIGNED_AT))
    assert "ciso@example.com" in proc.stdout and "envelope.yaml.signoffs.json" in proc.stdout
    path = unsigned_ws / "envelope.yaml.signoffs.json"
    first = json.loads(path.read_text())["signoffs"]
    assert len(first) == 1
    s = first[0]
    assert (s["signer"], s["role"], s["at"]) == ("ciso@example.com", "CISO", SIGNED_AT)
    assert s["key"] == "example.com/ciso"
    assert s["key_id"] == keys.ciso_vkey.split("+")[1]
    assert s["envelope"]["name"] == "prod-security-automation" and s["envelope"]["version"] == 7
    assert s["envelope"]["digest"].startswith("sha256:")
    # The envelope itself is untouched: the sign-off is detached.
    assert (unsigned_ws / "envelope.yaml").read_bytes() == (EXAMPLES / "envelope.yaml").read_bytes()

    ok(sign(unsigned_ws, keys, "--at", "2026-11-02T00:00:00Z"))
    both = json.loads(path.read_text())["signoffs"]
    assert both[0] == s
    assert [x["at"] for x in both] == [SIGNED_AT, "2026-11-02T00:00:00Z"]


def test_sign_digest_matches_check(ws: Path) -> None:
    proc = ok(remit("envelope", "check", "envelope.yaml", cwd=ws))
    digest = json.loads((ws / "envelope.yaml.signoffs.json").read_text())["signoffs"][0]["envelope"]
    assert digest["digest"] in proc.stdout.replace("\n", "")


def test_sign_bad_inputs_write_nothing(unsigned_ws: Path, keys: Keys) -> None:
    before = tree_files(unsigned_ws)
    proc = ok(
        remit(
            "envelope", "sign", "envelope.yaml", "--key", "missing.key",
            "--signer", "ciso@example.com", "--role", "CISO", "--at", SIGNED_AT,
            cwd=unsigned_ws,
        ),
        2,
    )  # fmt: skip
    assert "--key" in proc.stderr and "missing.key" in proc.stderr
    proc = ok(sign(unsigned_ws, keys, "--at", "next tuesday"), 2)
    assert "--at" in proc.stderr
    assert tree_files(unsigned_ws) == before


# --- status


def test_status_healthy_table(ws: Path, keys: Keys) -> None:
    proc = ok(status(ws, keys, "--now", NOW))
    out = proc.stdout
    for text in (
        "prod-security-automation v7",
        "ciso@example.com",  # owner and signer
        "Credential theft",
        f"Last review   {SIGNED_AT}",
        f"next due {NEXT_REVIEW_DUE}",
        EXPIRES,
        "Re-validation: nothing pending.",
        "Conflicts with regulations: none.",
    ):
        assert text in out, (text, out)
    signoff_rows = [line for line in out.splitlines() if "CISO" in line and SIGNED_AT in line]
    assert len(signoff_rows) == 1 and "yes" in signoff_rows[0], out
    assert "OVERDUE" not in out and "EXPIRED" not in out
    assert not (ws / "ledger.db").exists(), "status must not create a ledger"


def test_status_json_healthy(ws: Path, keys: Keys) -> None:
    st = status_json(ws, keys, "--now", NOW)
    assert st["owner"] == "ciso@example.com"
    assert st["authority"] is True and st["healthy"] is True
    assert st["last_review"] == SIGNED_AT
    assert st["next_review_due"] == NEXT_REVIEW_DUE
    assert st["expires_at"] == EXPIRES
    assert st["review_overdue"] is False and st["expired"] is False
    assert st["pending_revalidation"] == [] and st["conflicts"] == []
    assert len(st["signoffs"]) == 1
    so = st["signoffs"][0]
    assert so["valid"] is True and so["problem"] is None
    assert so["signer"] == "ciso@example.com" and so["at"] == SIGNED_AT
    assert so["key"] == "+".join(keys.ciso_vkey.split("+")[:2])


def test_status_overdue_and_expired(ws: Path, keys: Keys) -> None:
    st = status_json(ws, keys, "--now", "2027-02-15T00:00:00Z", code=1)
    assert st["review_overdue"] is True and st["expired"] is False and st["healthy"] is False
    proc = ok(status(ws, keys, "--now", "2027-02-15T00:00:00Z"), 1)
    assert "OVERDUE" in proc.stdout
    st = status_json(ws, keys, "--now", "2027-03-02T00:00:00Z", code=1)
    assert st["expired"] is True


def test_status_untrusted_key_and_edited_envelope(ws: Path, keys: Keys) -> None:
    proc = ok(
        remit(
            "envelope", "status", "envelope.yaml", "--trusted-keys", keys.other_pub,
            "--now", NOW, "--json",
            cwd=ws,
        ),
        1,
    )  # fmt: skip
    st = json.loads(proc.stdout)
    assert st["authority"] is False and st["signoffs"][0]["valid"] is False
    assert "trusted" in st["signoffs"][0]["problem"]

    edit(ws / "envelope.yaml", "    tier: deny\n", "    tier: approve\n")
    st = status_json(ws, keys, "--now", NOW, code=1)
    assert st["authority"] is False
    assert st["signoffs"][0]["valid"] is False and st["signoffs"][0]["problem"]
    proc = ok(status(ws, keys, "--now", NOW), 1)
    row = next(line for line in proc.stdout.splitlines() if SIGNED_AT in line and "CISO" in line)
    assert "no:" in row and "yes" not in row, row
    assert "Authority     NO" in proc.stdout


def test_status_shows_conflicts(unsigned_ws: Path, keys: Keys) -> None:
    edit(
        unsigned_ws / "envelope.yaml",
        "    forbid_tiers: [autonomous, notify]\n",
        CONFLICTING_REGULATION,
    )
    st = status_json(unsigned_ws, keys, "--now", NOW, code=1)
    assert any("R7-revoke-stale" in c and "SOX-roles" in c for c in st["conflicts"])
    assert st["signoffs"] == [] and st["authority"] is False


def test_status_shows_user_text_literally(unsigned_ws: Path, keys: Keys) -> None:
    """Signer names and notes are data, not Rich markup: '[bold]…' must not vanish."""
    ok(
        remit(
            "envelope", "sign", "envelope.yaml", "--key", keys.ciso_key,
            "--signer", "[bold]eve@example.com", "--role", "[red]CISO", "--at", SIGNED_AT,
            cwd=unsigned_ws,
        )
    )  # fmt: skip
    proc = ok(status(unsigned_ws, keys, "--now", NOW))
    assert "[bold]eve@example.com" in proc.stdout, proc.stdout
    assert "[red]CISO" in proc.stdout


# --- schema and inventory


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    proc = ok(remit("envelope", "schema", cwd=tmp_path_factory.mktemp("schema")))
    return json.loads(proc.stdout)


def example_envelope_data() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((EXAMPLES / "envelope.yaml").read_text())


def test_schema_structure(schema: dict[str, Any]) -> None:
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    for prop in ("apiVersion", "kind", "metadata", "defaults", "agents", "workflows", "rules"):
        assert prop in schema["properties"], prop
    assert {"apiVersion", "kind", "metadata"} <= set(schema["required"])
    assert schema.get("additionalProperties") is False


def test_schema_validates_the_example(schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    data = example_envelope_data()
    assert list(validator.iter_errors(data)) == []

    bad = json.loads(json.dumps(data))
    bad["colour"] = "blue"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(data))
    bad["rules"][0]["tier"] = "maybe"
    assert not validator.is_valid(bad)


def test_inventory_table(unsigned_ws: Path) -> None:
    proc = ok(remit("inventory", "envelope.yaml", cwd=unsigned_ws))
    for text in ("remediator", "R1-read", "R7-revoke-stale", "R9-break-glass-role", "autonomous"):
        assert text in proc.stdout, text


def test_inventory_json(unsigned_ws: Path) -> None:
    rows = json.loads(ok(remit("inventory", "envelope.yaml", "--json", cwd=unsigned_ws)).stdout)
    by_rule = {r["rule_id"]: r for r in rows}
    assert set(by_rule) == {"R1-read", "R7-revoke-stale", "R9-break-glass-role"}
    assert {r["agent"] for r in rows} == {"remediator"}
    assert by_rule["R1-read"]["tier"] == "autonomous"
    assert by_rule["R7-revoke-stale"]["tier"] == "autonomous"
    assert by_rule["R7-revoke-stale"]["effective_tier"].startswith("notify")
    assert by_rule["R9-break-glass-role"]["tier"] == "deny"
    assert any("0.8" in c for c in by_rule["R7-revoke-stale"]["conditions"])
    assert all(isinstance(r["conditions"], list) for r in rows)


def test_inventory_of_invalid_envelope(unsigned_ws: Path) -> None:
    edit(unsigned_ws / "envelope.yaml", "version: 7", "version: seven")
    proc = ok(remit("inventory", "envelope.yaml", cwd=unsigned_ws), 2)
    assert "metadata.version" in proc.stderr


def test_status_on_a_narrow_pipe_never_truncates(ws: Path, keys: Keys) -> None:
    """Piped output is 80 columns wide; digests, keys and times must wrap, not end in '…'."""
    proc = ok(
        remit(
            "envelope", "status", "envelope.yaml", "--trusted-keys", keys.ciso_pub,
            "--now", NOW, "--db", "ledger.db",
            cwd=ws, env=cli_env(COLUMNS="80"),
        )
    )  # fmt: skip
    assert "…" not in proc.stdout, proc.stdout
    digest = json.loads((ws / "envelope.yaml.signoffs.json").read_text())["signoffs"][0]
    flat = re.sub(r"[\s│┃]", "", proc.stdout)
    assert digest["envelope"]["digest"] in flat
