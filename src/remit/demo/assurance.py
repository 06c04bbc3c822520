"""The demo's last act, the assurance loop over HTTP: a model update nobody declares is
found as drift and autonomy is demoted; a review sample is drawn from a checkpoint signed
after the period and one verdict recorded; a tightened envelope is replayed over the
recorded decisions to show which would have flipped."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from remit.domain.clock import ts_text, utcnow

DRIFT = "drift: {baseline: 100, false_alarm_one_per: 20000, demote_to: approve}\n"
"""The demo envelope's drift section: a short baseline so the demo stays short."""
BEFORE, AFTER = 150, 150
"""Decisions before the silent model update, and at most how many after it."""


def with_drift(envelope_text: str) -> str:
    return envelope_text.replace("\nrules:", "\n" + DRIFT + "rules:", 1)


def _read(confidence: float, n: int) -> dict[str, Any]:
    return {
        "agent": "remediator",
        "action": "iam:ListRoles",
        "resources": [{"arn": f"arn:aws:iam::111122223333:role/app-{n % 50}", "tags": {}}],
        "reasoning": {
            "summary": f"Inventory sweep {n}",
            "signals": [{"name": "sweep", "value": n}],
            "confidence": confidence,
            "alternatives": [{"action": "skip", "rejected_because": "inventory is due"}],
        },
        "provenance": {
            "model": {"name": "claude-sonnet", "version": "2026-10-01"},  # never changes
            "workflow": {"name": "iam-hygiene", "run": "r-drift", "step": "find-stale"},
        },
    }


def run(
    console: Console, http: Callable[[str], httpx.Client], envelope: Path, started: datetime
) -> list[str]:
    """The assurance loop; what did not behave as the demo expects (empty: all did)."""
    agent, reviewer, admin = http("demo-agent"), http("demo-reviewer"), http("demo-admin")
    rng = random.Random(15)  # noqa: S311  (a reproducible script, not a secret)
    differed: list[str] = []
    console.print(
        "\n[bold]The assurance loop.[/] The remediator sweeps the inventory; one in five of "
        "its reads is unsure (confidence 0.7, high-risk). Then its model is silently updated "
        "— same declared name and version — and most of its reads become unsure."
    )
    shift_at = flagged_after = None
    for n in range(BEFORE + AFTER):
        after = n >= BEFORE
        unsure = rng.random() < (0.8 if after else 0.2)
        r = agent.post("/v1/decisions", json=_read(0.6 if unsure else 0.9, n))
        r.raise_for_status()
        if after and shift_at is None:
            shift_at = int(r.json()["ledger_index"])
        if after and (n - BEFORE) % 10 == 9:
            state = admin.get("/v1/drift", params={"agent": "remediator"}).json()["agents"][0]
            if state["flagged"]:
                flagged_after = state["alarm"]["ledger_index"]
                break
    state = admin.get("/v1/drift", params={"agent": "remediator"}).json()["agents"][0]
    if not state["flagged"]:
        console.print("[red]Drift was not detected.[/]")
        return ["drift: the silent model update was not detected"]
    alarm = state["alarm"]
    found = reviewer.post("/v1/drift/findings").json()
    console.print(
        f"Drift detected for remediator: CUSUM {alarm['statistic']} ≥ threshold "
        f"{alarm['threshold']} on the {alarm['label']} (declared: one false alarm per "
        f"{state['arl0']:,} decisions, all signals; baseline {alarm['p0']:.0%}, window "
        f"opened at ledger #"
        f"{alarm['window']['opened_at_index']}), at ledger #{flagged_after}: "
        f"{(flagged_after or 0) - (shift_at or 0) + 1} decisions after the silent update "
        f"(the design's mean delay for the smallest rise it is tuned to, 10 points: "
        f"{alarm['expected_delay']:.0f}). Finding "
        f"{found[0]['finding_id']} recorded at #{found[0]['ledger_index']}, autonomy demoted "
        f"at #{found[0]['demotion_index']}."
    )
    d = agent.post("/v1/decisions", json=_read(0.9, 9999)).json()
    why = next((x["message"] for x in d["reasons"] if x["code"] == "DRIFT_DEMOTED"), None)
    console.print(f"The same confident read now: [bold]{d['tier'].upper()}[/] — {why}")
    if not (d["tier"] == "approve" and why is not None):
        differed.append(f"drift: the confident read after the finding was {d['tier']}, "
                        "expected approve with a DRIFT_DEMOTED reason")  # fmt: skip

    # The review period closes now; the sample is keyed by a checkpoint signed after it.
    until = utcnow()
    time.sleep(0.01)
    admin.get("/v1/ledger/checkpoint").raise_for_status()
    s = reviewer.post(
        "/v1/reviews/samples",
        json={"since": ts_text(started), "until": ts_text(until), "size": 20},
    )
    s.raise_for_status()
    sample = s.json()
    strata = ", ".join(
        f"{x['tier']}/{x['agent']}: {len(x['decision_ids'])} of {x['population']}"
        for x in sample["strata"]
    )
    console.print(
        f"\nReview sample {sample['sample_id']} recorded at ledger #{sample['ledger_index']}, "
        f"keyed by the checkpoint of size {sample['checkpoint']['size']} signed after the "
        f"period: {strata}."
    )
    first = sample["strata"][0]["decision_ids"][0]
    v = reviewer.post(
        f"/v1/reviews/samples/{sample['sample_id']}/verdicts",
        json={"decision_id": first, "verdict": "appropriate", "comment": "read-only sweep"},
    )
    v.raise_for_status()
    rep = reviewer.get(f"/v1/reviews/samples/{sample['sample_id']}").json()["report"]
    s0 = rep["strata"][0]
    console.print(
        f"Verdict 'appropriate' on {first} recorded at ledger #{v.json()['ledger_index']}: "
        f"{s0['tier']} stratum reviewed {s0['reviewed']} of {s0['sampled']}, error rate "
        f"{s0['error_rate']:.0%}, upper bound {s0['upper_bound']:.0%} at 95%."
    )
    if s0["reviewed"] != 1:
        differed.append(f"review: {s0['reviewed']} verdicts counted, expected 1")

    # What if reads had needed notice all along?
    tight = envelope.read_text().replace("tier: autonomous", "tier: notify", 1)  # R1-read
    w = admin.post("/v1/envelope/whatif", json={"envelope": tight, "since": ts_text(started)})
    w.raise_for_status()
    out = w.json()
    tab = Table(title="What-if: R1-read at tier notify, over this demo's decisions")
    for col in ("old tier", "new tier", "decisions"):
        tab.add_column(col)
    for row in out["by_tiers"]:
        tab.add_row(row["old_tier"], row["new_tier"], str(row["count"]))
    console.print(tab)
    shown = ", ".join(f"#{f['ledger_index']}" for f in out["flips"][:5])
    console.print(
        f"{out['replayed']} decisions replayed, {out['flipped']} would have flipped "
        f"(e.g. ledger {shown}); nothing was written."
    )
    if not out["flipped"]:
        differed.append("what-if: no decision would have flipped")
    return differed
