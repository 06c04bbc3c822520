"""`remit demo`: the embedded walk-through runs end to end and leaves a verifiable ledger."""

from __future__ import annotations

from pathlib import Path

from tests.cli.clikit import ok, remit


def test_demo_runs_and_its_ledger_verifies(tmp_path: Path) -> None:
    proc = ok(remit("demo", "--workdir", "scratch", cwd=tmp_path))
    for word in (
        "AUTONOMOUS", "NOTIFY", "APPROVE", "DENY", "Ledger verified", "/ui/",
        "demo-approver key rk_", "Evidence pack verified offline",
        "Drift detected for remediator", "autonomy is demoted",
        "Review sample", "Verdict 'appropriate'", "would have flipped",
    ):  # fmt: skip
        assert word in proc.stdout, word
    # It ends by reconciling its own trail: the AI role's call outside Remit is flagged.
    assert "CloudTrail reconciliation" in proc.stdout
    assert "unexplained: " in proc.stdout and "/outside-remit iam:ListRoles" in proc.stdout
    work = tmp_path / "scratch"
    assert (work / "log.pub").is_file() and (work / "remit.db").is_file()
    assert not (tmp_path / ".remit").exists()  # only the folder it was given
    assert "<svg" in (work / "governance-report.html").read_text()
    proc = ok(
        remit(
            "evidence", "verify", work / "evidence-soc2.zip", "--public-key", work / "log.pub",
            cwd=tmp_path,
        )
    )  # fmt: skip
    assert proc.stdout.startswith("OK")

    proc = ok(
        remit(
            "ledger", "verify", "--db", work / "remit.db", "--public-key", work / "log.pub",
            cwd=tmp_path,
        )
    )  # fmt: skip
    assert proc.stdout.startswith("OK:")


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """The demo recreates its --workdir; it must not delete a user's files or real ledger."""
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    proc = ok(remit("demo", "--workdir", "project", cwd=tmp_path), 2)
    assert "--workdir" in proc.stderr
    assert (mine / "notes.txt").read_text() == "precious"

    ledger = tmp_path / ".remit"
    ledger.mkdir()
    (ledger / "remit.db").write_bytes(b"a real ledger")
    ok(remit("demo", "--workdir", ".remit", cwd=tmp_path), 2)
    assert (ledger / "remit.db").read_bytes() == b"a real ledger"
