"""`remit drift` and `remit drift review` (issue 15 §1, §5): the real commands."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.clikit import remit
from tests.oversight.history import drifting_envelope_text, record_drifting


def test_drift_flags_records_once_and_review_ends_it(tmp_path: Path, make_request) -> None:  # type: ignore[no-untyped-def]
    ledger, _, _ = record_drifting(tmp_path / "ledger.db", make_request)
    (tmp_path / "envelope.yaml").write_text(drifting_envelope_text())
    base = ["--envelope", "envelope.yaml", "--db", "ledger.db", "--format", "json"]
    p = remit("drift", *base, cwd=tmp_path)
    assert p.returncode == 1, p.stderr  # flagged
    out = json.loads(p.stdout)
    state = out["agents"][0]
    assert state["agent"] == "remediator" and state["flagged"]
    assert state["alarm"]["statistic"] >= state["alarm"]["threshold"]
    fired = state["alarm"]["signal"]
    assert fired in state["elevated"] and [s["fired"] for s in state["signals"]].count(True) == 1
    table = remit("drift", *base[:-2], cwd=tmp_path)
    assert table.returncode == 1 and f"({fired})" in table.stdout
    assert out["plan"]["arl0"] == 1000 and out["recorded"] == []
    size = ledger.store.size()
    assert size == 601  # reading records nothing

    p = remit("drift", "--record", *base, cwd=tmp_path)
    recorded = json.loads(p.stdout)["recorded"]
    assert len(recorded) == 1 and ledger.store.size() == size + 2
    p = remit("drift", "--record", *base, cwd=tmp_path)
    assert json.loads(p.stdout)["recorded"] == [] and ledger.store.size() == size + 2

    fid = recorded[0]["finding_id"]
    args = ["--reviewer", "ciso@example.com", "--db", "ledger.db"]
    p = remit("drift", "review", fid, "--comment", "new model, accepted", *args, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = remit("drift", "review", fid, "--comment", "again", *args, cwd=tmp_path)
    assert p.returncode == 2 and "already reviewed" in p.stderr
    p = remit("drift", "review", "drift-x", "--comment", "?", *args, cwd=tmp_path)
    assert p.returncode == 2 and "drift-x" in p.stderr
    p = remit("drift", *base, cwd=tmp_path)
    assert p.returncode == 0 and not json.loads(p.stdout)["agents"][0]["flagged"]
    p = remit("drift", "--agent", "nobody", "--db", "ledger.db", cwd=tmp_path)
    assert p.returncode == 2 and "nobody" in p.stderr
