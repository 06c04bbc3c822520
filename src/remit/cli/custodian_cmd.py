"""`remit custodian run POLICY.yml`: a governed Cloud Custodian run. Settings come from
flags, then REMIT_URL / REMIT_API_KEY / REMIT_AGENT. Prints one line per (policy, action,
resource) — a table, or `--format json` on stdout — and exits 0 when everything matched
was acted on, 1 when something was denied, held, skipped or failed, 2 for a bad policy
file or settings (nothing run), 3 when Remit or AWS is unreachable (nothing run before it).

The work is `remit.custodian`; this module only reads options and prints."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import (
    BAD_INPUT,
    UNREACHABLE,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    fail,
    print_json,
)

app = typer.Typer(help="Governed Cloud Custodian: every action is a Remit decision.")

STYLE = {
    "allowed": "green",
    "denied": "red",
    "held": "yellow",
    "skipped": "dim",
    "failed": "bold red",
}


def _provenance(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        text = value if value.lstrip().startswith("{") else Path(value).read_text()
    except OSError as exc:
        fail(f"--provenance: cannot read {value}: {exc}")
    try:
        data = json.loads(text)
    except ValueError as exc:
        fail(f"--provenance: not JSON: {exc}")
    if not isinstance(data, dict):
        fail("--provenance: expected a JSON object")
    return data


def _check_reachable(url: str) -> None:
    try:
        r = httpx.get(f"{url}/readyz", timeout=10)
    except httpx.HTTPError as exc:
        fail(f"cannot reach Remit at {url}: {exc}; nothing was run", UNREACHABLE)
    if r.status_code != 200:
        fail(f"Remit at {url} is not ready ({r.status_code}); nothing was run", UNREACHABLE)


def _print_table(report: Any) -> None:
    table = Table(title="remit custodian run", show_lines=False)
    for col in ("policy", "action", "resource", "status", "decisions", "why"):
        table.add_column(col, overflow="fold")
    for r in report.results:
        why = r.reason + (f" — approve at {r.approval_link}" if r.approval_link else "")
        table.add_row(
            escape(r.policy),
            escape(r.action),
            escape(r.arn),
            f"[{STYLE[r.status]}]{r.status}[/]",
            escape(", ".join(r.decisions)),
            escape(why),
        )
    console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    matched = ", ".join(f"{p}: {n}" for p, n in report.matched.items())
    console.print(f"matched {matched or 'nothing'}; {counts or 'nothing to do'}", highlight=False)


@app.command("run")
def run(
    policy_file: Path = typer.Argument(..., help="A Cloud Custodian policy file (YAML)."),
    remit_url: str | None = typer.Option(None, "--url", help="Remit (or REMIT_URL)."),
    api_key: str | None = typer.Option(None, "--api-key", help="Agent key (or REMIT_API_KEY)."),
    agent: str | None = typer.Option(None, "--agent", help="Envelope agent (or REMIT_AGENT)."),
    wait: float = typer.Option(
        0.0, "--wait", help="Seconds to wait for held batches to be approved (0: skip them)."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Resources per request (default: all of an action's)."
    ),
    region: str = typer.Option("us-east-1", "--region", envvar="AWS_REGION"),
    account: str | None = typer.Option(
        None, "--account", envvar="REMIT_ACCOUNT", help="AWS account id (default: asked of STS)."
    ),
    provenance: str | None = typer.Option(
        None, "--provenance", help="Provenance sent with every request: JSON or a JSON file."
    ),
    confidence: float = typer.Option(
        1.0, "--confidence", help="Confidence sent with every request (0..1)."
    ),
    environment: str | None = typer.Option(None, "--environment", help="e.g. production."),
    envelope: Path | None = typer.Option(
        None,
        "--envelope",
        help="The envelope Remit serves: batches are sized within its blast radius "
        "(a hint only; Remit decides every batch, and splits what it denies for size).",
    ),
    link: str = typer.Option(
        "{remit_url}/v1/decisions/{decision_id}", "--approval-link", help="Approval link template."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Run POLICY.yml under Remit: dry-run, ask, act on what is allowed, report."""
    from remit.custodian.policies import (
        AwsUnreachable,
        C7nMissing,
        PolicyFileError,
        c7n_version,
        dry_run,
        load,
    )
    from remit.custodian.runner import Runner, RunOptions
    from remit.sdk import Client
    from remit.sdk.errors import RemitError, RemitUnavailable
    from remit.sdk.settings import SettingsError, resolve

    if wait < 0:
        fail("--wait must be 0 or more seconds")
    if batch_size is not None and batch_size < 1:
        fail("--batch-size must be at least 1")
    if not 0 <= confidence <= 1:
        fail("--confidence must be between 0 and 1")
    try:
        settings = resolve(remit_url, api_key, agent, require_agent=True)
    except SettingsError as exc:
        fail(str(exc))
    try:
        policies = load(policy_file, region, account)
    except C7nMissing as exc:
        fail(str(exc), UNREACHABLE)
    except PolicyFileError as exc:
        fail(f"bad policy file: {exc}; nothing was run", BAD_INPUT)
    loaded = None
    if envelope is not None:
        from remit.envelope import EnvelopeError, load_envelope

        try:
            loaded = load_envelope(envelope).envelope
        except EnvelopeError as exc:
            fail(f"--envelope: {exc}")
    options = RunOptions(
        batch_size=batch_size,
        wait=wait,
        provenance=_provenance(provenance),
        confidence=confidence,
        region=region,
        link_template=link,
        environment=environment,
        envelope=loaded,
    )
    _check_reachable(settings.url)
    tty = sys.stderr.isatty()

    def progress(message: str) -> None:
        if tty or fmt is OutputFormat.TABLE:
            err_console.print(f"[dim]{escape(message)}[/]", highlight=False)

    try:
        with (
            err_console.status("dry-run: finding resources…", spinner="dots")
            if tty
            else nullcontext()
        ):
            found = dry_run(policies)
    except AwsUnreachable as exc:
        fail(f"AWS unreachable: {exc}; nothing was run", UNREACHABLE)
    client = Client(settings.url, settings.api_key, agent=settings.agent)
    report = None
    try:
        runner = Runner(client, options, progress=progress)
        report = runner.run(found, c7n_version())
    except RemitUnavailable as exc:
        fail(f"Remit became unreachable: {exc}; the run stopped", UNREACHABLE)
    except RemitError as exc:
        fail(f"Remit refused the run: {exc}", BAD_INPUT)
    finally:
        client.close()
    if fmt is OutputFormat.JSON:
        print_json(report.to_dict())
    else:
        _print_table(report)
    raise typer.Exit(report.exit_code())
