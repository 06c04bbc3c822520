"""`remit inventory`: the decision inventory (C7) as a table or JSON."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from remit.catalog import default_catalog
from remit.cli.common import FormatOption, OutputFormat, console, print_json
from remit.cli.loading import envelope_or_fail
from remit.envelope.inventory import build_inventory


def inventory(
    envelope: Path = typer.Argument(..., help="Envelope YAML file."),
    format_: OutputFormat = FormatOption,
    as_json: bool = typer.Option(False, "--json", hidden=True, help="Same as --format json."),
) -> None:
    """Per agent: what it may decide, at which tier, under which conditions."""
    loaded = envelope_or_fail(envelope)
    rows = build_inventory(loaded.envelope, default_catalog())
    meta = loaded.envelope.metadata
    if as_json or format_ is OutputFormat.JSON:
        print_json([r.to_dict() for r in rows])
        return
    t = Table(title=f"Decision inventory — {meta.name} v{meta.version}")
    for col in ("agent", "rule", "tier", "actions", "resources", "conditions"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            r.agent,
            r.rule_id,
            r.effective_tier,
            f"{', '.join(r.actions)}\n({r.action_count} IAM actions: {', '.join(r.access_levels)})",
            "\n".join(r.resources),
            "\n".join(r.conditions),
        )
    console.print(t)
