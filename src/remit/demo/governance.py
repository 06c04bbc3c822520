"""The demo's governance view, after the agent's run: the governance report of the run
written as HTML, and a SOC 2 evidence pack written and then verified offline — as an
auditor would, with only the pack and the log's public key. Both exports are ledger
entries (kind `access`)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from remit.domain.clock import utcnow
from remit.envelope import load_envelope
from remit.envelope.signoff import check_signoffs, read_signoffs, signoffs_path
from remit.envelope.status import envelope_status
from remit.evidence.pack import gather, make_pack
from remit.evidence.verify import verify_pack
from remit.ledger.kinds import AccessRecord
from remit.ledger.log import Ledger
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import verify_store
from remit.report.build import build_report
from remit.report.period import between
from remit.report.render import to_html
from remit.signing.keys import SigningKey, VerifierKey

REPORT = "governance-report.html"
PACK = "evidence-soc2.zip"


def governance_outputs(
    console: Console,
    workdir: Path,
    envelope: Path,
    ciso: VerifierKey,
    log_key: SigningKey,
    started: datetime,
) -> bool:
    """Write the report and the pack for the demo's run; True if the pack verified."""
    store = SqliteStore(workdir / "remit.db")
    try:
        until = utcnow()
        period = between((started - timedelta(minutes=1)).isoformat(), until.isoformat())
        loaded = load_envelope(envelope)
        trust, checks = check_signoffs(
            loaded, read_signoffs(signoffs_path(envelope)), [ciso], until
        )
        kinds = frozenset(loaded.envelope.metadata.revalidate_on)
        status = envelope_status(loaded, trust, checks, store.events_after(None, kinds), until)
        integrity = verify_store(store, log_key.verifier())
        rules = [r.id for r in loaded.envelope.rules]
        html = to_html(build_report(store, period, until, status, rules, integrity)).encode()
        (workdir / REPORT).write_bytes(html)
        at = utcnow()
        store.append(
            [
                make_entry(
                    AccessRecord(
                        "report",
                        "demo",
                        "cli",
                        {
                            "period": period.name,
                            "format": "html",
                            "sha256": hashlib.sha256(html).hexdigest(),
                        },
                    ),
                    at,
                    "demo",
                )
            ]
        )
        store.append(
            [
                make_entry(
                    AccessRecord(
                        "evidence", "demo", "cli", {"framework": "soc2", **period.to_dict()}
                    ),
                    at,
                    "demo",
                )
            ]
        )
        end = Ledger(store, log_key).checkpoint(at)
        inputs = gather(store, "soc2", period, log_key.name, end)
        pack = make_pack(inputs)
        (workdir / PACK).write_bytes(pack)
    finally:
        store.close()
    checked = verify_pack(pack, log_key.verifier())
    verdict = (
        f"[green]Evidence pack verified offline[/]: {len(inputs.inclusion)} decisions, each "
        "with its inclusion proof; the period is complete; every file matches its SHA-256"
        if checked.ok
        else "[red]Evidence pack verification FAILED[/]: " + "; ".join(checked.problems)
    )
    console.print(
        Panel.fit(
            f"Governance report (HTML): {workdir / REPORT}\n"
            f"SOC 2 evidence pack: {workdir / PACK} ({len(pack)} bytes)\n{verdict}\n\n"
            f"Check it yourself: remit evidence verify {workdir / PACK} "
            f"--public-key {workdir / 'log.pub'}",
            title="The governance view",
        )
    )
    return checked.ok
