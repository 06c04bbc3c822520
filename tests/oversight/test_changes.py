"""The change review (issue 15 §3): what is new in a period against the history before
it, signed off once per period by a reviewer, and overdue in `remit envelope status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.clikit import remit
from tests.conftest import NOW
from tests.oversight.history import History, record_history

from remit.envelope import LoadedEnvelope
from remit.errors import Conflict, Unprocessable
from remit.ledger.kinds import ChangeReviewRecord
from remit.oversight.change_review import (
    change_report,
    overdue_change,
    report_digest,
    sign_change_review,
)

DAY = timedelta(days=1)


@pytest.fixture
def history(tmp_path: Path, example: LoadedEnvelope, make_request) -> History:  # type: ignore[no-untyped-def]
    return record_history(tmp_path / "ledger.db", example, make_request)


def test_everything_is_new_in_the_first_period(history: History) -> None:
    rep = change_report(history.store, NOW - DAY, NOW + DAY)
    got = {(c.category, c.value) for c in rep.changes}
    assert ("agent", "remediator") in got and ("service", "iam") in got
    assert ("model", "claude-sonnet@2026-10-01") in got
    assert ("model", "claude-sonnet@2027-01-01") in got  # the undeclared one
    assert ("step", "iam-hygiene/find-stale") in got and ("step", "iam-hygiene/revoke-stale") in got
    assert {("action", "iam:ListRoles"), ("action", "iam:DetachRolePolicy")} <= got
    assert rep.counts()["envelope"] == 1
    first_model = next(c for c in rep.changes if c.value == "claude-sonnet@2027-01-01")
    assert first_model.index == history.indexes["new-model"]


def test_a_later_period_shows_only_what_is_new(history: History) -> None:
    split = NOW + timedelta(minutes=26)  # the new model's decision is at +26 min
    rep = change_report(history.store, split, NOW + DAY)
    assert [(c.category, c.value) for c in rep.changes] == [("model", "claude-sonnet@2027-01-01")]
    assert change_report(history.store, NOW + DAY, NOW + 2 * DAY).changes == []


def test_sign_off_once_per_closed_period(history: History) -> None:
    since, until = NOW - DAY, NOW + DAY
    with pytest.raises(Unprocessable, match="after now"):
        sign_change_review(history.ledger, since, until, "reviewer:rita", "", NOW)
    got = sign_change_review(history.ledger, since, until, "reviewer:rita", "ok", until + DAY)
    rec = history.store.entry(got.index).read().record
    assert isinstance(rec, ChangeReviewRecord)
    assert rec.report_sha256 == report_digest(change_report(history.store, since, until))
    size = history.store.size()
    with pytest.raises(Conflict, match="signed off by reviewer:rita"):
        sign_change_review(history.ledger, since, until, "reviewer:bob", "", until + DAY)
    assert history.store.size() == size


def test_an_unreviewed_change_past_the_cadence_is_overdue(history: History) -> None:
    every = timedelta(days=90)
    assert overdue_change(history.store, NOW + DAY, every) is None  # too recent
    late = overdue_change(history.store, NOW + 91 * DAY, every)
    assert late is not None and late.category == "agent"
    sign_change_review(history.ledger, NOW - DAY, NOW + DAY, "reviewer:rita", "", NOW + 2 * DAY)
    assert overdue_change(history.store, NOW + 91 * DAY, every) is None


def test_cli_changes_sign_and_envelope_status(tmp_path: Path, history: History) -> None:
    args = [
        "--since",
        "2026-11-20T00:00:00Z",
        "--until",
        "2026-11-22T00:00:00Z",
        "--db",
        "ledger.db",
    ]
    p = remit("review", "changes", *args, "--format", "json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["counts"]["model"] == 2
    p = remit("review", "changes", *args, "--sign", cwd=tmp_path)
    assert p.returncode == 2 and "--reviewer" in p.stderr
    p = remit(
        "review", "changes", *args, "--sign", "--reviewer", "rita@example.com",
        "--now", "2026-11-23T00:00:00Z", "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["signed_off"]["by"] == "reviewer:rita@example.com"
    p = remit("review", "changes", *args, "--sign", "--reviewer", "bob", cwd=tmp_path)
    assert p.returncode == 2 and "signed off by" in p.stderr


def test_envelope_status_shows_an_overdue_change_review(tmp_path: Path, history: History) -> None:
    from tests.cli.clikit import copy_examples

    copy_examples(tmp_path)
    base = ["envelope", "status", "envelope.yaml", "--db", "ledger.db"]
    later = (datetime(2026, 11, 21, tzinfo=UTC) + 100 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = remit(*base, "--now", later, "--json", cwd=tmp_path)
    out = json.loads(p.stdout)
    assert p.returncode == 1  # (unsigned here too; the overdue review alone also fails it)
    assert out["change_review_overdue"]["category"] == "agent"
    p = remit(*base, "--now", later, cwd=tmp_path)
    assert "Change review OVERDUE" in p.stdout
