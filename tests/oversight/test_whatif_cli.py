"""`remit envelope whatif` (issue 15 §4): the real command over a recorded ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.clikit import remit
from tests.conftest import EXAMPLES
from tests.oversight.history import History, record_history

from remit.envelope import LoadedEnvelope

SINCE = "2026-11-21T00:00:00Z"


@pytest.fixture
def recorded(tmp_path: Path, example: LoadedEnvelope, make_request) -> History:  # type: ignore[no-untyped-def]
    h = record_history(tmp_path / "ledger.db", example, make_request)
    text = (EXAMPLES / "envelope.yaml").read_text()
    tight = text.replace("max_actions: 20, per: PT1H", "max_actions: 10, per: PT1H")
    (tmp_path / "tight.yaml").write_text(tight)
    return h


def test_json_lists_flips_with_ledger_indexes(tmp_path: Path, recorded: History) -> None:
    before = recorded.store.size()
    proc = remit(
        "envelope", "whatif", "tight.yaml", "--db", "ledger.db", "--since", SINCE,
        "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["replayed"] == 28 and out["flipped"] == 10
    assert out["by_tiers"] == [{"old_tier": "notify", "new_tier": "approve", "count": 10}]
    assert {f["ledger_index"] for f in out["flips"]} == {
        recorded.indexes[f"revoke-{i}"] for i in range(10, 20)
    }
    assert recorded.store.size() == before  # never writes


def test_workers_change_nothing_in_the_report(tmp_path: Path, recorded: History) -> None:
    outs = []
    for workers in ("1", "3"):
        proc = remit(
            "envelope", "whatif", "tight.yaml", "--db", "ledger.db", "--since", SINCE,
            "--workers", workers, "--format", "json", cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs.append(json.loads(proc.stdout))
    assert outs[0] == outs[1] and outs[0]["flipped"] == 10


def test_table_names_each_count(tmp_path: Path, recorded: History) -> None:
    proc = remit(
        "envelope", "whatif", "tight.yaml", "--db", "ledger.db", "--since", SINCE, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "28 decisions replayed, 10 flipped (10 stricter, 0 looser)" in proc.stdout
    assert "R7-revoke-stale" in proc.stdout and "notify → approve" in proc.stdout


def test_a_proposal_that_does_not_parse_is_refused(tmp_path: Path, recorded: History) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: remit.dev/v1\nkind: Envelope\nmetadata: [")
    before = recorded.store.size()
    proc = remit("envelope", "whatif", "bad.yaml", "--db", "ledger.db", cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "envelope is not valid" in proc.stderr
    assert recorded.store.size() == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "ninety days"], "--since"),
        (["--format", "xml"], "--format"),
        (["--db", "missing.db"], "no ledger"),
        (["--since", SINCE, "--until", "2026-11-20T00:00:00Z"], "--until"),
        (["--since", SINCE, "--workers", "0"], "--workers"),
    ],
)
def test_bad_options_are_named(
    tmp_path: Path, recorded: History, args: list[str], words: str
) -> None:
    full = ["--db", "ledger.db", *args] if "--db" not in args else args
    proc = remit("envelope", "whatif", "tight.yaml", *full, cwd=tmp_path)
    assert proc.returncode == 2 and words in proc.stderr


def test_sign_shows_the_impact_first(tmp_path: Path, recorded: History) -> None:
    from remit.signing.keys import generate_signing_key, write_key_pair

    write_key_pair(tmp_path / "ciso", generate_signing_key("example.com/ciso"))
    proc = remit(
        "envelope", "sign", "tight.yaml", "--key", "ciso.key", "--signer", "ciso@example.com",
        "--role", "CISO", "--at", "2026-11-25T00:00:00Z", "--db", "ledger.db", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "28 decisions replayed, 10 would change (notify → approve: 10)" in proc.stderr
    assert (tmp_path / "tight.yaml.signoffs.json").exists()
