"""`remit review sample|verdict|report` (issue 15 §2, §5): the real commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.cli.clikit import remit
from tests.oversight.history import History, record_history

from remit.envelope import LoadedEnvelope
from remit.ledger.log import Ledger
from remit.signing.keys import generate_signing_key

AFTER = datetime(2026, 12, 1, 6, tzinfo=UTC)


@pytest.fixture
def recorded(tmp_path: Path, example: LoadedEnvelope, make_request) -> History:  # type: ignore[no-untyped-def]
    h = record_history(tmp_path / "ledger.db", example, make_request)
    Ledger(h.store, generate_signing_key("log.example.com")).checkpoint(AFTER)
    return h


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    p = remit("review", *args, "--db", "ledger.db", cwd=tmp_path)
    return p.returncode, p.stdout, p.stderr


def test_sample_verdict_report(tmp_path: Path, recorded: History) -> None:
    code, out, err = run(
        tmp_path, "sample", "--period", "2026-11", "--now", "2026-12-02T00:00:00Z",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    drawn = json.loads(out)
    assert drawn["sample_id"] == "rs-20261101T000000Z-20261201T000000Z"
    assert [s["tier"] for s in drawn["strata"]] == ["autonomous", "notify"]
    did = drawn["strata"][1]["decision_ids"][0]
    code, out, err = run(
        tmp_path, "verdict", did, "--verdict", "inappropriate", "--comment", "in use",
        "--reviewer", "rita@example.com", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["actor"] == "reviewer:rita@example.com"
    code, out, err = run(tmp_path, "report", drawn["sample_id"], "--format", "json")
    assert code == 0, err
    rep = json.loads(out)
    notify = next(s for s in rep["strata"] if s["tier"] == "notify")
    assert notify["reviewed"] == 1 and notify["inappropriate"] == 1
    assert rep["suggestions"][0]["text"] == "R7-revoke-stale: 1 of 1 inappropriate → tier approve"
    code, out, _ = run(tmp_path, "report", drawn["sample_id"])
    assert code == 0 and "suggested change: R7-revoke-stale" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sample", "--period", "2026-13"], "--period"),
        (["sample", "--period", "2026-10", "--now", "2026-12-02T00:00:00Z"], "no decisions"),
        (["sample", "--period", "2026-12", "--now", "2026-12-02T00:00:00Z"], "after now"),
        (["sample", "--period", "2026-11", "--tiers", "autonomous,maybe"], "--tiers"),
        (["verdict", "dec-x", "--verdict", "great", "--reviewer", "r"], "--verdict"),
        (["verdict", "dec-x", "--verdict", "appropriate", "--reviewer", "r"], "dec-x"),
        (["report", "rs-nope"], "rs-nope"),
    ],
)
def test_bad_input_is_named_and_nothing_is_recorded(
    tmp_path: Path, recorded: History, args: list[str], words: str
) -> None:
    size = recorded.store.size()
    code, _, err = run(tmp_path, *args)
    assert code == 2 and words in err
    assert recorded.store.size() == size
