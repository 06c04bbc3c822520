"""The governance report as a file: JSON (the document itself), Markdown, HTML (one
self-contained page with inline CSS and SVG charts, no external asset) and PDF (that page
printed by a real browser engine, Chromium, see `remit.report.pdf`). Every text from the
ledger is escaped in HTML and Markdown."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from remit.report.charts import stacked_bars
from remit.report.period import parse_ts_period_days

FORMATS = ("json", "md", "html", "pdf")

_env = Environment(
    loader=PackageLoader("remit.report", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_html(report: dict[str, Any]) -> str:
    days = parse_ts_period_days(report["period"]["since"], report["period"]["until"])
    chart = stacked_bars(days, report["decisions"]["by_day"], lambda day, tier: f"#day-{day}")
    return _env.get_template("report.html").render(r=report, chart=chart)


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell: no HTML, no pipes, no line breaks."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return out.replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def to_markdown(report: dict[str, Any]) -> str:
    r, env, dec = report, report["envelope"], report["decisions"]
    p = r["period"]
    lines = [
        f"# Governance report — {_md(p['name'])}",
        "",
        f"Period {p['since']} to {p['until']} (end excluded). Generated {r['generated_at']}.",
        "",
        "## Envelope health",
        "",
        f"- {_md(env['name'])} v{env['version']}, owner {_md(env['owner'])}; "
        f"authority: {'yes' if env['authority'] else 'NO'} ({_md(env['authority_detail'])})",
        f"- last review {env['last_review']}, next review due {env['next_review_due']}"
        f"{' (OVERDUE)' if env['review_overdue'] else ''}; expires {env['expires_at']}"
        f"{' (before the next review)' if env['expires_before_next_review'] else ''}",
        f"- events pending re-validation: {len(env['pending_revalidation'])}; "
        f"regulation conflicts: {len(env['conflicts'])}",
    ]
    lines += [
        f"- signed by {_md(s['signer'])} ({_md(s['role'])}) at {s['at']}: "
        f"{'valid' if s['valid'] else 'INVALID ' + _md(s['problem'])}"
        for s in env["signoffs"]
    ]
    lines += ["", "## Decisions", "", f"{dec['total']} decisions.", ""]
    lines += ["| tier | decisions |", "|---|---|"]
    lines += [f"| {t} | {dec['by_tier'].get(t, 0)} |" for t in r["tiers"]]
    lines += ["", "| agent | " + " | ".join(r["tiers"]) + " |", "|---" * 5 + "|"]
    lines += [
        f"| {_md(a)} | " + " | ".join(str(c.get(t, 0)) for t in r["tiers"]) + " |"
        for a, c in dec["by_agent"].items()
    ]
    lines += ["", "| rule | decisions |", "|---|---|"]
    lines += [f"| {_md(k)} | {n} |" for k, n in dec["by_rule"].items()]
    stale = r["ran_under_stale_or_unsigned_envelope"]
    lines += ["", "## Actions under a stale or unsigned envelope", "", _md(stale["verdict"])]
    lines += [
        f"- {x['id']} ({_md(x['action'])}): {', '.join(x['codes'])}" for x in stale["decisions"]
    ]
    thin = r["thin_reasoning"]
    lines += ["", "## Thin reasoning", "", f"{thin['count']} decisions ({_md(thin['rule'])})."]
    lines += [f"- {x['id']} {_md(x['agent'])} {_md(x['action'])}: missing {', '.join(x['missing'])}"
              for x in thin["decisions"]]  # fmt: skip
    a = r["approvals"]
    lines += [
        "", "## Approvals", "",
        f"- resolved {a['resolved']}: approved {a['approved']}, rejected {a['rejected']}, "
        f"expired {a['expired']}; pending now {a['pending_now']}",
        f"- median time to decide: {_secs(a['median_seconds_to_decide'])}; approved in under "
        f"10 seconds: {len(a['approved_under_10_seconds'])}",
        f"- self-approval attempts refused: {a['self_approval_attempts_refused']}",
    ]  # fmt: skip
    lines += [f"- {_md(who)}: {c}" for who, c in a["by_approver"].items()]
    f, rb, dn = r["fallbacks"], r["rollbacks"], r["denials"]
    lines += ["", "## Fallbacks", "", f"asked {f['asked']}, granted {f['granted']}."]
    ran_by = rb["actions_that_ran_by_rollback"]
    lines += ["", "## Rollbacks", "", f"actions that ran, by rollback: {ran_by}; "
              f"executed: {rb['rollbacks_executed']}."]  # fmt: skip
    lines += ["", "## Denials", "", f"{dn['count']} denials. Top reasons:"]
    lines += [f"- {_md(k)}: {n}" for k, n in dn["top_reasons"].items()]
    never = r["rules_never_matched"]
    lines += ["", "## Rules that never matched", "", ", ".join(map(_md, never)) or "none"]
    led = r["ledger"]
    cp = led["last_checkpoint"]
    lines += [
        "", "## Ledger integrity", "",
        f"{led['size']} entries; last signed checkpoint "
        + (f"size {cp['size']} at {cp['at']}" if cp else "none")
        + f"; verification: {led['verification']['status']}.",
        "", f"Reconciliation: {r['reconciliation']}. Reviews: {r['reviews']}.", "",
    ]  # fmt: skip
    return "\n".join(lines)


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"
