"""`remit report` over a ledger made through the real API: the figures (tiers, agents,
rules, approvals quality, thin reasoning, stale envelope, denials, rules never matched),
each format, escaping, the export recorded on the ledger, and bad input refused with
nothing written. The PDF (printed by Chromium) is turned into images and checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import Pki
from tests.server.srvkit import (
    ApiKeys,
    bearer,
    entries_of,
    example_request,
    held_request,
    read_request,
    remit,
)

from remit.server.runtime import Runtime

SCRIPT = "<script>alert('report')</script> unused role writes to buckets"


def _decide(client: TestClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/decisions", json=body, headers=bearer(key))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _resolve(client: TestClient, key: str, did: str, verb: str) -> None:
    r = client.post(f"/v1/approvals/{did}/{verb}", json={"comment": verb}, headers=bearer(key))
    assert r.status_code == 200, r.text


@pytest.fixture
def history(client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any) -> dict[str, Any]:
    """Two reads, one approved at once, one rejected after a minute, one denied, one with
    thin reasoning (a 12-character summary), one summary an attacker wrote."""
    made: dict[str, Any] = {}
    made["reads"] = [_decide(client, api_keys.agent, read_request()) for _ in range(2)]
    fast = _decide(client, api_keys.agent, held_request(summary=SCRIPT))
    _resolve(client, api_keys.alice, fast["id"], "approve")
    slow = _decide(client, api_keys.agent, held_request())
    clock.advance(seconds=60)
    _resolve(client, api_keys.bob, slow["id"], "reject")
    denied_role = [{"arn": "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"}]
    made["denied"] = _decide(client, api_keys.agent, example_request(resources=denied_role))
    assert made["denied"]["tier"] == "deny"
    made["thin"] = _decide(client, api_keys.agent, read_request(summary="looks unused"))
    assert made["thin"]["tier"] == "autonomous", made["thin"]
    made["fast"], made["slow"] = fast, slow
    rt.ledger.checkpoint(clock())
    return made


def _report(
    tmp_path: Path, server_config: Any, pki: Pki, *args: str, code: int = 0
) -> tuple[str, str]:
    r = remit(
        "report", "--envelope", server_config.envelope, "--trusted-keys", pki.ciso_pub,
        "--db", server_config.db, "--now", "2026-11-21T13:00:00Z", "--actor", "auditor:test",
        *args, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == code, r.stdout + r.stderr
    return r.stdout, r.stderr


def test_json_report_figures(
    tmp_path: Path, rt: Runtime, server_config: Any, pki: Pki, history: dict[str, Any],
    api_keys: ApiKeys,
) -> None:  # fmt: skip
    out, _ = _report(
        tmp_path, server_config, pki, "--period", "2026-11", "--format", "json",
        "--public-key", str(pki.log_pub),
    )  # fmt: skip
    doc = json.loads(out)
    assert doc["period"]["since"].startswith("2026-11-01")
    assert doc["decisions"]["total"] == 6
    assert doc["decisions"]["by_tier"] == {"autonomous": 3, "notify": 0, "approve": 2, "deny": 1}
    assert doc["decisions"]["by_agent"]["remediator"]["approve"] == 2
    assert doc["decisions"]["by_rule"]["R1-read"] == 3
    a = doc["approvals"]
    assert (a["resolved"], a["approved"], a["rejected"], a["expired"]) == (2, 1, 1, 0)
    assert a["approved_under_10_seconds"] == [history["fast"]["id"]]
    assert a["median_seconds_to_decide"] == 30.0  # 0 s and 60 s
    assert a["by_approver"] == {
        api_keys.labels["alice"]: {"approved": 1},
        api_keys.labels["bob"]: {"rejected": 1},
    }
    assert a["self_approval_attempts_refused"] == "not recorded on this ledger"
    assert doc["ran_under_stale_or_unsigned_envelope"]["count"] == 0
    assert doc["ran_under_stale_or_unsigned_envelope"]["verdict"].startswith("none")
    thin = doc["thin_reasoning"]
    assert thin["count"] == 1 and thin["decisions"][0]["id"] == history["thin"]["id"]
    assert thin["decisions"][0]["missing"] == ["summary"]
    assert doc["denials"]["count"] == 1 and doc["denials"]["top_reasons"]
    assert doc["rules_never_matched"] == []  # all three rules decided something
    assert doc["envelope"]["authority"] is True
    assert doc["ledger"]["verification"]["status"] == "verified"
    assert doc["ledger"]["last_checkpoint"]["size"] > 0


def test_the_export_is_a_ledger_entry_with_the_digest_of_what_was_written(
    tmp_path: Path, rt: Runtime, server_config: Any, pki: Pki, history: dict[str, Any]
) -> None:
    target = tmp_path / "q4.html"
    _report(tmp_path, server_config, pki, "--period", "2026-Q4", "--out", str(target))
    (entry,) = entries_of(rt.store, "access")
    assert entry["actor"] == "auditor:test"
    data = entry["data"]
    assert (data["action"], data["via"]) == ("report", "cli")
    assert data["detail"]["period"] == "2026-Q4" and data["detail"]["format"] == "html"
    assert data["detail"]["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_html_and_markdown_escape_what_agents_wrote(
    tmp_path: Path, server_config: Any, pki: Pki, history: dict[str, Any]
) -> None:
    html, _ = _report(tmp_path, server_config, pki, "--period", "2026-11", "--format", "html")
    assert "<svg" in html and "Governance report" in html
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html  # self-contained: no asset fetched
    md, _ = _report(tmp_path, server_config, pki, "--period", "2026-11", "--format", "md")
    assert "# Governance report — 2026-11" in md
    assert "| autonomous | 3 |" in md
    assert "<script" not in md


def test_a_period_without_decisions_says_so(
    tmp_path: Path, server_config: Any, pki: Pki, history: dict[str, Any]
) -> None:
    out, err = _report(tmp_path, server_config, pki, "--period", "2025-Q1", "--format", "json")
    assert "no decisions were recorded in 2025-Q1" in err
    doc = json.loads(out)
    assert doc["decisions"]["total"] == 0
    assert doc["approvals"]["median_seconds_to_decide"] is None
    assert doc["rules_never_matched"] == ["R1-read", "R7-revoke-stale", "R9-break-glass-role"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-Q5"], "expected a quarter"),
        (["--period", "2026-13"], "month must be 01 to 12"),
        (["--since", "2026-11-02", "--until", "2026-11-01"], "must be after --since"),
        (["--period", "2026-11", "--format", "docx"], "choose one of"),
        (["--period", "2026-11", "--since", "2026-11-01"], "give --period"),
        (["--period", "2026-11", "--format", "pdf"], "needs --out"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_recorded(
    tmp_path: Path, rt: Runtime, server_config: Any, pki: Pki, history: dict[str, Any],
    args: list[str], message: str,
) -> None:  # fmt: skip
    before = rt.store.size()
    _, err = _report(tmp_path, server_config, pki, *args, code=2)
    assert message in err
    assert rt.store.size() == before


def test_actions_that_ran_under_a_stale_envelope_are_reported(
    tmp_path: Path, client: TestClient, rt: Runtime, server_config: Any, pki: Pki,
    api_keys: ApiKeys, clock: Any,
) -> None:  # fmt: skip
    from datetime import UTC, datetime

    clock.now = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)  # review (P90D) overdue
    d = _decide(client, api_keys.agent, read_request())
    # autonomy is downgraded, not removed: the read runs at notify, under a stale envelope
    assert d["tier"] == "notify" and "ENVELOPE_REVIEW_OVERDUE" in str(d["reasons"])
    held = _decide(client, api_keys.agent, held_request())
    _resolve(client, api_keys.alice, held["id"], "reject")  # did not run: not counted
    r = remit(
        "report", "--envelope", server_config.envelope, "--trusted-keys", pki.ciso_pub,
        "--db", server_config.db, "--now", "2027-02-10T13:00:00Z", "--period", "2027-02",
        "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    stale = json.loads(r.stdout)["ran_under_stale_or_unsigned_envelope"]
    assert stale["count"] == 1
    assert stale["decisions"][0]["id"] == d["id"]
    assert "ENVELOPE_REVIEW_OVERDUE" in stale["decisions"][0]["codes"]


@pytest.mark.browser
def test_pdf_is_printed_by_chromium_and_renders_as_images(
    tmp_path: Path, server_config: Any, pki: Pki, history: dict[str, Any]
) -> None:
    import pypdfium2 as pdfium

    target = tmp_path / "report.pdf"
    _report(tmp_path, server_config, pki, "--period", "2026-11", "--format", "pdf",
            "--out", str(target))  # fmt: skip
    data = target.read_bytes()
    assert data.startswith(b"%PDF-")
    pdf = pdfium.PdfDocument(data)
    assert len(pdf) >= 2
    text = pdf[0].get_textpage().get_text_range()
    assert "Governance report" in text and "2026-11" in text
    for number in range(len(pdf)):  # every page rendered to pixels; none is blank
        bitmap = pdf[number].render(scale=1, grayscale=True)
        pixels = bytes(bitmap.buffer)
        inked = sum(1 for v in pixels if v < 128)
        assert inked > 500, f"page {number + 1} is blank"
        assert bitmap.width > 500 and bitmap.height > 700
